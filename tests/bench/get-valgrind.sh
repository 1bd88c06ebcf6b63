#!/bin/bash
# A valgrind that knows the system calls hpai-run makes (openat2, open_tree, move_mount,
# fsopen, mount_setattr: valgrind >= 3.25; Debian 12 has 3.19, which fails them with
# ENOSYS): Debian unstable's package, from the Debian archive, unpacked into DIR
# (nothing installed). Prints the command to run it with.
# Usage: tests/bench/get-valgrind.sh DIR
set -euo pipefail
dir=$1
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
if [ ! -x "$dir/root/usr/libexec/valgrind/callgrind-amd64-linux" ]; then
  mkdir -p "$dir"
  curl -fsS -o "$dir/Packages.xz" "$mirror/dists/sid/main/binary-amd64/Packages.xz"
  file=$(xz -dc "$dir/Packages.xz" | awk '/^Package: valgrind$/ {p=1} p && /^Filename:/ {print $2; exit}' || true)
  [ -n "$file" ] || { echo "get-valgrind: no valgrind in $mirror sid" >&2; exit 1; }
  curl -fsS -o "$dir/valgrind.deb" "$mirror/$file"
  dpkg-deb -x "$dir/valgrind.deb" "$dir/root"
  rm -f "$dir/Packages.xz" "$dir/valgrind.deb"
  chmod -R a+rX "$dir"
fi
echo "env VALGRIND_LIB=$dir/root/usr/libexec/valgrind $dir/root/usr/bin/valgrind.bin"
