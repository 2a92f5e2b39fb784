/* The floor under pyprof's per-sample cost: what one process_vm_readv of
 * SIZE bytes from another process costs on this machine.
 *
 *   readv_floor PID [COUNT] [SIZE]    prints "ns_per_read N"
 *
 * Reads COUNT times, back to back, SIZE bytes (default 64) from the start of
 * the first readable mapping of PID.  Built and run by tests/bench/bench.py. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>

static unsigned long long
now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (unsigned long long)ts.tv_sec * 1000000000ULL + (unsigned long long)ts.tv_nsec;
}

int
main(int argc, char **argv)
{
    char path[64], line[512], perms[8], buf[4096];
    unsigned long lo = 0, hi;
    long count, size, i;
    int pid;
    FILE *f;
    unsigned long long t0, t1;

    if (argc < 2) {
        fprintf(stderr, "usage: readv_floor PID [COUNT] [SIZE]\n");
        return 2;
    }
    pid = atoi(argv[1]);
    count = argc > 2 ? atol(argv[2]) : 100000;
    size = argc > 3 ? atol(argv[3]) : 64;
    if (count <= 0 || size <= 0 || size > (long)sizeof(buf))
        return 2;
    snprintf(path, sizeof(path), "/proc/%d/maps", pid);
    if (!(f = fopen(path, "r"))) {
        perror(path);
        return 1;
    }
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "%lx-%lx %7s", &lo, &hi, perms) == 3 && perms[0] == 'r' &&
            hi - lo >= (unsigned long)size)
            break;
        else
            lo = 0;
    fclose(f);
    if (!lo) {
        fprintf(stderr, "no readable mapping in %s\n", path);
        return 1;
    }
    t0 = now_ns();
    for (i = 0; i < count; i++) {
        struct iovec local = {buf, (size_t)size}, remote = {(void *)lo, (size_t)size};
        if (process_vm_readv(pid, &local, 1, &remote, 1, 0) != size) {
            perror("process_vm_readv");
            return 1;
        }
    }
    t1 = now_ns();
    printf("ns_per_read %.1f\n", (double)(t1 - t0) / (double)count);
    return 0;
}
