/*
 * tests/c/test_maps.c -- pp_maps_parse / pp_maps_find / pp_maps_file_base
 * on realistic /proc/PID/maps text (maps.h).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "maps.h"
#include "tap.h"

/* A pyenv python3.11 with a shared libpython, trimmed, plus the oddities
 * the kernel really prints.  Malformed lines are marked; they must be
 * skipped without disturbing their neighbours. */
static const char maps_text[] =
    "55f1c2a00000-55f1c2a01000 r--p 00000000 fd:01 1311033                    "
    "/root/.pyenv/versions/3.11.7/bin/python3.11\n"
    "55f1c2a01000-55f1c2a02000 r-xp 00001000 fd:01 1311033                    "
    "/root/.pyenv/versions/3.11.7/bin/python3.11\n"
    "55f1c2a02000-55f1c2a03000 r--p 00002000 fd:01 1311033                    "
    "/root/.pyenv/versions/3.11.7/bin/python3.11\n"
    "55f1c3c4e000-55f1c3d8f000 rw-p 00000000 00:00 0                          [heap]\n"
    "this is not a maps line\n"                                               /* bad */
    "\n"                                                                      /* bad */
    "7f0e1a000000-7f0e1a021000 rw-p 00000000 00:00 0 \n"                      /* anon */
    "7f0e1a021000-7f0e1e000000 ---p 00000000 00:00 0 \n"
    "7f0e1e100000-7f0e1e1b2000 r--p 00000000 fd:01 1311100                    "
    "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n"
    "7f0e1e1b2000-7f0e1e3b5000 r-xp 000b2000 fd:01 1311100                    "
    "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n"
    "7f0e1e3b5000-7f0e1e4a1000 r--p 002b5000 fd:01 1311100                    "
    "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n"
    "7f0e1e4a1000-7f0e1e4a8000 rw-p 003a0000 fd:01 1311100                    "
    "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0\n"
    "7f0e1e4a8000-7f0e1e4f0000 rw-p 00000000 00:00 0 \n"
    "7f0e1e500000-7f0e1e400000 r--p 00000000 fd:01 1 /end/before/start.so\n" /* bad */
    "7f0e1e600000-7f0e1e601000 r--p 00000000 fd:01 77 /opt/my app/lib spaced.so\n"
    "7f0e1e601000-7f0e1e602000 r-xp 00001000 fd:01 77 /opt/my app/lib spaced.so\n"
    "7f0e1e700000-7f0e1e701000 r-xp 00002000 fd:01 88 /tmp/gone (deleted)\n"
    "7f0e1e701000-7f0e1e702000 r--p 00000000 fd:01 88 /tmp/gone (deleted)\n"
    "7f0e1e800000-7f0e1e801000 r-x 00000000 fd:01 89 /short/perms.so\n"  /* bad */
    "7f0e1e900000-7f0e1e901000 r-xp 00000000 fd:01 /no/inode.so\n"       /* bad */
    "7f0e1ea00000 r-xp 00000000 fd:01 90 /no/end.so\n"                  /* bad */
    "7f0e1eb00000-7f0e1eb01000 r-xp zz000000 fd:01 91 /bad/offset.so\n" /* bad */
    "10000000000000000-10000000000001000 r-xp 00000000 fd:01 92 /too/many/digits.so\n" /* bad */
    "7f0e1ed00000-7f0e1ed01000 r-xp 00000000 fd01 93 /no/colon.so\n"    /* bad */
    "7f0e1ee00000-7f0e1ee01000 r--s 00000000 00:05 94 /dev/shm/x (deleted) (deleted)\n"
    "7ffd5c1a0000-7ffd5c1c1000 rw-p 00000000 00:00 0                          [stack]\n"
    "7ffd5c1f0000-7ffd5c1f4000 r--p 00000000 00:00 0                          [vvar]\n"
    "7ffd5c1f4000-7ffd5c1f6000 r-xp 00000000 00:00 0                          [vdso]\n"
    "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]";
/* (no newline after the last line) */

#define LIBPY "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so.1.0"
#define EXE "/root/.pyenv/versions/3.11.7/bin/python3.11"

static void
test_parse(struct pp_maps *m)
{
    size_t i;

    CHECK_EQ_INT(pp_maps_parse(maps_text, strlen(maps_text), m), 0);
    CHECK_EQ_INT(m->n, 20);
    if (m->n != 20)
        return;
    /* sorted and non-overlapping, as the kernel prints them */
    for (i = 1; i < m->n; i++)
        CHECK(m->v[i - 1].end <= m->v[i].start);

    CHECK_EQ_INT(m->v[0].start, 0x55f1c2a00000ULL);
    CHECK_EQ_INT(m->v[0].end, 0x55f1c2a01000ULL);
    CHECK_EQ_INT(m->v[0].offset, 0);
    CHECK_EQ_INT(m->v[0].inode, 1311033);
    CHECK(m->v[0].r && !m->v[0].w && !m->v[0].x);
    CHECK(strcmp(m->v[0].path, EXE) == 0);
    CHECK(!m->v[0].deleted);

    CHECK(m->v[1].r && !m->v[1].w && m->v[1].x);
    CHECK_EQ_INT(m->v[1].offset, 0x1000);

    CHECK(strcmp(m->v[3].path, "[heap]") == 0);
    CHECK(m->v[3].r && m->v[3].w && !m->v[3].x);
    CHECK_EQ_INT(m->v[3].inode, 0);

    /* anonymous: empty path, trailing space dropped */
    CHECK(strcmp(m->v[4].path, "") == 0);
    CHECK_EQ_INT(m->v[4].start, 0x7f0e1a000000ULL);
    CHECK(strcmp(m->v[5].path, "") == 0);
    CHECK(!m->v[5].r && !m->v[5].w && !m->v[5].x);

    CHECK(strcmp(m->v[6].path, LIBPY) == 0);
    CHECK_EQ_INT(m->v[7].offset, 0xb2000);
    CHECK_EQ_INT(m->v[9].offset, 0x3a0000);
    CHECK(m->v[9].w);
    CHECK(strcmp(m->v[10].path, "") == 0);

    /* spaces inside a path are kept */
    CHECK(strcmp(m->v[11].path, "/opt/my app/lib spaced.so") == 0);
    CHECK(strcmp(m->v[12].path, "/opt/my app/lib spaced.so") == 0);
    CHECK_EQ_INT(m->v[11].inode, 77);

    /* " (deleted)" is stripped once and flagged */
    CHECK(strcmp(m->v[13].path, "/tmp/gone") == 0);
    CHECK(m->v[13].deleted);
    CHECK(m->v[14].deleted);
    CHECK(strcmp(m->v[15].path, "/dev/shm/x (deleted)") == 0);
    CHECK(m->v[15].deleted);

    CHECK(strcmp(m->v[16].path, "[stack]") == 0);
    CHECK(strcmp(m->v[17].path, "[vvar]") == 0);
    CHECK(strcmp(m->v[18].path, "[vdso]") == 0);
    CHECK(m->v[18].x);
    /* the last line has no newline; 16 hex digits still fit */
    CHECK(strcmp(m->v[19].path, "[vsyscall]") == 0);
    CHECK_EQ_INT(m->v[19].start, 0xffffffffff600000ULL);
    CHECK_EQ_INT(m->v[19].end, 0xffffffffff601000ULL);
    /* no malformed line slipped through */
    for (i = 0; i < m->n; i++) {
        CHECK(strstr(m->v[i].path, ".so") == NULL || strstr(m->v[i].path, "spaced") ||
              strstr(m->v[i].path, "libpython"));
        CHECK(m->v[i].start < m->v[i].end);
    }
}

static void
test_find(const struct pp_maps *m)
{
    const struct pp_map *p;

    CHECK(pp_maps_find(m, 0) == NULL);
    CHECK(pp_maps_find(m, 0x55f1c29fffffULL) == NULL);                /* before the first */
    CHECK(pp_maps_find(m, 0x55f1c2a00000ULL) == &m->v[0]);            /* first byte */
    CHECK(pp_maps_find(m, 0x55f1c2a00fffULL) == &m->v[0]);            /* last byte */
    CHECK(pp_maps_find(m, 0x55f1c2a01000ULL) == &m->v[1]);            /* adjacent: next */
    CHECK(pp_maps_find(m, 0x55f1c2a03000ULL) == NULL);                /* end is exclusive */
    CHECK(pp_maps_find(m, 0x55f1c3000000ULL) == NULL);                /* gap */
    CHECK(pp_maps_find(m, 0x55f1c3c4e123ULL) == &m->v[3]);            /* heap */
    p = pp_maps_find(m, 0x7f0e1e1b2000ULL + 0x1234);
    CHECK(p == &m->v[7]);
    CHECK(p && p->x);
    CHECK(pp_maps_find(m, 0x7f0e1e4effffULL) == &m->v[10]);
    CHECK(pp_maps_find(m, 0x7f0e1e4f0000ULL) == NULL);
    CHECK(pp_maps_find(m, 0x7ffd5c1c0fffULL) == &m->v[16]);
    CHECK(pp_maps_find(m, 0xffffffffff600000ULL) == &m->v[19]);
    CHECK(pp_maps_find(m, 0xffffffffff600fffULL) == &m->v[19]);
    CHECK(pp_maps_find(m, 0xffffffffff601000ULL) == NULL);            /* past the last */
    CHECK(pp_maps_find(m, UINT64_MAX) == NULL);

    /* every mapping's first and last byte finds itself */
    {
        size_t i, bad = 0;
        for (i = 0; i < m->n; i++)
            bad += pp_maps_find(m, m->v[i].start) != &m->v[i] ||
                   pp_maps_find(m, m->v[i].end - 1) != &m->v[i];
        CHECK_EQ_INT(bad, 0);
    }
    /* empty and single-entry sets */
    {
        struct pp_maps e = {NULL, 0}, one;
        static const char t1[] = "1000-2000 r-xp 00000000 00:00 0 /x\n";
        CHECK(pp_maps_find(&e, 0x1000) == NULL);
        CHECK_EQ_INT(pp_maps_parse(t1, sizeof t1 - 1, &one), 0);
        CHECK_EQ_INT(one.n, 1);
        CHECK(pp_maps_find(&one, 0xfff) == NULL);
        CHECK(pp_maps_find(&one, 0x1000) == &one.v[0]);
        CHECK(pp_maps_find(&one, 0x1fff) == &one.v[0]);
        CHECK(pp_maps_find(&one, 0x2000) == NULL);
        pp_maps_free(&one);
        CHECK_EQ_INT(one.n, 0);
        CHECK(one.v == NULL);
    }
}

static void
test_file_base(const struct pp_maps *m)
{
    const struct pp_map *p;

    p = pp_maps_file_base(m, LIBPY);
    CHECK(p == &m->v[6]);
    CHECK(p && p->start == 0x7f0e1e100000ULL);
    CHECK(pp_maps_file_base(m, EXE) == &m->v[0]);
    CHECK(pp_maps_file_base(m, "/opt/my app/lib spaced.so") == &m->v[11]);
    /* the deleted file: found by its real path; its offset-0 mapping is
     * the second one listed */
    CHECK(pp_maps_file_base(m, "/tmp/gone") == &m->v[14]);
    CHECK(pp_maps_file_base(m, "/tmp/gone (deleted)") == NULL);
    CHECK(pp_maps_file_base(m, "/root/.pyenv/versions/3.11.7/lib/libpython3.11.so") == NULL);
    CHECK(pp_maps_file_base(m, "/not/mapped") == NULL);
    CHECK(pp_maps_file_base(m, "[heap]") == &m->v[3]);
}

static void
test_hostile(void)
{
    /* arbitrary bytes and truncations of the real text never crash and
     * never yield an inverted mapping */
    size_t cut, i, bad = 0;
    for (cut = 0; cut <= strlen(maps_text); cut += 7) {
        struct pp_maps m;
        char *copy = malloc(cut ? cut : 1);
        memcpy(copy, maps_text, cut);
        if (pp_maps_parse(copy, cut, &m) == 0) {
            for (i = 0; i < m.n; i++)
                bad += m.v[i].start >= m.v[i].end || m.v[i].path == NULL;
            pp_maps_free(&m);
        } else {
            bad++;
        }
        free(copy);
    }
    CHECK_EQ_INT(bad, 0);
    {
        uint32_t seed = 99;
        int iter;
        for (iter = 0; iter < 2000; iter++) {
            char buf[200];
            size_t len, k;
            struct pp_maps m;
            seed = seed * 1103515245u + 12345u;
            len = (seed >> 8) % sizeof buf;
            memcpy(buf, maps_text, len);
            for (k = 0; k < len; k += 1 + (seed >> 20) % 9) {
                seed = seed * 1103515245u + 12345u;
                buf[k] = (char)(seed >> 16);
            }
            if (pp_maps_parse(buf, len, &m) == 0) {
                for (i = 0; i < m.n; i++)
                    bad += m.v[i].start >= m.v[i].end;
                pp_maps_free(&m);
            }
        }
        CHECK_EQ_INT(bad, 0);
    }
}

static void
test_read_self(void)
{
    /* our own maps: the code of this function is in an executable mapping */
    struct pp_maps m;
    const struct pp_map *p;
    CHECK_EQ_INT(pp_maps_read(getpid(), &m), 0);
    CHECK(m.n > 5);
    p = pp_maps_find(&m, (uint64_t)(uintptr_t)&test_read_self);
    CHECK(p != NULL && p->x && p->path[0] == '/');
    pp_maps_free(&m);
    CHECK_EQ_INT(pp_maps_read(0x7ffffff0, &m), PP_ENOPROC);
}

int
main(void)
{
    struct pp_maps m;
    test_parse(&m);
    test_find(&m);
    test_file_base(&m);
    pp_maps_free(&m);
    test_hostile();
    test_read_self();
    TEST_DONE();
}
