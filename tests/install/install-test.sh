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
# The Slurm plugin (where spank.h was found) and its helper, at the path the plugin
# computes from its own (docs/slurm-plugin.md).
[ -x "$prefix/libexec/hpai/hpai-slurm-task" ] || { echo "install-test: hpai-slurm-task was not installed" >&2; exit 1; }
if [ -e "$build/lib/spank_hpai.so" ]; then
  plugin=$(find "$prefix" -name spank_hpai.so)
  [ -n "$plugin" ] || { echo "install-test: spank_hpai.so was not installed" >&2; exit 1; }
  rel=$(strings "$plugin" | grep 'libexec/hpai/hpai-slurm-task$' || true)
  rel=${rel%%$'\n'*}
  [ -x "$(dirname "$plugin")/$rel" ] || { echo "install-test: the plugin's helper $rel is not beside it" >&2; exit 1; }
fi
unset HPAI_PROFILE_PATH
# The documented commands, by name (docs/driver-matrix.md, docs/site-profiles.md).
"$prefix/bin/hpai-profile" check --schema-only generic-debian
"$prefix/bin/hpai-profile" list | grep -q "generic-debian"
"$prefix/bin/hpai-check" select --site generic-debian "$image" >/dev/null || [ $? -le 1 ]
"$prefix/bin/hpai-check" image --matrix driver-matrix "$image" >/dev/null || [ $? -le 1 ]
# A recipe is never a site default unless an admin makes it one.
"$prefix/bin/hpai-run" --dry-run "$image" -- true | grep -q "^profile:" && { echo "install-test: a recipe applied by default" >&2; exit 1; }
echo "install-test: ok ($prefix)"
