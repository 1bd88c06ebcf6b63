#!/bin/bash
# Builds the MPI test image: Debian with gcc, Open MPI and MPICH (cached by
# make-debian-image.sh), then compiles mpi_hello inside it with each MPI's own
# compiler wrapper, by running hpai-run -w on it.
# Usage: make-mpi-image.sh OUT_DIR HPAI_RUN
set -euo pipefail
out=$1
run=$2
here=$(cd "$(dirname "$0")" && pwd)
# python3-minimal runs examples/pytorch/train.py (without torch it prints what it would do).
"$here/make-debian-image.sh" "$out" gcc libc6-dev libopenmpi-dev openmpi-bin mpich libmpich-dev python3-minimal
src="$here/../../examples/mpi/mpi_hello.c"
stamp="$out/usr/local/bin/.mpi_hello.sha256"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(sha256sum < "$src")" ]; then
  echo "make-mpi-image: programs up to date"
  exit 0
fi
"$run" -w -b "$(dirname "$src"):/mnt" "$out" -- sh -c '
  set -e
  mpicc.openmpi -O2 -o /usr/local/bin/mpi_hello_openmpi /mnt/mpi_hello.c
  mpicc.mpich -O2 -o /usr/local/bin/mpi_hello_mpich /mnt/mpi_hello.c'
sha256sum < "$src" > "$stamp"
chmod -R a+rX "$out/usr/local/bin"
echo "make-mpi-image: built mpi_hello_openmpi and mpi_hello_mpich in $out"
