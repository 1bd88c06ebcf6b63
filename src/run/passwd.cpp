#include "hpai/run/passwd.hpp"

#include <grp.h>
#include <pwd.h>

#include <vector>

namespace hpai {

Identity host_identity(uid_t host_uid, gid_t host_gid, const std::string& fallback_user) {
  Identity id;
  id.uid = host_uid;
  id.gid = host_gid;
  std::vector<char> buf(16384);
  struct passwd pw {};
  struct passwd* pw_result = nullptr;
  if (getpwuid_r(host_uid, &pw, buf.data(), buf.size(), &pw_result) == 0 && pw_result != nullptr) {
    id.user = pw.pw_name;
    id.gecos = pw.pw_gecos != nullptr ? pw.pw_gecos : "";
  } else {
    id.user = fallback_user.empty() ? "hpaiuser" : fallback_user;
  }
  struct group gr {};
  struct group* gr_result = nullptr;
  if (getgrgid_r(host_gid, &gr, buf.data(), buf.size(), &gr_result) == 0 && gr_result != nullptr)
    id.group = gr.gr_name;
  else
    id.group = "hpaigroup";
  id.home = "/home/" + id.user;
  return id;
}

namespace {

// A name already used by the fixed entries cannot name another id.
std::string unclashed(const std::string& name, unsigned id, const char* fixed_names[], const unsigned fixed_ids[],
                      const std::string& fallback) {
  for (int i = 0; fixed_names[i] != nullptr; ++i)
    if (name == fixed_names[i] && id != fixed_ids[i]) return fallback + std::to_string(id);
  return name;
}

}  // namespace

std::string make_passwd(const Identity& id) {
  static const char* names[] = {"root", "nobody", nullptr};
  static const unsigned ids[] = {0, 65534};
  // gecos must not contain ':' or newlines, or it would forge fields and lines.
  std::string gecos;
  for (char c : id.gecos) gecos += (c == ':' || c == '\n') ? ' ' : c;
  std::string out = "root:x:0:0:root:/root:/bin/sh\n";
  if (id.uid != 0 && id.uid != 65534)
    out += unclashed(id.user, id.uid, names, ids, "user") + ":x:" + std::to_string(id.uid) + ":" +
           std::to_string(id.gid) + ":" + gecos + ":" + id.home + ":/bin/sh\n";
  out += "nobody:x:65534:65534:nobody:/:/bin/false\n";
  return out;
}

std::string make_group(const Identity& id) {
  static const char* names[] = {"root", "nogroup", nullptr};
  static const unsigned ids[] = {0, 65534};
  std::string out = "root:x:0:\n";
  if (id.gid != 0 && id.gid != 65534)
    out += unclashed(id.group, id.gid, names, ids, "group") + ":x:" + std::to_string(id.gid) + ":\n";
  out += "nogroup:x:65534:\n";
  return out;
}

}  // namespace hpai
