/* Isolation probe, linked statically into the test image. Each subcommand tries one
 * thing a container must not be able to do and prints "blocked: ..." or "ESCAPED: ...".
 * Exit 0 when blocked, 1 when it got through. */
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int blocked(const char *what, int err) {
  printf("blocked: %s: %s\n", what, strerror(err));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: probe setgroups|seteuid-root|chroot-escape MARKER\n");
    return 2;
  }
  if (strcmp(argv[1], "setgroups") == 0) {
    gid_t none[1] = {0};
    if (setgroups(0, none) == 0) { printf("ESCAPED: setgroups succeeded\n"); return 1; }
    return blocked("setgroups", errno);
  }
  if (strcmp(argv[1], "seteuid-root") == 0) {
    if (seteuid(0) == 0 && geteuid() == 0) { printf("ESCAPED: seteuid(0) succeeded\n"); return 1; }
    return blocked("seteuid(0)", errno);
  }
  if (strcmp(argv[1], "chroot-escape") == 0 && argc == 3) {
    /* The classic escape: chroot into a subdirectory while keeping the cwd outside
     * it, then walk up. With the old root detached there is nothing above "/". */
    mkdir("/tmp/probe-jail", 0755);
    if (chroot("/tmp/probe-jail") != 0) return blocked("chroot", errno);
    for (int i = 0; i < 64; i++) { if (chdir("..") != 0) break; }
    if (chroot(".") != 0) return blocked("chroot(.)", errno);
    struct stat st;
    if (stat(argv[2], &st) == 0) { printf("ESCAPED: host marker %s visible\n", argv[2]); return 1; }
    printf("blocked: chroot escape: host marker %s not reachable\n", argv[2]);
    return 0;
  }
  fprintf(stderr, "probe: unknown test %s\n", argv[1]);
  return 2;
}
