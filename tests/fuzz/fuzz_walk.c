/*
 * fuzz_walk.c -- libFuzzer target for the whole Python-memory walk: the
 * input is a memory snapshot (mem_snap.c format; the fixtures of
 * tests/fixtures/ are the seed corpus) replayed through the snapshot
 * backend.  Its meta text names the runtime address and version; the walk
 * (thread states, frames, code objects, strings, line tables) runs under
 * that version's layout and then under every other supported one, so
 * "valid memory, wrong layout" is fuzzed too.  Errors are expected; a
 * crash, an out-of-bounds access or a hang is a bug.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "py/layout.h"
#include "pycode.h"
#include "pyframe.h"
#include "pystack.h"
#include "util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
quiet(enum pp_log_level level, const char *msg)
{
    (void)level;
    (void)msg;
}

static uint64_t
meta_hex(const char *meta, const char *key)
{
    const char *p = meta ? strstr(meta, key) : NULL;
    return p ? strtoull(p + strlen(key), NULL, 16) : 0;
}

static void
walk_all(struct pp_mem *mem, const struct pp_pylayout *L, uint64_t runtime)
{
    struct pp_strtab strs;
    struct pp_pycode codes;
    struct pp_pywalker w;
    struct pp_agg agg;
    struct pp_pystack_reader reader;
    struct pp_vec threads;
    size_t i;

    pp_strtab_init(&strs);
    pp_pycode_init(&codes, &strs);
    pp_agg_init(&agg, &strs);
    pp_pywalker_init(&w, mem, L, &codes, runtime);
    pp_vec_init(&threads, sizeof(struct pp_pythread));
    /* the reader the sampler uses */
    if (pp_pystack_init(&reader, &w, &codes, &agg) == 0 && pp_pyframe_threads(&w, &threads) == 0) {
        for (i = 0; i < threads.len && i < 16; i++) {
            struct pp_pystack ps;
            (void)pp_pystack_read(&reader, pp_vec_at(&threads, i), PP_MAX_DEPTH, &ps);
        }
    }
    pp_pystack_free(&reader);
    pp_agg_free(&agg);
    pp_vec_free(&threads);
    pp_pywalker_free(&w);
    pp_pycode_free(&codes);
    pp_strtab_free(&strs);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const uint32_t versions[] = {0x030812f0, 0x030912f0, 0x030a0df0,
                                        0x030b07f0, 0x030c01f0, 0x030d00f0};
    struct pp_mem *mem;
    const char *meta;
    uint64_t runtime;
    uint32_t own;
    size_t v;

    pp_log_set_sink(quiet);
    if (pp_mem_snap_from_buffer(data, size, &mem) != 0)
        return 0;
    meta = pp_mem_snap_meta(mem);
    runtime = meta_hex(meta, "runtime_addr=");
    own = (uint32_t)meta_hex(meta, "version_hex=");
    for (v = 0; v < sizeof(versions) / sizeof(versions[0]); v++) {
        struct pp_pylayout L;
        uint32_t ver = versions[v];
        int err;
        if (((own >> 16) & 0xff) == ((ver >> 16) & 0xff))
            ver = own;
        err = pp_pylayout_pick(mem, runtime, ver, &L);
        if (err == 0)
            walk_all(mem, &L, runtime);
    }
    pp_mem_free(mem);
    return 0;
}
