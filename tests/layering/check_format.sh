#!/bin/bash
# The one style (.ci/clang-format) holds: every C++ source and header of src/, include/ and
# tests/ is as clang-format would write it. Usage: check_format.sh SOURCE_DIR CLANG_FORMAT
set -euo pipefail
cd "$1"
mapfile -t files < <(find src include tests -name '*.cpp' -o -name '*.hpp' | sort)
"$2" --style=file:.ci/clang-format --dry-run --Werror "${files[@]}"
echo "${#files[@]} files formatted as .ci/clang-format says"
