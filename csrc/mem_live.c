/*
 * mem_live.c -- live memory backend: process_vm_readv on a PID (layer L1).
 *
 * The kernel may return a short count when a range crosses into an
 * unmapped page; we loop on the remainder, and a short read that makes no
 * progress is PP_EFAULT.  ESRCH (process gone) is PP_EGONE, EPERM is
 * PP_EPERM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <sys/uio.h>

#include "err.h"
#include "mem.h"

struct mem_live {
    struct pp_mem base;
    int pid;
};

static int
live_read(struct pp_mem *m, uint64_t addr, void *buf, size_t len)
{
    struct mem_live *l = (struct mem_live *)m;
    char *out = buf;

    while (len > 0) {
        struct iovec local = {out, len};
        struct iovec remote = {(void *)(uintptr_t)addr, len};
        ssize_t n = process_vm_readv(l->pid, &local, 1, &remote, 1, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            if (errno == ESRCH)
                return PP_EGONE;
            if (errno == EPERM)
                return PP_EPERM;
            return PP_EFAULT;
        }
        if (n == 0)
            return PP_EFAULT;
        out += n;
        addr += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

#define LIVE_IOV_MAX 512

/*
 * Batched reads.  The kernel never splits an iovec element, so the byte
 * count returned tells exactly which ranges were read: the completed
 * prefix is ok, the next one failed, and the call resumes after it.
 */
static int
live_readv(struct pp_mem *m, const struct pp_mem_iov *iov, size_t n, bool *ok)
{
    struct mem_live *l = (struct mem_live *)m;
    struct iovec local[LIVE_IOV_MAX], remote[LIVE_IOV_MAX];
    size_t done = 0;
    int first = 0;

    while (done < n) {
        size_t k = n - done < LIVE_IOV_MAX ? n - done : LIVE_IOV_MAX, i;
        ssize_t got;
        for (i = 0; i < k; i++) {
            local[i].iov_base = iov[done + i].buf;
            local[i].iov_len = iov[done + i].len;
            remote[i].iov_base = (void *)(uintptr_t)iov[done + i].addr;
            remote[i].iov_len = iov[done + i].len;
        }
        do
            got = process_vm_readv(l->pid, local, k, remote, k, 0);
        while (got < 0 && errno == EINTR);
        if (got < 0) {
            int err = errno == ESRCH ? PP_EGONE : errno == EPERM ? PP_EPERM : PP_EFAULT;
            if (err != PP_EFAULT) { /* the whole process, not one range */
                for (i = done; i < n; i++)
                    ok[i] = false;
                return err;
            }
            got = 0;
        }
        for (i = 0; i < k; i++) {
            size_t len = iov[done + i].len;
            if ((size_t)got >= len) {
                ok[done + i] = true;
                got -= (ssize_t)len;
            } else {
                break;
            }
        }
        if (i < k) { /* range done+i failed (or a zero-length prefix) */
            ok[done + i] = false;
            if (!first)
                first = PP_EFAULT;
            i++;
        }
        done += i;
    }
    return first;
}

static void
live_destroy(struct pp_mem *m)
{
    free(m);
}

static const struct pp_mem_ops live_ops = {live_read, live_readv, live_destroy};

int
pp_mem_live_new(int pid, struct pp_mem **out)
{
    struct mem_live *l = calloc(1, sizeof(*l));
    if (!l)
        return PP_ENOMEM;
    l->base.ops = &live_ops;
    l->pid = pid;
    *out = &l->base;
    return 0;
}
