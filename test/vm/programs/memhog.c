/* memhog N: allocates and touches N MB, 1 MB at a time, printing "touched=K" (MB) after each
 * step, then "memhog: done N MB". Under memory.max it is OOM-killed part way (exit 137). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv) {
    long mb = argc > 1 ? atol(argv[1]) : 0;
    if (mb <= 0) {
        fprintf(stderr, "usage: memhog MEGABYTES\n");
        return 2;
    }
    setvbuf(stdout, NULL, _IOLBF, 0); /* every line is out before a possible OOM kill */
    for (long i = 1; i <= mb; i++) {
        char *p = malloc(1 << 20);
        if (!p) {
            printf("memhog: malloc failed after %ld MB\n", i - 1);
            return 1;
        }
        for (long off = 0; off < (1 << 20); off += 4096) p[off] = (char)(off | 1); /* fault every page in */
        printf("touched=%ld\n", i);
    }
    printf("memhog: done %ld MB\n", mb);
    return 0;
}
