/*
 * out.h -- writers for the raw and collapsed formats (layer L4).
 *
 * Pure functions of an aggregation plus metadata; they never see the
 * target.  A regular file is written atomically: to a temporary with an
 * unpredictable name in the same directory (O_EXCL|O_NOFOLLOW, mode 0600
 * unless pp_out_set_mode says otherwise), fsync(2), then rename(2), so a
 * reader never sees half a file and no planted symlink is followed.  "-"
 * (standard output), a FIFO or a character device is streamed into and
 * never replaced; a symlink to anything else is refused.  Formats:
 * docs/format.md; the rules: docs/sampler-cli.md "Output files".
 */
#ifndef PP_OUT_H
#define PP_OUT_H

#include <stdbool.h>
#include <stdint.h>

#include "agg.h"

#define PP_OUT_MAX_KV 48

struct pp_out_info {
    size_t nmeta, nstats;
    const char *meta_key[PP_OUT_MAX_KV];
    char meta_val[PP_OUT_MAX_KV][512];
    const char *stat_key[PP_OUT_MAX_KV];
    uint64_t stat_val[PP_OUT_MAX_KV];
};

void pp_out_meta(struct pp_out_info *info, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void pp_out_stat(struct pp_out_info *info, const char *key, uint64_t val);

/* Permission bits of the files created from now on (default 0600). */
void pp_out_set_mode(unsigned mode);
/* After PP_EOUTPUT: the path that failed ("standard output" for "-"), the
 * errno that says why, and whether it was the temporary file next to it
 * that could not be created. */
const char *pp_out_error(int *errnum, bool *creating_tmp);

int pp_out_write_raw(const struct pp_agg *a, const struct pp_out_info *info, const char *path);
int pp_out_write_collapsed(const struct pp_agg *a, bool threads, const char *path);

/* The collapsed text of one frame (sanitised), for dump and tests. */
void pp_out_frame_text(const struct pp_agg *a, uint32_t frame_id, char *buf, size_t len);

#endif
