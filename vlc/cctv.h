/* SPDX-License-Identifier: MIT
 *
 * C ABI of the gst-cctv engine (vlc/src/capi.rs; the crate cctv-vlc, built as
 * a static library). Handles are opaque and used by one thread at a time;
 * every pointer handed out is owned by the handle. See vlc/src/capi.rs for the
 * contract of each function.
 */
#ifndef CCTV_H
#define CCTV_H

#include <stddef.h>
#include <stdint.h>

typedef struct CctvHandle cctv_handle;

enum { CCTV_KIND_VIDEO = 0, CCTV_KIND_AUDIO = 1, CCTV_KIND_TEXT = 2 };
enum {
    CCTV_PROBE_NONE = 0,
    CCTV_PROBE_PAVS_LIKELY = 1,
    CCTV_PROBE_PAVS = 2,
    CCTV_PROBE_SAYS = 3,
};

typedef struct
{
    int kind;
    char fourcc[4];
    uint32_t width, height, sar_num, sar_den, fps_num, fps_den;
    uint32_t rate, channels;
    const char *name;
    const char *description;
    const uint8_t *extra;
    size_t extra_len;
} cctv_stream;

typedef struct
{
    uint32_t stream;
    int key;
    int discont;
    int64_t pts_us, dts_us, duration_us; /* -1: unknown; a cue lasts until the next */
    const uint8_t *data;
    size_t len;
} cctv_packet;

typedef int64_t (*cctv_read_fn)(void *opaque, uint64_t offset, uint8_t *buf, size_t len);

extern const size_t CCTV_PROBE_WINDOW;

int cctv_probe(const uint8_t *data, size_t len);
cctv_handle *cctv_open(const uint8_t *peek, size_t peek_len, int64_t size, int seekable,
                       cctv_read_fn read, void *opaque);
cctv_handle *cctv_open_rf1(const char *path);
/* A camera of a folder of .psf/.nvr recordings as one stream; camera: a
 * number, name or id, NULL for the first camera. */
cctv_handle *cctv_open_case(const char *path, const char *camera);
void cctv_close(cctv_handle *h);
size_t cctv_stream_count(cctv_handle *h);
/* Valid until cctv_close, also after later streams appear. */
const cctv_stream *cctv_stream_get(cctv_handle *h, size_t index);
int cctv_next(cctv_handle *h, cctv_packet *out);
int64_t cctv_seek(cctv_handle *h, int64_t time_us);
int cctv_can_seek(cctv_handle *h);
int64_t cctv_duration(cctv_handle *h);
size_t cctv_meta_count(cctv_handle *h);
int cctv_meta_get(cctv_handle *h, size_t index, const char **key, const char **value);

#endif
