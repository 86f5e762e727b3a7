/* busy N: spins on the CPU for N seconds of wall time, then prints the CPU time it got:
 *   cpu=X.XX wall=Y.YY
 * Under a cpu.max quota of 20% a 3 s run prints about cpu=0.60 wall=3.00. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(clockid_t c) {
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double secs = argc > 1 ? atof(argv[1]) : 1.0;
    if (secs <= 0) {
        fprintf(stderr, "usage: busy SECONDS\n");
        return 2;
    }
    double w0 = now(CLOCK_MONOTONIC), c0 = now(CLOCK_PROCESS_CPUTIME_ID);
    volatile unsigned long spin = 0;
    while (now(CLOCK_MONOTONIC) - w0 < secs)
        for (int i = 0; i < 100000; i++) spin++;
    printf("cpu=%.2f wall=%.2f\n", now(CLOCK_PROCESS_CPUTIME_ID) - c0, now(CLOCK_MONOTONIC) - w0);
    return 0;
}
