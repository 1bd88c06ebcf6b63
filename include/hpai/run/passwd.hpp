// The /etc/passwd and /etc/group the payload sees: root, nobody and the user, so that
// `id`, `whoami` and ssh-less MPI launchers find a name for every uid they meet.
#pragma once

#include <sys/types.h>

#include <string>

namespace hpai {

struct Identity {
  uid_t uid = 0;  // inside the container
  gid_t gid = 0;
  std::string user;   // name for uid
  std::string group;  // name for gid
  std::string gecos;
  std::string home;  // home directory inside the container
};

// The host's names for HOST_UID/HOST_GID (NSS, so LDAP/SSSD users work); when the host
// has no entry, FALLBACK_USER ($USER) or "hpaiuser"/"hpaigroup".
Identity host_identity(uid_t host_uid, gid_t host_gid, const std::string& fallback_user);

// Contents for the container's /etc/passwd and /etc/group.
std::string make_passwd(const Identity& id);
std::string make_group(const Identity& id);

}  // namespace hpai
