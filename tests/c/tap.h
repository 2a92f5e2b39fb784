/*
 * tap.h -- the tiny assertion harness of the C unit tests.  Each test file
 * calls CHECK(...) and ends with TEST_DONE(), which prints the plain
 * "N passed, N failed" line and returns non-zero on any failure.
 */
#ifndef PP_TAP_H
#define PP_TAP_H

#include <stdio.h>

static int tap_pass, tap_fail;

#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (cond) {                                                                      \
            tap_pass++;                                                                  \
        } else {                                                                         \
            tap_fail++;                                                                  \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);     \
        }                                                                                \
    } while (0)

#define CHECK_EQ_INT(a, b)                                                               \
    do {                                                                                 \
        long long va_ = (long long)(a), vb_ = (long long)(b);                            \
        if (va_ == vb_) {                                                                \
            tap_pass++;                                                                  \
        } else {                                                                         \
            tap_fail++;                                                                  \
            fprintf(stderr, "%s:%d: %s == %lld, expected %s == %lld\n", __FILE__,        \
                    __LINE__, #a, va_, #b, vb_);                                         \
        }                                                                                \
    } while (0)

#define TEST_DONE()                                                                      \
    do {                                                                                 \
        printf("%d passed, %d failed\n", tap_pass, tap_fail);                            \
        return tap_fail != 0;                                                            \
    } while (0)

#endif
