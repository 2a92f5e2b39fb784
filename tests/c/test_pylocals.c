/*
 * test_pylocals.c -- `dump --locals` rendering (pylocals.c) on crafted and
 * garbage memory.
 *
 * An arena backend stands in for the target: reads inside [BASE, BASE +
 * SIZE) succeed, anything else is PP_EFAULT.  Crafted objects are laid out
 * with the real 3.12 and 3.10 layouts (the offsets pyprof reads through):
 * every rendered kind, the bounds (unbound, hidden, a heap type named "int",
 * a wild pointer, an out-of-range digit, a negative length, an empty cell,
 * kinds shorter than names).  Then garbage: random words, many of them
 * pointers back into the arena, read as frames and code objects; the
 * renderer must return, never crash or leak (ASan/UBSan), with bounded text.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "py/layout.h"
#include "pylocals.h"
#include "tap.h"

#define BASE 0x100000ull
#define SIZE (1u << 16)

static uint8_t arena[SIZE];
static uint64_t next_free;

static int
arena_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
    (void)m;
    if (addr < BASE || addr - BASE > SIZE || len > SIZE - (addr - BASE))
        return PP_EFAULT;
    memcpy(buf, arena + (addr - BASE), len);
    return 0;
}

static void
arena_destroy(struct pp_mem *m)
{
    (void)m;
}

static const struct pp_mem_ops arena_ops = {arena_read, NULL, arena_destroy};
static struct pp_mem mem = {&arena_ops, 0, 0, 0, 0, 0, NULL};

static void
reset(void)
{
    memset(arena, 0, sizeof arena);
    next_free = BASE + 64;
}

static uint64_t
alloc(size_t n)
{
    uint64_t a = next_free;
    next_free += (n + 15) & ~(size_t)15;
    if (next_free > BASE + SIZE) {
        fprintf(stderr, "arena full\n");
        exit(2);
    }
    return a;
}

static void
put(uint64_t addr, const void *v, size_t n)
{
    if (n)
        memcpy(arena + (addr - BASE), v, n);
}

static void
put64(uint64_t addr, uint64_t v)
{
    put(addr, &v, 8);
}

static const struct pp_pylayout *L;

static uint64_t
cstr(const char *s)
{
    uint64_t a = alloc(strlen(s) + 1);
    put(a, s, strlen(s) + 1);
    return a;
}

static uint64_t
type(const char *name, int heap)
{
    uint64_t t = alloc(1024);
    put64(t + (uint64_t)L->o.type_tp_name, cstr(name));
    put64(t + (uint64_t)L->o.type_tp_flags, heap ? (1u << 9) : 0);
    return t;
}

static uint64_t
object(uint64_t tp, size_t size)
{
    uint64_t o = alloc(size);
    put64(o + (uint64_t)L->o.object_ob_type, tp);
    return o;
}

static uint64_t t_str, t_int, t_none, t_float, t_tuple, t_bytes, t_list, t_cell, t_fake_int, t_bool;

static void
types(void)
{
    t_str = type("str", 0);
    t_int = type("int", 0);
    t_bool = type("bool", 0);
    t_none = type("NoneType", 0);
    t_float = type("float", 0);
    t_tuple = type("tuple", 0);
    t_bytes = type("bytes", 0);
    t_list = type("list", 0);
    t_cell = type("cell", 0);
    t_fake_int = type("int", 1); /* class int: ... */
}

static uint64_t
str(const char *s)
{
    uint64_t o = object(t_str, 128 + strlen(s));
    uint32_t state = 0x20 | 0x40 | (1u << 2) | 0x80; /* compact, ascii, kind 1, (ready) */
    put64(o + (uint64_t)L->o.unicode_length, strlen(s));
    put(o + (uint64_t)L->o.unicode_state, &state, 4);
    put(o + (uint64_t)L->o.unicode_ascii_size, s, strlen(s));
    return o;
}

static uint64_t
pyint(const uint32_t *digits, size_t n, int negative)
{
    uint64_t o = object(t_int, 64 + 4 * n);
    if (L->o.long_lv_tag >= 0)
        put64(o + (uint64_t)L->o.long_lv_tag, (n << 3) | (n == 0 ? 1 : negative ? 2 : 0));
    else
        put64(o + (uint64_t)L->o.varobject_ob_size, negative ? -(int64_t)n : (int64_t)n);
    put(o + (uint64_t)L->o.long_ob_digit, digits, 4 * n);
    return o;
}

static uint64_t
tuple(const uint64_t *items, size_t n)
{
    uint64_t o = object(t_tuple, 64 + 8 * n);
    put64(o + (uint64_t)L->o.varobject_ob_size, n);
    put(o + (uint64_t)L->o.tuple_ob_item, items, 8 * n);
    return o;
}

static uint64_t
bytes(const void *b, size_t n)
{
    uint64_t o = object(t_bytes, 64 + n);
    put64(o + (uint64_t)L->o.bytes_ob_size, n);
    put(o + (uint64_t)L->o.bytes_ob_sval, b, n);
    return o;
}

static char *
render(uint64_t frame, uint64_t code, uint64_t *errors)
{
    char *out = NULL;
    CHECK_EQ_INT(pp_pylocals_frame(&mem, L, frame, code, &out, errors), 0);
    return out;
}

static void
test_312(void)
{
    struct pp_pylayout lay;
    uint64_t names[12], vals[12], code, frame, errors = 0, f, lst;
    uint8_t kinds[12] = {0x22, 0x20, 0x20, 0x20, 0x20, 0x20, 0x20, 0x30, 0x20, 0x20, 0x20, 0x20};
    uint32_t seven = 7, big[2] = {0, 1}, bad[1] = {1u << 30};
    double tenth = 0.1;
    const char *nm[12] = {"a", "b", "c", "d", "e", "f", "g", "hidden", "h", "lst", "t", "extra"};
    char *out, expect[1024];
    size_t i;

    CHECK_EQ_INT(pp_pylayout_static(0x030c01f0, &lay), 0);
    L = &lay;
    reset();
    types();
    for (i = 0; i < 12; i++)
        names[i] = str(nm[i]);
    vals[0] = pyint(&seven, 1, 0);                   /* a = 7 */
    vals[1] = str("it's \"x\"\n");                  /* b */
    vals[2] = object(t_none, 16);                     /* c = None */
    vals[3] = object(t_fake_int, 64);                 /* d: a heap type named int */
    vals[4] = 0;                                      /* e: unbound */
    vals[5] = 0xdead0000;                             /* f: wild */
    vals[6] = pyint(bad, 1, 0);                       /* g: digit out of range */
    vals[7] = pyint(&seven, 1, 0);                    /* hidden */
    f = object(t_float, 32);
    put(f + (uint64_t)L->o.float_ob_fval, &tenth, 8);
    vals[8] = f;                                      /* h = 0.1 */
    lst = object(t_list, 64);
    put64(lst + (uint64_t)L->o.varobject_ob_size, (uint64_t)-5);
    vals[9] = lst;                                    /* lst: negative length */
    vals[10] = pyint(big, 2, 1);                      /* t = -(2**30) */
    vals[11] = pyint(&seven, 1, 0);                   /* beyond the kinds */
    code = alloc(512);
    put64(code + (uint64_t)L->o.code_localsplusnames, tuple(names, 12));
    put64(code + (uint64_t)L->o.code_localspluskinds, bytes(kinds, 11)); /* one short */
    frame = alloc(512);
    put(frame + (uint64_t)L->o.iframe_localsplus, vals, sizeof vals);

    out = render(frame, code, &errors);
    snprintf(expect, sizeof expect,
             "a = 7\nb = 'it\\'s \"x\"\\n'\nc = None\nd = <int at 0x%llx>\nf = <unreadable>\n"
             "g = <unreadable>\nh = 0.1\nlst = <list at 0x%llx>\nt = -1073741824\n",
             (unsigned long long)vals[3], (unsigned long long)lst);
    CHECK(out && strcmp(out, expect) == 0);
    if (out && strcmp(out, expect))
        fprintf(stderr, "got:\n%s\nexpected:\n%s", out, expect);
    CHECK_EQ_INT(errors, 3);
    free(out);

    /* a code object that is not there: one line, no crash */
    out = render(frame, 0xbad000, &errors);
    CHECK(out && strcmp(out, "<locals unreadable: code object>\n") == 0);
    free(out);

    /* values one by one */
    {
        char buf[128];
        uint32_t d3[3] = {0, 0, 1}; /* 2**60 */
        uint64_t big_digits[8] = {0};
        pp_pylocals_value(&mem, L, pyint(d3, 3, 0), buf, sizeof buf);
        CHECK(strcmp(buf, "1152921504606846976") == 0);
        memset(big_digits, 0, sizeof big_digits);
        ((uint32_t *)big_digits)[7] = 1; /* 2**210: 64 digits */
        pp_pylocals_value(&mem, L, pyint((uint32_t *)big_digits, 8, 0), buf, sizeof buf);
        CHECK(strcmp(buf, "<int of 64 digits>") == 0);
        pp_pylocals_value(&mem, L, pyint(NULL, 0, 0), buf, sizeof buf);
        CHECK(strcmp(buf, "0") == 0);
        {
            uint64_t b = object(t_bool, 64);
            put64(b + (uint64_t)L->o.long_lv_tag, 1); /* zero */
            pp_pylocals_value(&mem, L, b, buf, sizeof buf);
            CHECK(strcmp(buf, "False") == 0);
        }
        {
            uint64_t huge = object(t_int, 64);
            put64(huge + (uint64_t)L->o.long_lv_tag, (uint64_t)1 << 60); /* 2**57 digits */
            pp_pylocals_value(&mem, L, huge, buf, sizeof buf);
            CHECK(strncmp(buf, "<int of about ", 14) == 0);
        }
        {
            char longs[200];
            memset(longs, 'z', sizeof longs - 1);
            longs[sizeof longs - 1] = '\0';
            pp_pylocals_value(&mem, L, str(longs), buf, sizeof buf);
            CHECK(strlen(buf) == 80 + 2 + 3 && strcmp(buf + 82, "...") == 0);
            pp_pylocals_value(&mem, L, bytes(longs, 199), buf, sizeof buf);
            CHECK(strlen(buf) == 80 + 3 + 3 && buf[0] == 'b');
            pp_pylocals_value(&mem, L, bytes("\xff\x01", 2), buf, sizeof buf);
            CHECK(strcmp(buf, "b'\\xff\\x01'") == 0);
        }
        {
            uint64_t t = type("a name that is far too long to be any type's name, sixty four+", 0);
            pp_pylocals_value(&mem, L, object(t, 32), buf, sizeof buf);
            CHECK(strcmp(buf, "<unreadable>") == 0);
            t = type("bad\x01name", 0);
            pp_pylocals_value(&mem, L, object(t, 32), buf, sizeof buf);
            CHECK(strcmp(buf, "<unreadable>") == 0);
        }
        {
            /* a latin-1 str holding a C1 CSI (0x9b): escaped, never raw */
            uint64_t o = object(t_str, 128);
            uint32_t state = 0x20 | (1u << 2) | 0x80; /* compact, kind 1, not ascii */
            put64(o + (uint64_t)L->o.unicode_length, 3);
            put(o + (uint64_t)L->o.unicode_state, &state, 4);
            put(o + (uint64_t)L->o.unicode_compact_size, "a\x9b\xe9", 3);
            pp_pylocals_value(&mem, L, o, buf, sizeof buf);
            CHECK(strcmp(buf, "'a\\x9b\xc3\xa9'") == 0);
            if (strcmp(buf, "'a\\x9b\xc3\xa9'"))
                fprintf(stderr, "got %s\n", buf);
        }
        pp_pylocals_value(&mem, L, BASE + 3, buf, sizeof buf); /* misaligned */
        CHECK(strcmp(buf, "<unreadable>") == 0);
        pp_pylocals_value(&mem, L, vals[1], buf, 8); /* cut to the buffer */
        CHECK(strlen(buf) == 7);
    }
}

static void
test_310(void)
{
    struct pp_pylayout lay;
    uint64_t vn[2], cv[1], fv[1], vals[4], code, frame, cell, empty, errors = 0;
    uint32_t one = 1;
    int32_t nlocals = 2;
    char *out;

    CHECK_EQ_INT(pp_pylayout_static(0x030a0df0, &lay), 0);
    L = &lay;
    reset();
    types();
    vn[0] = str("x");
    vn[1] = str("y");
    cv[0] = str("captured");
    fv[0] = str("free");
    code = alloc(512);
    put(code + (uint64_t)L->o.code_nlocals, &nlocals, 4);
    put64(code + (uint64_t)L->o.code_varnames, tuple(vn, 2));
    put64(code + (uint64_t)L->o.code_cellvars, tuple(cv, 1));
    put64(code + (uint64_t)L->o.code_freevars, tuple(fv, 1));
    cell = object(t_cell, 32);
    put64(cell + (uint64_t)L->o.cell_ob_ref, pyint(&one, 1, 1));
    empty = object(t_cell, 32);
    vals[0] = object(t_none, 16);
    vals[1] = 0;
    vals[2] = cell;
    vals[3] = empty;
    frame = alloc(512);
    put(frame + (uint64_t)L->o.frameobj_f_localsplus, vals, sizeof vals);
    out = render(frame, code, &errors);
    CHECK(out && strcmp(out, "x = None\ncaptured = -1\n") == 0);
    if (out && strcmp(out, "x = None\ncaptured = -1\n"))
        fprintf(stderr, "got:\n%s", out);
    CHECK_EQ_INT(errors, 0);
    free(out);

    /* a names tuple that claims a billion entries: bounded */
    {
        uint64_t t = tuple(vn, 2);
        put64(t + (uint64_t)L->o.varobject_ob_size, 1000000000);
        nlocals = 1000000000;
        put(code + (uint64_t)L->o.code_nlocals, &nlocals, 4);
        put64(code + (uint64_t)L->o.code_varnames, t);
        out = render(frame, code, &errors);
        CHECK(out != NULL);
        free(out);
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t
next_rand(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static void
test_garbage(uint32_t version_hex)
{
    struct pp_pylayout lay;
    int iter;
    size_t i;

    CHECK_EQ_INT(pp_pylayout_static(version_hex, &lay), 0);
    L = &lay;
    for (iter = 0; iter < 400; iter++) {
        uint64_t frame, code, errors = 0;
        char *out = NULL;
        int bad = 0;
        for (i = 0; i < SIZE; i += 8) {
            uint64_t r = next_rand(), w;
            switch (r % 8) {
            case 0: case 1: case 2: w = BASE + (next_rand() % SIZE & ~(uint64_t)7); break;
            case 3: w = 0; break;
            case 4: w = next_rand() % 300; break;
            default: w = next_rand(); break;
            }
            memcpy(arena + i, &w, 8);
        }
        frame = BASE + (next_rand() % SIZE & ~(uint64_t)7);
        code = BASE + (next_rand() % SIZE & ~(uint64_t)7);
        if (pp_pylocals_frame(&mem, L, frame, code, &out, &errors) != 0 || !out)
            bad = 1;
        else if (strlen(out) > PP_PYLOCALS_MAX * 128 + 64)
            bad = 1;
        CHECK(!bad);
        free(out);
    }
}

int
main(void)
{
    test_312();
    test_310();
    test_garbage(0x030c01f0);
    test_garbage(0x030a0df0);
    test_garbage(0x030801f0);
    test_garbage(0x030b07f0);
    TEST_DONE();
}
