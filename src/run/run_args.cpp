#include "hpai/run/run_args.hpp"

#include <charconv>
#include <cstring>

#include "hpai/base/error.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

namespace {

enum class Arg { None, Required, Optional };
using Value = std::optional<std::string>;

struct OptionSpec {
  const char* name;  // long name, without "--"
  char letter;       // short name, 0 for none
  Arg arg;
  const char* value_name;  // for --help
  const char* help;        // nullptr: not shown (aliases, ch-run's deprecated flags)
  void (*apply)(RunCommandLine&, const Value&);
};

[[noreturn]] void usage_error(const std::string& message) { throw Error(message, kExitUsage); }

// "--cd=" (a script's --cd=$DIR with DIR empty) is an empty value, never the next word;
// where empty means nothing, it is an error that says so.
const std::string& nonempty(const Value& v, const char* option) {
  if (!v || v->empty()) usage_error(std::string("--") + option + ": the value must not be empty");
  return *v;
}

long long parse_number(const Value& v, const char* option, long long min, long long max) {
  const std::string& s = nonempty(v, option);
  long long n = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), n);
  if (ec != std::errc() || end != s.data() + s.size() || n < min || n > max)
    usage_error(std::string("--") + option + ": \"" + s + "\" is not a number from " + std::to_string(min) + " to " +
                std::to_string(max));
  return n;
}

void add_env_op(RunCommandLine& c, EnvOp::Kind kind, std::string arg) {
  c.options.env_ops.push_back({kind, std::move(arg), true});
}

void apply_gpu(RunCommandLine& c, const Value&) {
  if (c.options.gpu == false) usage_error("--gpu and --no-gpu can't be combined");
  c.options.gpu = true;
}

// The table, in --help order. ch-run 0.31's flags keep their meaning; those hpai has no
// use for are accepted as ch-run accepts them, or refused saying what to use instead.
const OptionSpec kOptions[] = {
    {"storage", 's', Arg::Required, "DIR", "image storage directory (default: $HPAI_STORAGE, else /var/tmp/$USER.hpai)",
     [](RunCommandLine& c, const Value& v) { c.options.storage = nonempty(v, "storage"); }},
    {"pull", 0, Arg::None, nullptr,
     "fetch IMAGE (a registry reference) with hpai-image pull when storage lacks it; never implicit",
     [](RunCommandLine& c, const Value&) { c.options.pull = true; }},
    {"bind", 'b', Arg::Required, "SRC[:DST]", "bind host SRC at DST in the container (default DST: SRC); repeatable",
     [](RunCommandLine& c, const Value& v) { c.options.binds.push_back(parse_bind_spec(nonempty(v, "bind"))); }},
    {"cd", 'c', Arg::Required, "DIR", "initial working directory (default: the image's WorkingDir, else /)",
     [](RunCommandLine& c, const Value& v) { c.options.cd = nonempty(v, "cd"); }},
    {"write", 'w', Arg::None, nullptr, "mount the image read-write (default: read-only)",
     [](RunCommandLine& c, const Value&) { c.options.write = true; }},
    {"write-fake", 'W', Arg::Optional, "SIZE",
     "writable tmpfs overlay over the image, discarded at exit (SIZE as for tmpfs, default 12%)",
     [](RunCommandLine& c, const Value& v) {
       c.options.write_fake = v ? nonempty(v, "write-fake") : kDefaultOverlaySize;
     }},
    {"private-tmp", 't', Arg::None, nullptr, "private tmpfs at /tmp instead of the host's $TMPDIR",
     [](RunCommandLine& c, const Value&) { c.options.private_tmp = true; }},
    {"home", 0, Arg::None, nullptr, "bind your host $HOME at /home/$USER and set HOME to it",
     [](RunCommandLine& c, const Value&) { c.options.home = true; }},
    {"no-home", 0, Arg::None, nullptr, nullptr,
     [](RunCommandLine& c, const Value&) {
       c.warnings.push_back("--no-home is the default (ch-run 0.31 deprecated it); ignoring it");
     }},
    {"no-passwd", 0, Arg::None, nullptr, "don't generate /etc/passwd and /etc/group",
     [](RunCommandLine& c, const Value&) { c.options.no_passwd = true; }},
    {"no-image-env", 0, Arg::None, nullptr, "don't apply the image's ENV and WorkingDir",
     [](RunCommandLine& c, const Value&) { c.options.no_image_env = true; }},
    {"set-env", 0, Arg::Optional, "FILE|VAR=VAL",
     "set variables from a host FILE of NAME=VALUE lines, or one; bare: the image's ENV",
     [](RunCommandLine& c, const Value& v) {
       if (!v) return add_env_op(c, EnvOp::Kind::ImageEnv, "");
       const std::string& s = nonempty(v, "set-env");
       add_env_op(c, s.find('=') != std::string::npos ? EnvOp::Kind::Assign : EnvOp::Kind::File, s);
     }},
    {"unset-env", 0, Arg::Required, "GLOB", "unset the variables whose names match GLOB",
     [](RunCommandLine& c, const Value& v) { add_env_op(c, EnvOp::Kind::Unset, nonempty(v, "unset-env")); }},
    {"env-no-expand", 0, Arg::None, nullptr,
     "don't expand $VAR in any --set-env value (wherever it is given, as in ch-run)",
     [](RunCommandLine& c, const Value&) { c.env_no_expand = true; }},
    {"uid", 'u', Arg::Required, "UID", "run as UID in the container (through the user namespace map)",
     [](RunCommandLine& c, const Value& v) {
       c.options.uid = static_cast<uid_t>(parse_number(v, "uid", 0, 0xfffffffe));
     }},
    {"gid", 'g', Arg::Required, "GID", "run as GID in the container",
     [](RunCommandLine& c, const Value& v) {
       c.options.gid = static_cast<gid_t>(parse_number(v, "gid", 0, 0xfffffffe));
     }},
    {"profile", 0, Arg::Required, "NAME|FILE", "site profile (default: the site's default.json, if any)",
     [](RunCommandLine& c, const Value& v) { c.options.profile = nonempty(v, "profile"); }},
    {"no-profile", 0, Arg::None, nullptr, "apply no site profile, not even the site default",
     [](RunCommandLine& c, const Value&) { c.options.no_profile = true; }},
    {"gpu", 0, Arg::None, nullptr, "inject the host's NVIDIA driver (error if none is found); --nv is the same",
     apply_gpu},
    {"nv", 0, Arg::None, nullptr, nullptr, apply_gpu},
    {"no-gpu", 0, Arg::None, nullptr, "don't inject the NVIDIA driver, whatever the profile says",
     [](RunCommandLine& c, const Value&) {
       if (c.options.gpu == true) usage_error("--gpu and --no-gpu can't be combined");
       c.options.gpu = false;
     }},
    {"no-mpi", 0, Arg::None, nullptr, "don't replace the image's MPI with the profile's host MPI",
     [](RunCommandLine& c, const Value&) { c.options.no_mpi = true; }},
    {"no-cuda-compat", 0, Arg::None, nullptr,
     "never load the image's CUDA forward-compatibility libcuda (/usr/local/cuda*/compat) instead of the host's",
     [](RunCommandLine& c, const Value&) { c.options.no_cuda_compat = true; }},
    {"join", 'j', Arg::None, nullptr, "share one container among this node's ranks (default: when a launcher says so)",
     [](RunCommandLine& c, const Value&) {
       if (c.join.join == false) usage_error("--join and --no-join can't be combined");
       c.join.join = true;
     }},
    {"join-ct", 0, Arg::Required, "N", "ranks on this node sharing the container (implies -j)",
     [](RunCommandLine& c, const Value& v) {
       c.join.count = static_cast<int>(parse_number(v, "join-ct", 1, 1 << 20));
     }},
    {"join-tag", 0, Arg::Required, "TAG", "ranks with the same TAG share (default: the job step's id; implies -j)",
     [](RunCommandLine& c, const Value& v) { c.join.tag = nonempty(v, "join-tag"); }},
    {"join-pid", 0, Arg::Required, "PID", "enter the container of process PID instead of building one",
     [](RunCommandLine& c, const Value& v) {
       c.join.pid = static_cast<pid_t>(parse_number(v, "join-pid", 1, 1 << 30));
     }},
    {"no-join", 0, Arg::None, nullptr, "never share: this rank builds its own container",
     [](RunCommandLine& c, const Value&) {
       if (c.join.join == true) usage_error("--join and --no-join can't be combined");
       c.join.join = false;
     }},
    {"torch-env", 0, Arg::None, nullptr, "set MASTER_ADDR, MASTER_PORT, WORLD_SIZE, RANK, LOCAL_RANK from the launcher",
     [](RunCommandLine& c, const Value&) {
       if (c.options.torch_env == false) usage_error("--torch-env and --no-torch-env can't be combined");
       c.options.torch_env = true;
     }},
    {"no-torch-env", 0, Arg::None, nullptr, "don't, even if the site profile does",
     [](RunCommandLine& c, const Value&) {
       if (c.options.torch_env == true) usage_error("--torch-env and --no-torch-env can't be combined");
       c.options.torch_env = false;
     }},
    {"gpu-per-rank", 0, Arg::None, nullptr,
     "give each rank on a node its share of the host's GPUs (CUDA_VISIBLE_DEVICES)",
     [](RunCommandLine& c, const Value&) { c.options.gpu_per_rank = true; }},
    {"stats", 0, Arg::Optional, "FILE",
     "report wall time, CPU, max RSS, exit status (and GPU use): a line on stderr, or JSON to FILE (%r rank, %h host)",
     [](RunCommandLine& c, const Value& v) { c.options.stats = v ? nonempty(v, "stats") : "-"; }},
    {"entrypoint-args", 0, Arg::None, nullptr,
     "docker run's rule: the words after IMAGE are arguments to its Entrypoint, in place of its Cmd",
     [](RunCommandLine& c, const Value&) { c.options.entrypoint_args = true; }},
    {"dry-run", 0, Arg::None, nullptr, "print the plan (namespaces, mounts, environment) and exit",
     [](RunCommandLine& c, const Value&) { c.dry_run = true; }},
    {"json", 0, Arg::None, nullptr, "with --dry-run, print the plan as JSON",
     [](RunCommandLine& c, const Value&) { c.json = true; }},
    {"feature", 0, Arg::Required, "NAME",
     "exit 0 if this hpai has feature NAME, else 1 (as ch-run; --feature=list lists them)",
     [](RunCommandLine& c, const Value& v) { c.feature = nonempty(v, "feature"); }},
    {"mount", 'm', Arg::Required, "DIR", nullptr,
     [](RunCommandLine& c, const Value& v) {
       nonempty(v, "mount");
       c.notes.push_back("--mount " + *v +
                         ": not needed: hpai mounts a SquashFS image in its own private staging area");
     }},
    {"ch-ssh", 0, Arg::None, nullptr, nullptr,
     [](RunCommandLine&, const Value&) {
       usage_error("--ch-ssh: hpai has no ch-ssh; use the image's ssh, or bind one with -b");
     }},
    {"unsafe", 0, Arg::None, nullptr, nullptr,
     [](RunCommandLine&, const Value&) {
       usage_error("--unsafe is ch-run's internal option; hpai has nothing like it");
     }},
    {"verbose", 'v', Arg::None, nullptr, "more messages (repeat for more)",
     [](RunCommandLine& c, const Value&) { ++c.verbosity; }},
    {"quiet", 'q', Arg::None, nullptr, "fewer messages (-q errors only, -qq none)",
     [](RunCommandLine& c, const Value&) { --c.verbosity; }},
    {"version", 'V', Arg::None, nullptr, "print the version and exit",
     [](RunCommandLine& c, const Value&) { c.version = true; }},
    {"help", 'h', Arg::None, nullptr, "print this help and exit",
     [](RunCommandLine& c, const Value&) { c.help = true; }},
};

const OptionSpec* by_letter(char letter) {
  for (const auto& o : kOptions)
    if (o.letter == letter) return &o;
  return nullptr;
}

// An exact name, else a unique prefix of one (as getopt_long allows).
const OptionSpec* by_name(const std::string& name) {
  const OptionSpec* prefix = nullptr;
  int matches = 0;
  std::string candidates;
  for (const auto& o : kOptions) {
    if (name == o.name) return &o;
    if (!name.empty() && o.help && std::strncmp(o.name, name.c_str(), name.size()) == 0) {
      candidates += std::string(candidates.empty() ? "" : ", ") + "--" + o.name;
      prefix = &o;
      ++matches;
    }
  }
  if (matches > 1) usage_error("option --" + name + " is ambiguous (" + candidates + ")");
  if (prefix) return prefix;
  std::vector<std::string> names;
  for (const auto& o : kOptions)
    if (o.help) names.emplace_back(o.name);
  std::string guess = closest_match(name, names);
  usage_error("unknown option --" + name + (guess.empty() ? "" : "; did you mean --" + guess + "?") +
              " (hpai-run --help lists them; put the command after --)");
}

}  // namespace

RunCommandLine parse_run_args(const std::vector<std::string>& args) {
  RunCommandLine c;
  bool have_image = false;
  std::size_t i = 0;
  auto take_command = [&](std::size_t from) {
    c.options.command.assign(args.begin() + static_cast<std::ptrdiff_t>(from), args.end());
    i = args.size();
  };
  while (i < args.size()) {
    const std::string& a = args[i++];
    if (a == "--") {
      // The end of hpai's options: IMAGE (unless given), then the command, untouched.
      if (!have_image) {
        if (i == args.size()) break;
        c.options.image = args[i++];
        have_image = true;
      }
      take_command(i);
      break;
    }
    if (a.size() > 2 && a.starts_with("--")) {
      const auto eq = a.find('=');
      const OptionSpec* o = by_name(a.substr(2, eq == std::string::npos ? std::string::npos : eq - 2));
      Value v;
      if (eq != std::string::npos) {
        if (o->arg == Arg::None) usage_error(std::string("option --") + o->name + " takes no value (" + a + ")");
        v = a.substr(eq + 1);
      } else if (o->arg == Arg::Required) {
        if (i == args.size()) usage_error(std::string("option --") + o->name + " needs a value");
        v = args[i++];
      }
      o->apply(c, v);
      continue;
    }
    if (a.size() > 1 && a.front() == '-') {  // one or more short options: -wt, -b/x, -b /x, -vvv
      for (std::size_t k = 1; k < a.size(); ++k) {
        const OptionSpec* o = by_letter(a[k]);
        if (!o)
          usage_error(std::string("unknown option -") + a[k] + " in " + a +
                      " (hpai-run --help lists them; put the command after --)");
        Value v;
        if (o->arg != Arg::None && k + 1 < a.size()) {
          v = a.substr(k + 1);
          k = a.size();
        } else if (o->arg == Arg::Required) {
          if (i == args.size()) usage_error(std::string("option -") + o->letter + " needs a value");
          v = args[i++];
        }
        o->apply(c, v);
      }
      continue;
    }
    if (!have_image) {
      c.options.image = a;
      have_image = true;
      continue;
    }
    take_command(i - 1);  // the command's first word: nothing from here is hpai's
  }
  if (c.env_no_expand)
    for (auto& op : c.options.env_ops) op.expand = false;
  if (c.help || c.version || c.feature) return c;
  if (!have_image || c.options.image.empty())
    usage_error("no IMAGE given; usage: hpai-run [OPTIONS] IMAGE [--] [CMD [ARG...]]");
  return c;
}

std::string run_usage() {
  std::string out =
      "Usage: hpai-run [OPTIONS] IMAGE [--] [CMD [ARG...]]\n\n"
      "Runs CMD (default: the image's Entrypoint and Cmd) inside IMAGE in new user and mount\n"
      "namespaces, without privilege. IMAGE is the name of an image in storage, else a\n"
      "directory or a SquashFS file. hpai-run replaces itself with CMD: signals reach CMD\n"
      "and CMD's exit status is returned. Flags follow Charliecloud's ch-run. Everything\n"
      "from CMD on is passed to CMD unchanged; options may follow IMAGE until -- or CMD.\n\n"
      "OPTIONS\n";
  for (const auto& o : kOptions) {
    if (!o.help) continue;
    std::string left = "  ";
    left += o.letter ? std::string("-") + o.letter + ", " : "    ";
    left += std::string("--") + o.name;
    if (o.arg == Arg::Required) left += std::string("=") + o.value_name;
    if (o.arg == Arg::Optional) left += std::string("[=") + o.value_name + "]";
    out += left + std::string(left.size() < 34 ? 34 - left.size() : 1, ' ') + o.help + "\n";
  }
  out +=
      "\nThe image is read-only unless -w or -W is given. By default the container sees the\n"
      "host's /dev, /proc, /sys, /etc/hosts, /etc/resolv.conf, /etc/machine-id, its $TMPDIR\n"
      "(or /tmp) at /tmp, and generated /etc/passwd and /etc/group naming root, nobody and you.\n\n"
      "ENVIRONMENT\n"
      "  The host's passes through; the image's ENV is applied on top, except for launcher\n"
      "  and GPU variables the host set; TMPDIR is unset; HOME stays the host's (with --home:\n"
      "  /home/$USER); /bin is appended to PATH; --set-env and --unset-env apply in order;\n"
      "  HPAI_RUNNING and CH_RUNNING are set.\n\n"
      "EXIT STATUS\n"
      "  CMD's own; 128+N if CMD was killed by signal N; 31 the container could not be set\n"
      "  up; 49 CMD could not be executed; 64 bad command line; 137 a rank's launcher was\n"
      "  gone before the rank started.\n\n"
      "EXAMPLES\n"
      "  hpai-run ./debian -- cat /etc/debian_version\n"
      "  hpai-run -b /lrz/sys -w ./img -- python train.py\n"
      "  srun -n 64 hpai-run -b /scratch:/data ./img -- ./simulate\n"
      "  hpai-run --dry-run --json ./img -- true\n\n"
      "See docs/hpai-run.md for the full manual.\n";
  return out;
}

namespace {

struct Feature {
  const char* name;
  const char* what;
};
// ch-run's names (extglob, squash, overlayfs, tmpfs-xattrs) and hpai's own.
constexpr Feature kFeatures[] = {
    {"extglob", "--unset-env GLOBs with extended patterns (fnmatch FNM_EXTMATCH)"},
    {"squash", "SquashFS images mounted without unpacking (squashfuse)"},
    {"overlayfs", "-W/--write-fake: a writable tmpfs overlay over the image"},
    {"join", "one container per node shared by its ranks (-j)"},
    {"profile", "site profiles (--profile): host MPI, NVIDIA driver, binds"},
    {"stats", "--stats: per-rank resource use"},
    {"torch-env", "--torch-env: torch.distributed variables from the launcher"},
};

}  // namespace

std::optional<bool> has_feature(const std::string& name) {
  for (const auto& f : kFeatures)
    if (name == f.name) return true;
  // ch-run features hpai lacks: a script probing them gets "no".
  for (const char* absent : {"seccomp", "tmpfs-xattrs", "ch-ssh"})
    if (name == absent) return false;
  return std::nullopt;
}

std::string run_features() {
  std::string out;
  for (const auto& f : kFeatures)
    out += std::string(f.name) + std::string(14 - std::strlen(f.name), ' ') + f.what + "\n";
  return out;
}

}  // namespace hpai
