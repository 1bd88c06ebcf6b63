#!/bin/bash
# Installs BUILD_DIR into a scratch prefix and checks what a site admin finds there:
# the tools, the recipes in share/hpai, found by name without any path or variable.
# Usage: install-test.sh BUILD_DIR IMAGE
set -euo pipefail
build=$1
image=$2
prefix=$(mktemp -d /tmp/hpai-install-test.XXXXXX)
trap 'rm -rf "$prefix"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
for f in bin/hpai-run bin/hpai-image bin/hpai-check share/hpai/profiles/generic-debian.json \
         share/hpai/profiles/lrz-supermuc-ng.json share/hpai/driver-matrix.json share/hpai/cuda-driver-table.json; do
  [ -e "$prefix/$f" ] || { echo "install-test: $f was not installed" >&2; exit 1; }
done
unset HPAI_PROFILE_PATH
# The documented commands, by name (docs/driver-matrix.md, docs/site-profiles.md).
"$prefix/bin/hpai-profile" check --schema-only generic-debian
"$prefix/bin/hpai-profile" list | grep -q "generic-debian"
"$prefix/bin/hpai-check" select --site generic-debian "$image" >/dev/null || [ $? -le 1 ]
"$prefix/bin/hpai-check" image --matrix driver-matrix "$image" >/dev/null || [ $? -le 1 ]
# A recipe is never a site default unless an admin makes it one.
"$prefix/bin/hpai-run" --dry-run "$image" -- true | grep -q "^profile:" && { echo "install-test: a recipe applied by default" >&2; exit 1; }
echo "install-test: ok ($prefix)"
