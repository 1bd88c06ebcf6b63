#!/bin/bash
# hpai-run starts once per rank: it may load libc (and libm, the dynamic linker) and
# nothing else, since every library loaded costs each rank's launch the dynamic linker's
# relocations (libcrypto alone: 2.5 M instructions, 5x a whole launch). A library that
# creeps in through a static library's object (digest hashing pulled in by a reference
# parser, say) fails here. Usage: check_launch_libs.sh HPAI_RUN
set -euo pipefail
needed=$(readelf -d "$1" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
bad=$(printf '%s\n' "$needed" | grep -Ev '^(libc\.so\.6|libm\.so\.6|ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|ld64\.so\.2)$' || true)
if [ -n "$bad" ]; then
  echo "hpai-run loads more than libc: $(echo $bad) (find the object that pulls it in with -Wl,--trace-symbol)" >&2
  exit 1
fi
echo "hpai-run loads: $(echo $needed)"
