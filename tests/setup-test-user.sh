#!/bin/bash
# Creates the unprivileged user the container tests run hpai as, and a second one the
# hostile tests play the other user on a shared node with, and makes sure the first
# can reach the build tree. Usage: setup-test-user.sh BUILD_DIR [USER [OTHER_USER]]
# As a non-root developer this only checks: the tests then run as you.
set -euo pipefail
build=$(cd "$1" && pwd)
user=${2:-hpai-test}
other=${3:-hpai-other}
if [ "$(id -u)" != 0 ]; then
  echo "setup-test-user: not root; container tests run as $(id -un) only"
  exit 0
fi
for u in "$user" "$other"; do
  if ! id "$u" >/dev/null 2>&1; then
    useradd --create-home --shell /bin/sh --comment "hpai test user" "$u"
    echo "setup-test-user: created user $u"
  fi
done
# The test user must traverse every directory above the build tree.
dir=$build
while [ "$dir" != / ]; do
  if ! runuser -u "$user" -- test -x "$dir"; then
    chmod o+x "$dir"
    echo "setup-test-user: chmod o+x $dir so $user can reach the build tree"
  fi
  dir=$(dirname "$dir")
done
runuser -u "$user" -- test -x "$build/bin/hpai-run" || {
  echo "setup-test-user: $user can't execute $build/bin/hpai-run" >&2; exit 1; }
# squashfuse needs /dev/fuse open to users (the launcher never needs it for directories).
[ -e /dev/fuse ] && chmod 0666 /dev/fuse || true
echo "setup-test-user: ok ($user, uid $(id -u "$user"); the other user $other, uid $(id -u "$other"))"
