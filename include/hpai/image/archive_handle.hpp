// libarchive handles as owning pointers: one spelling for every reader, writer and
// entry, freed on every path out (an exception mid-import included).
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include <memory>

namespace hpai {

struct ArchiveReadFree {
  void operator()(struct archive* a) const { archive_read_free(a); }
};
struct ArchiveWriteFree {
  void operator()(struct archive* a) const { archive_write_free(a); }
};
struct ArchiveEntryFree {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};

using ArchiveReader = std::unique_ptr<struct archive, ArchiveReadFree>;   // archive_read_new, archive_read_disk_new
using ArchiveWriter = std::unique_ptr<struct archive, ArchiveWriteFree>;  // archive_write_new
using ArchiveEntry = std::unique_ptr<struct archive_entry, ArchiveEntryFree>;  // archive_entry_new

}  // namespace hpai
