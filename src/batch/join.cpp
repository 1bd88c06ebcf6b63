#include "hpai/batch/join.hpp"

#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <thread>
#include <vector>

#include "hpai/base/error.hpp"
#include "hpai/base/fd_passing.hpp"
#include "hpai/base/log.hpp"

namespace hpai {

namespace {

using Clock = std::chrono::steady_clock;

constexpr char kHello = 'H';    // a joining rank's key (JoinSettings::key)
constexpr char kFacts = 'F';    // facts, with the user namespace, mount namespace and root fds
constexpr char kRefused = 'E';  // an error message for the joining rank
constexpr std::size_t kMaxMessage = 4 << 20;

struct Address {
  sockaddr_un addr{};
  socklen_t len = 0;
};

Address abstract_address(const std::string& name) {
  Address a;
  a.addr.sun_family = AF_UNIX;
  if (name.size() + 1 > sizeof(a.addr.sun_path)) throw Error("internal error: join socket name too long: " + name);
  a.addr.sun_path[0] = '\0';  // abstract: no file anywhere
  std::memcpy(a.addr.sun_path + 1, name.data(), name.size());
  a.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  return a;
}

UniqueFd new_socket() {
  UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) throw_errno("join: can't create a Unix socket");
  return fd;
}

ucred peer_of(int fd) {
  ucred c{};
  socklen_t len = sizeof c;
  check(getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len), "join: can't read the peer's credentials");
  return c;
}

void set_receive_timeout(int fd, std::chrono::milliseconds ms) {
  if (ms.count() < 1) ms = std::chrono::milliseconds(1);
  timeval tv{static_cast<time_t>(ms.count() / 1000), static_cast<suseconds_t>(ms.count() % 1000 * 1000)};
  check(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), "join: setsockopt SO_RCVTIMEO");
}

// One message: a kind byte, text, and optionally file descriptors.
bool send_message(int fd, char kind, const std::string& text, const std::vector<int>& fds = {}) {
  return send_with_fds(fd, kind + text, fds);
}

struct Message {
  char kind = 0;
  std::string text;
  std::vector<UniqueFd> fds;
};

enum class Received { Message, Closed, TimedOut };

Received receive_message(int fd, Message& m) {
  // Uninitialised: the facts are a few kB, and touching 4 MiB per rank costs a millisecond.
  std::unique_ptr<char[]> buf(new char[kMaxMessage]);
  ReceivedFds r = receive_with_fds(fd, buf.get(), kMaxMessage, 8);
  if (r.bytes < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return Received::TimedOut;
  if (r.bytes < 0 && errno == ECONNRESET) return Received::Closed;
  if (r.bytes < 0) throw_errno("join: can't receive from the node's first rank");
  m.fds = std::move(r.fds);
  if (r.bytes == 0) return Received::Closed;
  if (r.truncated) throw Error("join: message from the node's first rank was truncated");
  m.kind = buf[0];
  m.text.assign(buf.get() + 1, static_cast<std::size_t>(r.bytes) - 1);
  return Received::Message;
}

std::string seconds(std::chrono::milliseconds ms) {
  return std::to_string(ms.count() / 1000) + (ms.count() % 1000 ? "." + std::to_string(ms.count() % 1000 / 100) : "") +
         " s";
}

// The keeper: holds the namespaces and hands them out, then goes. It never execs and
// keeps no descriptor of the launcher's but stderr, so srun and mpiexec see the rank's
// output end when the rank's does.
[[noreturn]] void keep(int listener, int userns, int mntns, int root, int winner, int launcher, const JoinSettings& s,
                       const std::string& facts) {
  int joined = 1;  // the first rank
  bool winner_gone = false;
  std::vector<UniqueFd> members;  // pidfds of the ranks that joined
  // Nobody runs in the container any more: a rank wanting another one may have the name.
  auto idle = [&]() {
    if (!winner_gone) return false;
    for (const auto& m : members) {
      pollfd p{m.get(), POLLIN, 0};
      if (poll(&p, 1, 0) == 0) return false;  // still running
    }
    return true;
  };
  const auto deadline = Clock::now() + s.timeout;
  const uid_t uid = geteuid();
  for (;;) {
    if (joined >= s.peers && winner_gone) _exit(0);
    int timeout = -1;
    if (joined < s.peers) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
      if (left <= 0) {
        std::fprintf(stderr,
                     "hpai-run: warning: join: only %d of %d ranks expected on this node (from %s) joined within %s; "
                     "the count is wrong or a rank failed before joining. Late ranks will build their own container.\n",
                     joined, s.peers, s.peers_from.c_str(), seconds(s.timeout).c_str());
        _exit(1);
      }
      timeout = static_cast<int>(left);
    }
    // The launcher (mpiexec, orted, slurmstepd) gone means the job is torn down: no
    // rank comes any more, and the keeper must not outlive it (Slurm's linuxproc
    // tracking can't reap a process reparented to init).
    pollfd fds[3] = {{listener, POLLIN, 0}, {launcher, POLLIN, 0}, {winner_gone ? -1 : winner, POLLIN, 0}};
    int n = poll(fds, 3, timeout);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) _exit(2);
    if (fds[1].revents & (POLLIN | POLLHUP)) _exit(0);
    if (!winner_gone && (fds[2].revents & (POLLIN | POLLHUP))) winner_gone = true;
    if (!(fds[0].revents & POLLIN)) continue;
    UniqueFd conn(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
    if (!conn) continue;
    ucred who = peer_of(conn.get());
    if (who.uid != uid) {  // abstract sockets have no permissions: check who asks
      send_message(conn.get(), kRefused, "the join socket belongs to another user");
      continue;
    }
    // The rank says what it wants first; one that disagrees is refused, uncounted.
    set_receive_timeout(conn.get(), std::chrono::milliseconds(5000));
    Message hello;
    if (receive_message(conn.get(), hello) != Received::Message || hello.kind != kHello) continue;
    if (hello.text != s.key) {
      // A container left behind by an earlier group (its ranks gone, its count never
      // reached) must not keep a new group out until the timeout: step aside, and the
      // rank elects itself (it sees the connection close).
      if (idle()) _exit(0);
      send_message(conn.get(), kRefused,
                   "this rank's options differ from those the node's container was built with\n  node: " + s.key +
                       "\n  rank: " + hello.text +
                       "\nranks that share a node must run the same image with the same binds and the same --join-ct; "
                       "give each job step its own --join-tag, or --no-join");
      continue;
    }
    if (joined >= s.peers) {
      send_message(
          conn.get(), kRefused,
          "this node's container already has all " + std::to_string(s.peers) + " ranks expected (from " + s.peers_from +
              "); this rank is one too many. Is the count wrong? Give --join-ct, or a --join-tag per job step");
      continue;
    }
    if (send_message(conn.get(), kFacts, facts, {userns, mntns, root})) {
      ++joined;
      members.emplace_back(static_cast<int>(syscall(SYS_pidfd_open, who.pid, 0)));
    }
  }
}

// The uid holding the abstract socket NAME, from the kernel's socket diagnostics
// (sock_diag, Linux >= 5.3): the only way to learn who bound a name that accepts no
// connection. nullopt when the kernel doesn't say.
std::optional<uid_t> abstract_socket_owner(const std::string& name) {
  UniqueFd nl(socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!nl) return std::nullopt;
  struct {
    nlmsghdr nlh;
    unix_diag_req req;
  } msg{};
  msg.nlh.nlmsg_len = sizeof msg;
  msg.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  msg.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  msg.req.sdiag_family = AF_UNIX;
  msg.req.udiag_states = ~0u;
  msg.req.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_UID;
  if (send(nl.get(), &msg, sizeof msg, 0) != static_cast<ssize_t>(sizeof msg)) return std::nullopt;
  const std::string want = std::string(1, '\0') + name;
  std::vector<char> buf(1 << 16);
  for (;;) {
    ssize_t n = recv(nl.get(), buf.data(), buf.size(), 0);
    if (n <= 0) return std::nullopt;
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); NLMSG_OK(h, static_cast<unsigned>(n));
         h = NLMSG_NEXT(h, n)) {
      if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) return std::nullopt;
      auto* d = static_cast<unix_diag_msg*>(NLMSG_DATA(h));
      int len = static_cast<int>(h->nlmsg_len - NLMSG_LENGTH(sizeof *d));
      std::optional<std::string> got;
      std::optional<uid_t> uid;
      for (auto* a = reinterpret_cast<rtattr*>(d + 1); RTA_OK(a, len); a = RTA_NEXT(a, len)) {
        if (a->rta_type == UNIX_DIAG_NAME) got.emplace(static_cast<const char*>(RTA_DATA(a)), RTA_PAYLOAD(a));
        if (a->rta_type == UNIX_DIAG_UID && RTA_PAYLOAD(a) >= sizeof(uid_t)) {
          uid_t u;
          std::memcpy(&u, RTA_DATA(a), sizeof u);
          uid = u;
        }
      }
      if (got == want) return uid;
    }
  }
}

void ignore_job_control_signals() {
  for (int sig : {SIGINT, SIGHUP, SIGUSR1, SIGUSR2, SIGPIPE, SIGQUIT}) signal(sig, SIG_IGN);
}

}  // namespace

std::string join_socket_name(uid_t uid, const std::string& tag) {
  // Long tags are hashed (an abstract name has at most 107 bytes) with FNV-1a, not
  // sha256: libcrypto would cost every launch ~2 M instructions of relocations.
  if (tag.size() <= 64) return "hpai-join/" + std::to_string(uid) + "/" + tag;
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : tag) h = (h ^ c) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof hex, "%016llx", static_cast<unsigned long long>(h));
  return "hpai-join/" + std::to_string(uid) + "/" + tag.substr(0, 40) + "#" + hex;
}

void JoinLeader::serve(const std::string& facts, pid_t launcher_pid) {
  UniqueFd userns(open("/proc/self/ns/user", O_RDONLY | O_CLOEXEC));
  if (!userns) throw_errno("join: can't open /proc/self/ns/user");
  UniqueFd mntns(open("/proc/self/ns/mnt", O_RDONLY | O_CLOEXEC));
  if (!mntns) throw_errno("join: can't open /proc/self/ns/mnt");
  UniqueFd root(open("/", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!root) throw_errno("join: can't open the container's /");
  UniqueFd winner(static_cast<int>(syscall(SYS_pidfd_open, getpid(), 0)));
  if (!winner) throw_errno("join: pidfd_open");
  UniqueFd launcher;  // an fd poll() ignores when there is none to watch
  if (launcher_pid > 1) {
    launcher.reset(static_cast<int>(syscall(SYS_pidfd_open, launcher_pid, 0)));
    if (!launcher && errno == ESRCH)
      throw Error("the launcher (pid " + std::to_string(launcher_pid) +
                      ") exited while this rank was starting: not keeping a "
                      "container that nothing would end with the job",
                  kExitLauncherGone);
    if (!launcher) throw_errno("join: pidfd_open of the launcher (pid " + std::to_string(launcher_pid) + ")");
  }
  UniqueFd devnull(open("/dev/null", O_RDWR | O_CLOEXEC));
  if (!devnull) throw_errno("join: can't open /dev/null");
  std::fflush(nullptr);

  pid_t child = fork();
  if (child < 0) throw_errno("join: can't fork the namespace keeper");
  if (child == 0) {
    // Fork again so that the keeper is no child of the payload (a payload calling
    // wait() must not reap it) and is reparented to the launcher's reaper.
    pid_t keeper = fork();
    if (keeper != 0) _exit(keeper < 0 ? 1 : 0);
    prctl(PR_SET_NAME, "hpai-keeper");
    ignore_job_control_signals();
    // Fixed descriptors 3-8 and nothing else open: no PMI socket or launcher pipe is
    // held past the payload's life. Park ours above 1000, clear 3-999, bring them down.
    const int want[] = {listener_.get(), userns.get(), mntns.get(),
                        root.get(),      winner.get(), launcher ? launcher.get() : devnull.get()};
    int parked[6];
    for (int i = 0; i < 6; ++i)
      if ((parked[i] = fcntl(want[i], F_DUPFD_CLOEXEC, 1000)) < 0) _exit(3);
    if (dup2(devnull.get(), 0) < 0 || dup2(devnull.get(), 1) < 0) _exit(3);
    if (!settings_.keeper_stderr && dup2(devnull.get(), 2) < 0) _exit(3);
    if (syscall(SYS_close_range, 3, 999, 0) != 0) _exit(3);
    for (int i = 0; i < 6; ++i)
      if (dup2(parked[i], 3 + i) < 0) _exit(3);
    if (syscall(SYS_close_range, 9, ~0U, 0) != 0) _exit(3);
    keep(3, 4, 5, 6, 7, launcher ? 8 : -1, settings_, facts);
  }
  int status = 0;
  while (waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw Error("join: can't start the namespace keeper");
  listener_.reset();  // the keeper has it; the payload must not
}

JoinOutcome join_node(const JoinSettings& s) {
  JoinOutcome out;
  JoinTicket& ticket = out.ticket;
  const std::string name = join_socket_name(getuid(), s.tag);
  const Address a = abstract_address(name);
  const auto start = Clock::now();
  const auto deadline = start + s.timeout;
  int elections = 0;
  Clock::time_point refused_since{};  // since when the name is bound, but nobody accepts
  bool refused = false;
  for (;;) {
    UniqueFd sock = new_socket();
    if (bind(sock.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len) == 0) {
      check(listen(sock.get(), SOMAXCONN), "join: listen");
      spdlog::info("join: first rank on this node for tag {}: building the container ({} ranks expected, from {})",
                   s.tag, s.peers, s.peers_from);
      out.leader.emplace(std::move(sock), s);
      return out;
    }
    if (errno != EADDRINUSE) throw_errno("join: can't bind the node's join socket @" + name);
    sock = new_socket();
    if (connect(sock.get(), reinterpret_cast<const sockaddr*>(&a.addr), a.len) != 0) {
      // The name's holder is between bind and listen (microseconds), or just went away:
      // try again. Refused for a whole second, the name is held by something that never
      // listens: someone squatting it. Say who, and don't wait for the timeout.
      if (errno != ECONNREFUSED && errno != ENOENT && errno != EAGAIN) throw_errno("join: can't connect to @" + name);
      if (!refused) refused_since = Clock::now();
      refused = true;
      if (Clock::now() - refused_since > std::chrono::seconds(1)) {
        auto owner = abstract_socket_owner(name);
        if (owner != getuid())
          throw JoinUnavailable("join: the node's join socket @" + name + " is bound by " +
                                (owner ? "uid " + std::to_string(*owner) : std::string("another process")) +
                                " but accepts no connection (another user holds this job's join name)");
      }
    } else {
      refused = false;
      const ucred keeper = peer_of(sock.get());
      if (keeper.uid != getuid())
        throw JoinUnavailable("join: the node's join socket @" + name + " is held by uid " +
                              std::to_string(keeper.uid) + " (pid " + std::to_string(keeper.pid) +
                              "), not by you (another user holds this job's join name)");
      Message m;
      Received got = Received::Closed;  // a first rank gone before it read this one's key: elect again
      if (send_message(sock.get(), kHello, s.key)) {
        set_receive_timeout(sock.get(), std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
        got = receive_message(sock.get(), m);
      }
      switch (got) {
        case Received::Message:
          if (m.kind == kRefused) throw Error("join: " + m.text);
          if (m.kind != kFacts || m.fds.size() != 3) throw Error("join: unexpected message from the node's first rank");
          ticket.userns = std::move(m.fds[0]);
          ticket.mntns = std::move(m.fds[1]);
          ticket.root = std::move(m.fds[2]);
          ticket.facts = std::move(m.text);
          ticket.keeper = keeper.pid;
          spdlog::info("join: entering the container of tag {} built by pid {} ({} ranks, from {})", s.tag, keeper.pid,
                       s.peers, s.peers_from);
          return out;
        case Received::TimedOut:
          throw Error("join: waited " + seconds(s.timeout) + " for the first rank on this node (pid " +
                      std::to_string(keeper.pid) + ") to build the container for tag " + s.tag +
                      "; it is stuck or slow (raise HPAI_JOIN_TIMEOUT)");
        case Received::Closed:
          // The first rank died before serving: elect again.
          spdlog::info("join: the first rank on this node (pid {}) failed before sharing its container; electing again",
                       keeper.pid);
          ++elections;
          break;
      }
    }
    if (Clock::now() >= deadline)
      throw Error("join: no container for tag " + s.tag + " after " + seconds(s.timeout) + " (" +
                  std::to_string(elections) + " first rank(s) failed)");
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

JoinTicket ticket_from_pid(pid_t pid) {
  const std::string proc = "/proc/" + std::to_string(pid);
  struct stat st {};
  if (stat(proc.c_str(), &st) != 0) throw_errno("--join-pid " + std::to_string(pid) + ": no such process");
  if (st.st_uid != getuid())
    throw Error("--join-pid " + std::to_string(pid) + ": the process belongs to uid " + std::to_string(st.st_uid) +
                ", not you");
  JoinTicket t;
  t.userns.reset(open((proc + "/ns/user").c_str(), O_RDONLY | O_CLOEXEC));
  t.mntns.reset(open((proc + "/ns/mnt").c_str(), O_RDONLY | O_CLOEXEC));
  t.root.reset(open((proc + "/root").c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (!t.userns || !t.mntns || !t.root)
    throw_errno("--join-pid " + std::to_string(pid) + ": can't open its namespaces");
  t.keeper = pid;
  return t;
}

}  // namespace hpai
