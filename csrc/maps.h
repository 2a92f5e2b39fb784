/*
 * maps.h -- /proc/PID/maps as data (layer L1).
 *
 * pp_maps_parse() is a pure function over the text, so it is unit-tested
 * and fuzzed without a process.  Paths are kept as the kernel prints them
 * (" (deleted)" stripped and flagged).
 */
#ifndef PP_MAPS_H
#define PP_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pp_map {
    uint64_t start, end, offset;
    uint64_t inode;
    bool r, w, x;
    bool deleted;
    char *path; /* owned; "" for anonymous */
};

struct pp_maps {
    struct pp_map *v;
    size_t n;
};

/* Parses maps text of length len.  Malformed lines are skipped. */
int pp_maps_parse(const char *text, size_t len, struct pp_maps *out);
/* Reads and parses /proc/<pid>/maps. */
int pp_maps_read(int pid, struct pp_maps *out);
void pp_maps_free(struct pp_maps *m);
/* The mapping containing addr, or NULL. */
const struct pp_map *pp_maps_find(const struct pp_maps *m, uint64_t addr);
/* Lowest mapping of the file at path with offset 0, or NULL. */
const struct pp_map *pp_maps_file_base(const struct pp_maps *m, const char *path);

#endif
