/* A CPU-bound payload for the overhead benchmark: integer and floating-point work on
 * data that fits in cache, ~0.5 s, no system calls in the loop. Prints the loop's own
 * time (so the launch is not counted) and a checksum so the work can't be optimised away. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char** argv) {
  long rounds = argc > 1 ? atol(argv[1]) : 250;
  static double v[4096];
  uint64_t x = 88172645463325252ull, sum = 0;
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (int i = 0; i < 4096; ++i) v[i] = (double)i;
  for (long r = 0; r < rounds; ++r)
    for (int k = 0; k < 1000; ++k)
      for (int i = 0; i < 4096; i += 4) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v[i] = v[i] * 0.999 + (double)(x & 1023);
        sum += x >> 60;
      }
  clock_gettime(CLOCK_MONOTONIC, &t1);
  printf("loop_s %.6f checksum %llu %.3f\n", (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
         (unsigned long long)sum, v[100]);
  return 0;
}
