#!/bin/bash
# Builds the fixtures of the NVIDIA injection tests, without a GPU:
#   OUT/cuda         a busybox image with cuda_probe (built with nvcc) and the glibc
#                    it needs, plus its own fake libcuda.so.1 that answers 999
#   OUT/fake-driver  a host driver tree: the CUDA toolkit's stub libcuda renamed
#                    libcuda.so.580.95.05 (with soname link), a fake NVML with two GPUs
#                    (cuda/fake_nvml.c), neighbours that must and must not be picked
#                    up, an nvidia-smi, and its own ld.so.cache
# Usage: make-cuda-fixtures.sh OUT_DIR [CUDA_HOME]. Without nvcc it writes
# OUT/cuda.unavailable and the tests that need it skip, saying why.
set -euo pipefail
out=$1
cuda=${2:-/usr/local/cuda}
here=$(cd "$(dirname "$0")" && pwd)
version=580.95.05
mkdir -p "$out"
rm -f "$out/cuda.unavailable"
if [ ! -x "$cuda/bin/nvcc" ] || [ ! -f "$cuda/lib64/stubs/libcuda.so" ]; then
  echo "no nvcc or stub libcuda under $cuda" > "$out/cuda.unavailable"
  echo "make-cuda-fixtures: $(cat "$out/cuda.unavailable"); CUDA tests will skip"
  exit 0
fi
multiarch=$(gcc -print-multiarch)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The image.
"$here/make-busybox-image.sh" "$work/image"
"$cuda/bin/nvcc" -O2 -o "$work/image/usr/bin/cuda_probe" "$here/cuda/cuda_probe.cu" -L"$cuda/lib64/stubs" -lcuda
for lib in $(ldd "$work/image/usr/bin/cuda_probe" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}'); do
  mkdir -p "$work/image$(dirname "$lib")"
  cp -L "$lib" "$work/image$lib"
done
mkdir -p "$work/image/usr/lib/$multiarch"
gcc -shared -fPIC -O2 -Wl,-soname,libcuda.so.1 -o "$work/image/usr/lib/$multiarch/libcuda.so.1" "$here/cuda/image_libcuda.c"

# The host driver tree.
d="$work/driver"
lib="$d/usr/lib/$multiarch"
mkdir -p "$lib" "$d/bin" "$d/etc"
cp "$cuda/lib64/stubs/libcuda.so" "$lib/libcuda.so.$version"
ln -s "libcuda.so.$version" "$lib/libcuda.so.1"
fake_lib() {  # NAME SONAME: a real small shared library
  echo "int $(echo "$1" | tr -c 'a-zA-Z0-9\n' _)_marker(void) { return 1; }" > "$work/lib.c"
  gcc -shared -fPIC -Wl,-soname,"$2" -o "$lib/$1" "$work/lib.c"
  [ "$1" = "$2" ] || ln -s "$1" "$lib/$2"
}
fake_lib "libnvidia-ptxjitcompiler.so.$version" libnvidia-ptxjitcompiler.so.1  # compute: injected
fake_lib "libnvidia-futurething.so.$version" libnvidia-futurething.so.1        # unlisted: injected all the same
fake_lib "libnvidia-encode.so.$version" libnvidia-encode.so.1                  # video: not by default
fake_lib "libnvidia-leftover.so.470.57.02" libnvidia-leftover.so.1             # another driver's: never
gcc -shared -fPIC -O2 -Wl,-soname,libnvidia-ml.so.1 -o "$lib/libnvidia-ml.so.$version" "$here/cuda/fake_nvml.c"  # utility
ln -s "libnvidia-ml.so.$version" "$lib/libnvidia-ml.so.1"
printf '#!/bin/sh\necho "NVIDIA-SMI fake %s"\n' "$version" > "$d/bin/nvidia-smi"
chmod 755 "$d/bin/nvidia-smi"

chmod -R a+rX "$work/image" "$d"
rm -rf "$out/cuda" "$out/fake-driver"
mv "$work/image" "$out/cuda"
mv "$d" "$out/fake-driver"
# The cache is made where the tree finally lives: it records absolute paths.
ldconfig -C "$out/fake-driver/etc/ld.so.cache" -f /dev/null "$out/fake-driver/usr/lib/$multiarch"
chmod a+r "$out/fake-driver/etc/ld.so.cache"
echo "make-cuda-fixtures: built $out/cuda and $out/fake-driver (driver $version)"
