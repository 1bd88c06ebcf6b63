#!/bin/bash
# The README's demo: build a tiny image from busybox-static (no registry needed), show
# hpai-run's plan for it, then run a payload in it without privilege.
# Usage: examples/demo.sh HPAI_RUN DEMO_DIR   (the `demo` build target passes both)
set -euo pipefail
hpai_run=$1
dir=$2
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$dir"
"$here/../tests/images/make-busybox-image.sh" "$dir/busybox-image" >/dev/null
image="$dir/busybox-image"

echo "== The plan: what hpai-run would do (hpai-run --dry-run)"
"$hpai_run" --dry-run -b "$here:/mnt" "$image" -- sh -c 'id'
echo
payload='echo "hello from $(uname -n): I am $(id -un) (uid $(id -u)) in user namespace $(readlink /proc/self/ns/user)";
echo "the image is read-only:"; touch /etc/x 2>&1 || true;
echo "host files bound in: $(ls /mnt | tr "\n" " ")"'
echo "== Running as $(id -un): hpai-run -b examples:/mnt $image -- sh -c ..."
"$hpai_run" -b "$here:/mnt" "$image" -- sh -c "$payload"
echo "(host user namespace: $(readlink /proc/self/ns/user))"

# The point of hpai is that none of this needs root: show it as an unprivileged user too.
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1 && setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$hpai_run" 2>/dev/null \
   && setpriv --reuid=nobody --regid=nogroup --clear-groups test -r "$image/bin/busybox" 2>/dev/null; then
  echo
  echo "== Again as the unprivileged user nobody (setpriv --reuid=nobody):"
  HOME=/ USER=nobody setpriv --reuid=nobody --regid=nogroup --clear-groups -- \
    "$hpai_run" -b "$here:/mnt" "$image" -- sh -c "$payload"
fi
