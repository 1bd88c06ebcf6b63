// Host MPI replacing the image's (the algorithm of Sarus' MPI hook): pair host and
// image libraries by linker name, compare versions taken from file names under the
// profile's compatibility mode, and decide for each host library whether it is bound
// over the image's copy or added on the library path. Pure decisions; profile_plan.cpp
// turns them into mounts.
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "hpai/image/image_fs.hpp"
#include "hpai/site/ld_cache.hpp"
#include "hpai/site/profile.hpp"

namespace hpai {

// A library as found through a linker cache entry or a path, with its version read
// from the names along its symlink chain: a target that extends the name's version
// (libmpi.so.12 -> libmpi.so.12.1.8) refines it; one that disagrees
// (libmpi.so.12 -> libmpich_gnu_71.so.3, Cray) is ignored and the name is trusted.
struct FoundLibrary {
  std::string path;         // as listed: "/usr/lib/x86_64-linux-gnu/libmpi.so.12"
  std::string file;         // the file it leads to, symlink-free: "/usr/lib/x86_64-linux-gnu/libmpi.so.12.1.8"
  std::string linker_name;  // "libmpi"
  std::vector<int> version;
  std::string describe() const;  // "libmpi.so.12.1.8"
};
// nullopt when PATH is missing (a stale cache entry) or not a library name.
std::optional<FoundLibrary> find_library(const ImageFs& fs, const std::string& path);

// The image's libraries, from its /etc/ld.so.cache (entries for this ABI whose file
// still exists). Empty when the image has no cache. With LINKER_NAMES ("libmpi", ...),
// only those are looked at: resolving each of an image's hundreds of entries costs
// ~5 syscalls, the bulk of a launch with a profile otherwise.
std::vector<FoundLibrary> image_libraries(const ImageFs& image, const std::set<std::string>& linker_names = {});

// Which MPI families the libraries belong to (an image may carry both); empty when none.
std::vector<MpiFamily> mpi_families(const std::vector<FoundLibrary>& libs);

// Which families the host MPI libraries at PATHS are of, by their file names and their
// ELF sonames (a "libmpi.so" link may be MPICH's libmpi.so.12 or Open MPI's .40).
std::vector<MpiFamily> host_mpi_families(const std::vector<std::string>& paths);

// "" when a profile's declared "family" agrees with the host libraries it lists; else
// what is wrong ("mpi.family is openmpi, but libmpich.so.12 is MPICH's").
std::string family_contradiction(MpiFamily declared, const std::vector<std::string>& paths);

// "" when HOST may stand in for IMAGE under MODE; else why not. Warnings (a newer
// image patch level, ...) go to WARNINGS.
std::string version_incompatibility(const FoundLibrary& host, const FoundLibrary& image, MpiCompat mode,
                                    std::vector<std::string>& warnings);

struct LibraryReplacement {
  FoundLibrary host;
  std::optional<FoundLibrary> image;  // bound over image->file; nullopt: added on the library path
  std::vector<std::string> warnings;
};

// Pairs one host library with the image's candidates; throws Error with the precise
// reason when the image's copy is incompatible ("image libmpi.so.12.1.8 vs host
// libmpi.so.12.0.5: full mode needs host minor >= image minor").
LibraryReplacement pair_library(const FoundLibrary& host, const std::vector<FoundLibrary>& image_libs, MpiCompat mode);

}  // namespace hpai
