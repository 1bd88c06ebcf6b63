#!/bin/bash
# Builds a Debian bookworm minbase image with debootstrap (~45 s, ~200 MB) unless a
# complete one with the same packages is cached at OUT_DIR already.
# Usage: make-debian-image.sh OUT_DIR [EXTRA_PACKAGE...]
# Needs root (debootstrap) and Debian's package archive; the tree is then readable
# by everyone so unprivileged tests can run it.
set -euo pipefail
out=$1
shift
packages="$*"
suite=${HPAI_DEBIAN_SUITE:-bookworm}
# The mirror apt already uses here (the only archive this machine may reach).
mirror=${HPAI_DEBIAN_MIRROR:-}
if [ -z "$mirror" ]; then
  mirror=$(cat /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
           sed -n 's/^URIs: *\(http[^ ]*\).*/\1/p;s/^deb \(http[^ ]*\) .*/\1/p' | grep -v security | head -n1 || true)
fi
mirror=${mirror:-http://deb.debian.org/debian}
if [ -f "$out/.hpai-complete" ] && [ "$(cat "$out/.hpai-complete")" = "$packages" ]; then
  echo "make-debian-image: using cached $out"
  exit 0
fi
command -v debootstrap >/dev/null || { echo "make-debian-image: debootstrap is not installed" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "make-debian-image: debootstrap needs root; build the cache once as root" >&2; exit 1; }
tmp="$out.tmp"
rm -rf "$tmp"
mkdir -p "$(dirname "$out")"
debootstrap --variant=minbase "$suite" "$tmp" "$mirror" > "$out.log" 2>&1 || {
  echo "make-debian-image: debootstrap failed; last lines of $out.log:" >&2; tail -n 20 "$out.log" >&2; exit 1; }
# Extra packages through apt in the new tree: debootstrap's own resolver can't
# follow virtual packages (libltdl-dev needs "automake-1.16 | automaken").
if [ -n "$packages" ]; then
  chroot "$tmp" sh -c "apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $packages && apt-get clean" \
    >> "$out.log" 2>&1 || {
    echo "make-debian-image: apt-get install $packages failed; last lines of $out.log:" >&2; tail -n 20 "$out.log" >&2; exit 1; }
fi
rm -rf "$tmp"/var/cache/apt/archives/*.deb
# Device nodes go, as hpai-image import drops them (the host's /dev is bound over the
# image's): a user can then copy the image for -w.
find "$tmp/dev" -mindepth 1 -delete
chmod -R a+rX "$tmp"
echo "$packages" > "$tmp/.hpai-complete"
rm -rf "$out"
mv "$tmp" "$out"
echo "make-debian-image: built $out"
