/* The test image's own libcuda.so.1, as images built against a stub sometimes carry:
   every call answers 999. The host driver injected by hpai must win over it. */
int cuInit(unsigned flags) { (void)flags; return 999; }
int cuDeviceGetCount(int* n) { *n = 0; return 999; }
int cuDriverGetVersion(int* v) { *v = 0; return 999; }
