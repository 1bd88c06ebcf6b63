/* MPI test payload: every rank reports itself and where its MPI library came from,
   checks an allreduce, and with "bw" runs a ping-pong between ranks 0 and 1
   (latency for 8 bytes, bandwidth for 4 MiB) and prints both from rank 0. */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void mpi_library_path(char* out, size_t n) {
  FILE* maps = fopen("/proc/self/maps", "r");
  char line[1024];
  snprintf(out, n, "?");
  while (maps && fgets(line, sizeof line, maps)) {
    char* path = strchr(line, '/');
    if (path && (strstr(path, "libmpi.so") || strstr(path, "libmpich.so"))) {
      path[strcspn(path, "\n")] = '\0';
      snprintf(out, n, "%s", path);
      break;
    }
  }
  if (maps) fclose(maps);
}

static double pingpong(int rank, int bytes, int iters) {
  char* buf = calloc(1, (size_t)bytes);
  MPI_Barrier(MPI_COMM_WORLD);
  double t0 = MPI_Wtime();
  for (int i = 0; i < iters; ++i) {
    if (rank == 0) {
      MPI_Send(buf, bytes, MPI_CHAR, 1, 0, MPI_COMM_WORLD);
      MPI_Recv(buf, bytes, MPI_CHAR, 1, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    } else if (rank == 1) {
      MPI_Recv(buf, bytes, MPI_CHAR, 0, 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Send(buf, bytes, MPI_CHAR, 0, 0, MPI_COMM_WORLD);
    }
  }
  double t = (MPI_Wtime() - t0) / (2.0 * iters);  /* one-way time */
  free(buf);
  return t;
}

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  int rank = 0, size = 0, len = 0;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  char host[256] = "", lib[512], version[MPI_MAX_LIBRARY_VERSION_STRING];
  gethostname(host, sizeof host);
  mpi_library_path(lib, sizeof lib);
  MPI_Get_library_version(version, &len);
  version[strcspn(version, "\n")] = '\0';
  int sum = 0;
  MPI_Allreduce(&rank, &sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  int ok = sum == size * (size - 1) / 2;
  printf("rank %d of %d on %s: allreduce %s; library %s (%.60s)\n", rank, size, host, ok ? "ok" : "WRONG", lib, version);
  fflush(stdout);
  if (argc > 1 && strcmp(argv[1], "bw") == 0 && size >= 2) {
    double lat = pingpong(rank, 8, 2000);
    int big = 4 << 20;
    double t = pingpong(rank, big, 50);
    if (rank == 0) printf("pingpong: latency %.2f us, bandwidth %.1f MB/s\n", lat * 1e6, big / t / 1e6);
  }
  MPI_Finalize();
  return ok ? 0 : 1;
}
