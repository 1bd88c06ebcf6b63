/* A fake NVML for the tests of the fake driver tree: two GPUs at 37% and 80%
 * utilisation with 1 GiB and 2 GiB of 80 GiB in use, driver 580.95.05 (CUDA 13.0).
 * Only what hpai calls; the real library's ABI for these calls. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct { unsigned gpu, memory; } nvml_utilization;
typedef struct { unsigned long long total, free, used; } nvml_memory;
static int devices[2];
static int initialised;

static int index_of(void* d) { return d == &devices[1] ? 1 : 0; }
int nvmlInit_v2(void) { initialised = 1; return 0; }
int nvmlShutdown(void) { initialised = 0; return 0; }
int nvmlSystemGetDriverVersion(char* v, unsigned len) { snprintf(v, len, "580.95.05"); return 0; }
int nvmlSystemGetCudaDriverVersion_v2(int* v) { *v = 13000; return 0; }
int nvmlDeviceGetCount_v2(unsigned* n) { *n = 2; return initialised ? 0 : 1; }
int nvmlDeviceGetHandleByIndex_v2(unsigned i, void** d) {
  if (i >= 2) return 2; /* NVML_ERROR_INVALID_ARGUMENT */
  *d = &devices[i];
  return 0;
}
int nvmlDeviceGetName(void* d, char* name, unsigned len) { snprintf(name, len, "Fake GPU %d", index_of(d)); return 0; }
int nvmlDeviceGetUtilizationRates(void* d, nvml_utilization* u) {
  u->gpu = index_of(d) ? 80 : 37;
  u->memory = 10;
  return 0;
}
int nvmlDeviceGetMemoryInfo(void* d, nvml_memory* m) {
  m->total = 80ull << 30;
  m->used = (unsigned long long)(index_of(d) + 1) << 30;
  m->free = m->total - m->used;
  return 0;
}
/* $FAKE_NVML_BRAND: tesla (2), geforce (5), nvidia (14); unset: not supported. */
int nvmlDeviceGetBrand(void* d, int* brand) {
  const char* b = getenv("FAKE_NVML_BRAND");
  (void)d;
  if (!b) return 3; /* NVML_ERROR_NOT_SUPPORTED */
  *brand = !strcmp(b, "tesla") ? 2 : !strcmp(b, "geforce") ? 5 : !strcmp(b, "nvidia") ? 14 : 0;
  return 0;
}
