#!/bin/bash
# Builds a tiny image from busybox-static: a real statically linked userland in a
# second. Usage: make-busybox-image.sh OUT_DIR [EXTRA_BINARY...]
# Extra binaries (e.g. the isolation probe) go to /usr/bin. Writes image metadata
# (.hpai/image.json) with ENV and WORKDIR so hpai-run's metadata handling is exercised.
set -euo pipefail
out=$1; shift
busybox=/bin/busybox  # Debian's busybox-static: no shared libraries to carry along
[ -x "$busybox" ] || { echo "make-busybox-image: $busybox missing (apt-get install busybox-static)" >&2; exit 1; }

mkdir -p "$(dirname "$out")"
tmp=$(mktemp -d "$(dirname "$out")/.busybox.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp"/{bin,dev,proc,sys,tmp,etc,home,root,mnt,usr/bin,var/tmp,work,.hpai}
cp "$busybox" "$tmp/bin/busybox"
for applet in $("$tmp/bin/busybox" --list); do
  [ -e "$tmp/bin/$applet" ] || ln -s busybox "$tmp/bin/$applet"
done
for extra in "$@"; do cp "$extra" "$tmp/usr/bin/"; done
echo "root:x:0:0:image root:/root:/bin/sh" > "$tmp/etc/passwd"
echo "root:x:0:" > "$tmp/etc/group"
echo "127.0.0.1 image-hosts" > "$tmp/etc/hosts"
echo "nameserver 192.0.2.1" > "$tmp/etc/resolv.conf"
echo "busybox image" > "$tmp/etc/image-release"
# A relative symlink that climbs far above the image root: a bind through it must
# still land inside the image.
ln -s ../../../../../../../../etc/hpai-escape-target "$tmp/mnt/escape"
chmod 1777 "$tmp/tmp" "$tmp/var/tmp"
cat > "$tmp/.hpai/image.json" <<'JSON'
{
  "hpai_image_version": 1,
  "architecture": "amd64",
  "os": "linux",
  "config": {
    "Env": ["PATH=/usr/bin:/bin", "IMAGE_VAR=from-image", "SLURM_JOB_ID=image-value"],
    "WorkingDir": "/work",
    "Entrypoint": ["/bin/echo"],
    "Cmd": ["entrypoint-ran"],
    "Labels": {"org.opencontainers.image.title": "busybox test image"}
  }
}
JSON
chmod -R a+rX "$tmp"
rm -rf "$out"
mv "$tmp" "$out"
trap - EXIT
echo "make-busybox-image: built $out"
