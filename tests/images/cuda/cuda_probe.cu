// Reports which libcuda the dynamic linker gave this program and what it says.
// Through the NVIDIA stub cuInit returns 34 (CUDA_ERROR_STUB_LIBRARY); through the
// test image's own fake it returns 999; on a real GPU it returns 0 and a kernel runs.
#include <cuda.h>
#include <cuda_runtime.h>
#include <dlfcn.h>
#include <cstdio>

__global__ void add_one(int* v) { *v += 1; }

int main() {
  CUresult rc = cuInit(0);
  int devices = -1, driver = 0;
  if (rc == CUDA_SUCCESS) cuDeviceGetCount(&devices);
  cuDriverGetVersion(&driver);
  // Ask the linker where cuInit came from (dlsym: &cuInit would be this program's PLT).
  const char* lib = "?";
  Dl_info info;
  void* sym = dlsym(RTLD_DEFAULT, "cuInit");
  if (sym && dladdr(sym, &info) && info.dli_fname) lib = info.dli_fname;
  int kernel = -1;
  if (devices > 0) {
    int* d = nullptr;
    int h = 41;
    if (cudaMalloc(&d, sizeof h) == cudaSuccess && cudaMemcpy(d, &h, sizeof h, cudaMemcpyHostToDevice) == cudaSuccess) {
      add_one<<<1, 1>>>(d);
      if (cudaMemcpy(&h, d, sizeof h, cudaMemcpyDeviceToHost) == cudaSuccess) kernel = h;
      cudaFree(d);
    }
  }
  std::printf("cuInit=%d devices=%d driver_api=%d kernel=%d lib=%s\n", static_cast<int>(rc), devices, driver, kernel, lib);
  return 0;
}
