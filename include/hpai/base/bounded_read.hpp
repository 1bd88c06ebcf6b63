// Reading a file that an image, a profile or the command line names, without trusting
// it: it may be a FIFO (an open or read would hang), a device (/dev/zero never ends),
// a symlink out of the image, or gigabytes long. Every such read goes through here:
// opened with O_NONBLOCK, refused unless it is a regular file, capped at a size the
// caller gives (docs/hpai-run.md "Limits" lists them), and named in every message.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "hpai/base/fd.hpp"
#include "hpai/base/openat2.hpp"

namespace hpai {

// The caps, one per kind of file (documented in docs/hpai-run.md and hpai-image.md).
inline constexpr std::size_t kMaxJsonDocument = 16 << 20;  // image metadata, OCI/docker JSON, driver matrices
inline constexpr std::size_t kMaxProfile = 4 << 20;        // a site profile or a file it extends
inline constexpr std::size_t kMaxLdCache = 64 << 20;       // /etc/ld.so.cache, the image's or the host's
inline constexpr std::size_t kMaxEnvFile = 16 << 20;       // --set-env=FILE, an image's ch/environment
inline constexpr std::size_t kMaxSmallFile = 1 << 20;      // stats files, version.json, /proc and /sys values

// How PATH is looked up from DIRFD.
enum class Resolve {
  Host,    // as the kernel does for any path (DIRFD may be AT_FDCWD)
  InRoot,  // DIRFD is an image's root: absolute symlinks and ".." stay inside it, magic links fail
};

// Opens PATH for reading, never blocking; Error (naming WHAT) unless it is a regular
// file. Returns an empty fd when PATH does not exist (ENOENT or ENOTDIR).
UniqueFd open_regular(int dirfd, const std::string& path, Resolve how, const std::string& what);

// The whole content of FD, at most MAX bytes, else Error naming WHAT.
std::string read_bounded(int fd, std::size_t max, const std::string& what);

// SIZE bytes of FD from OFFSET, fewer only where the file ends; Error naming WHAT.
std::string read_range(int fd, std::uint64_t offset, std::size_t size, const std::string& what);

// open_regular + read_bounded; nullopt when PATH does not exist.
std::optional<std::string> read_file_at(int dirfd, const std::string& path, Resolve how, std::size_t max,
                                        const std::string& what);

// A host file that must exist: Error "can't read WHAT: No such file or directory" if not.
std::string read_host_file(const std::string& path, std::size_t max, const std::string& what);

}  // namespace hpai
