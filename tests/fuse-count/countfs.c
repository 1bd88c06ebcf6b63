/* countfs: a read-only FUSE passthrough that counts the requests reaching it, standing
 * in for a parallel file system's metadata and data servers (GPFS, Lustre) in the
 * tests: what hpai-run asks of the shared file system per node and per rank.
 *
 *   countfs SOURCE MOUNTPOINT [FUSE options]     e.g. -f -o default_permissions
 *
 * Reading MOUNTPOINT/.countfs-counts gives "OP COUNT" lines (and a "total"); reading
 * MOUNTPOINT/.countfs-reset zeroes them. Neither is counted. A test fixture, not
 * product code. */
#define FUSE_USE_VERSION 31
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

enum { GETATTR, READLINK, OPEN, READ, OPENDIR, READDIR, STATFS, ACCESS, RELEASE, NOPS };
static const char* names[NOPS] = {"getattr", "readlink", "open", "read", "opendir", "readdir", "statfs", "access", "release"};
static atomic_long counts[NOPS];
static char source[PATH_MAX];

static const char kCounts[] = "/.countfs-counts";
static const char kReset[] = "/.countfs-reset";

static void full(const char* path, char* out) { snprintf(out, PATH_MAX, "%s%s", source, path); }

static int counts_text(char* buf, size_t size) {
  long total = 0;
  int n = 0;
  for (int i = 0; i < NOPS; ++i) {
    long c = atomic_load(&counts[i]);
    total += c;
    n += snprintf(buf + n, size - (size_t)n, "%s %ld\n", names[i], c);
  }
  n += snprintf(buf + n, size - (size_t)n, "total %ld\n", total);
  return n;
}

static int special(const char* path) { return strcmp(path, kCounts) == 0 || strcmp(path, kReset) == 0; }

static int cf_getattr(const char* path, struct stat* st, struct fuse_file_info* fi) {
  (void)fi;
  if (special(path)) {
    memset(st, 0, sizeof *st);
    st->st_mode = S_IFREG | 0444;
    st->st_size = 4096;
    st->st_nlink = 1;
    return 0;
  }
  atomic_fetch_add(&counts[GETATTR], 1);
  char p[PATH_MAX];
  full(path, p);
  return lstat(p, st) == 0 ? 0 : -errno;
}

static int cf_readlink(const char* path, char* buf, size_t size) {
  atomic_fetch_add(&counts[READLINK], 1);
  char p[PATH_MAX];
  full(path, p);
  ssize_t n = readlink(p, buf, size - 1);
  if (n < 0) return -errno;
  buf[n] = 0;
  return 0;
}

static int cf_open(const char* path, struct fuse_file_info* fi) {
  if (strcmp(path, kReset) == 0) {
    for (int i = 0; i < NOPS; ++i) atomic_store(&counts[i], 0);
    fi->direct_io = 1;
    fi->fh = (uint64_t)-1;
    return 0;
  }
  if (strcmp(path, kCounts) == 0) {
    fi->direct_io = 1;  // read afresh every time
    fi->fh = (uint64_t)-1;
    return 0;
  }
  atomic_fetch_add(&counts[OPEN], 1);
  if ((fi->flags & O_ACCMODE) != O_RDONLY) return -EROFS;
  char p[PATH_MAX];
  full(path, p);
  int fd = open(p, fi->flags);
  if (fd < 0) return -errno;
  fi->fh = (uint64_t)fd;
  fi->keep_cache = 1;  // a parallel file system's client keeps its page cache across opens
  return 0;
}

static int cf_read(const char* path, char* buf, size_t size, off_t off, struct fuse_file_info* fi) {
  if (strcmp(path, kCounts) == 0) {
    char text[1024];
    int n = counts_text(text, sizeof text);
    if (off >= n) return 0;
    size_t len = (size_t)n - (size_t)off < size ? (size_t)n - (size_t)off : size;
    memcpy(buf, text + off, len);
    return (int)len;
  }
  if (strcmp(path, kReset) == 0) return 0;
  atomic_fetch_add(&counts[READ], 1);
  ssize_t n = pread((int)fi->fh, buf, size, off);
  return n < 0 ? -errno : (int)n;
}

static int cf_release(const char* path, struct fuse_file_info* fi) {
  if (special(path)) return 0;
  atomic_fetch_add(&counts[RELEASE], 1);
  close((int)fi->fh);
  return 0;
}

static int cf_opendir(const char* path, struct fuse_file_info* fi) {
  (void)fi;
  atomic_fetch_add(&counts[OPENDIR], 1);
  char p[PATH_MAX];
  full(path, p);
  DIR* d = opendir(p);
  if (!d) return -errno;
  closedir(d);
  return 0;
}

static int cf_readdir(const char* path, void* buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info* fi,
                      enum fuse_readdir_flags flags) {
  (void)off, (void)fi, (void)flags;
  atomic_fetch_add(&counts[READDIR], 1);
  char p[PATH_MAX];
  full(path, p);
  DIR* d = opendir(p);
  if (!d) return -errno;
  struct dirent* e;
  while ((e = readdir(d)) != NULL) fill(buf, e->d_name, NULL, 0, 0);
  closedir(d);
  return 0;
}

static int cf_statfs(const char* path, struct statvfs* sv) {
  atomic_fetch_add(&counts[STATFS], 1);
  char p[PATH_MAX];
  full(path, p);
  return statvfs(p, sv) == 0 ? 0 : -errno;
}

static int cf_access(const char* path, int mask) {
  if (special(path)) return 0;
  atomic_fetch_add(&counts[ACCESS], 1);
  char p[PATH_MAX];
  full(path, p);
  return access(p, mask) == 0 ? 0 : -errno;
}

static const struct fuse_operations ops = {
    .getattr = cf_getattr, .readlink = cf_readlink, .open = cf_open, .read = cf_read, .release = cf_release,
    .opendir = cf_opendir, .readdir = cf_readdir, .statfs = cf_statfs, .access = cf_access,
};

int main(int argc, char* argv[]) {
  if (argc < 3 || realpath(argv[1], source) == NULL) {
    fprintf(stderr, "usage: countfs SOURCE MOUNTPOINT [FUSE options]\n");
    return 64;
  }
  // fuse_main gets MOUNTPOINT and the options, not SOURCE.
  argv[1] = argv[0];
  return fuse_main(argc - 1, argv + 1, &ops, NULL);
}
