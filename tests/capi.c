/* SPDX-License-Identifier: MIT
 *
 * The engine's C ABI (vlc/cctv.h) driven from C without VLC, as the VLC
 * shim drives it: probe, open with a read callback, streams, meta,
 * packets, duration, seek. Built and run by tests/vlc.rs (also with
 * AddressSanitizer, so a pointer the ABI hands out that dies too early is
 * caught).
 *   capi_test SAMPLES_DIR [LATE_STREAMS_FILE]
 *       the checks; LATE_STREAMS_FILE: a recording whose streams appear
 *       while playing (uses a stream pointer taken before they did)
 *   capi_test --count FILE
 *       what a front end gets: "stream NAME FOURCC PACKETS BYTES" per
 *       stream, then "cue NAME PTS_US DURATION_US TEXT" per subtitle cue,
 *       and "late N": cues that came after pictures 0.1 s later than them
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cctv.h"

static int failures;
#define CHECK(c)                                                          \
    do {                                                                  \
        if (!(c)) {                                                       \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__,        \
                    __LINE__, #c);                                        \
            failures++;                                                   \
        }                                                                 \
    } while (0)

static int64_t read_at(void *opaque, uint64_t offset, uint8_t *buf, size_t len)
{
    return pread(*(int *)opaque, buf, len, (off_t)offset);
}

static cctv_handle *open_file(const char *path, int *fd)
{
    *fd = open(path, O_RDONLY);
    if (*fd < 0)
        return NULL;
    uint8_t head[65536];
    ssize_t n = pread(*fd, head, sizeof(head), 0);
    off_t size = lseek(*fd, 0, SEEK_END);
    return cctv_open(head, n > 0 ? (size_t)n : 0, size, 1, read_at, fd);
}

static int has_suffix(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Prints every stream's packet count and bytes, and every cue. */
static int count(const char *path)
{
    int fd = -1;
    cctv_handle *h = has_suffix(path, ".rf1i") || has_suffix(path, ".rf1p")
                         ? cctv_open_rf1(path)
                         : open_file(path, &fd);
    if (h == NULL) {
        fprintf(stderr, "cannot open %s\n", path);
        return 1;
    }
    size_t cap = 0;
    long *packets = NULL, *bytes = NULL;
    cctv_packet p;
    int r;
    char *cues = NULL;
    size_t cues_len = 0;
    int64_t max_dts = -1;
    long late = 0;
    FILE *cue_out = open_memstream(&cues, &cues_len);
    while ((r = cctv_next(h, &p)) == 1) {
        size_t n = cctv_stream_count(h);
        if (n > cap) {
            packets = realloc(packets, n * sizeof(*packets));
            bytes = realloc(bytes, n * sizeof(*bytes));
            memset(packets + cap, 0, (n - cap) * sizeof(*packets));
            memset(bytes + cap, 0, (n - cap) * sizeof(*bytes));
            cap = n;
        }
        if (p.stream >= cap)
            continue;
        packets[p.stream]++;
        bytes[p.stream] += (long)p.len;
        const cctv_stream *st = cctv_stream_get(h, p.stream);
        if (st->kind == CCTV_KIND_TEXT) {
            fprintf(cue_out, "cue %s %lld %lld %.*s\n", st->name, (long long)p.pts_us,
                    (long long)p.duration_us, (int)p.len, (const char *)p.data);
            /* A player shows a cue only from when it gets it: after
             * pictures more than 0.1 s later, it comes late. */
            if (p.pts_us >= 0 && p.pts_us + 100000 < max_dts)
                late++;
        } else if (p.dts_us > max_dts)
            max_dts = p.dts_us;
    }
    fclose(cue_out);
    for (size_t i = 0; i < cctv_stream_count(h); i++) {
        const cctv_stream *st = cctv_stream_get(h, i);
        printf("stream %s %.4s %ld %ld\n", st->name, st->fourcc, i < cap ? packets[i] : 0,
               i < cap ? bytes[i] : 0);
    }
    fputs(cues ? cues : "", stdout);
    printf("late %ld\n", late);
    printf("end %d\n", r);
    free(cues);
    free(packets);
    free(bytes);
    cctv_close(h);
    if (fd >= 0)
        close(fd);
    return r == 0 ? 0 : 1;
}

/* A stream pointer taken before later streams appear stays valid until
 * close (vlc/cctv.h), as the VLC shim relies on. */
static void late_streams(const char *path)
{
    int fd;
    cctv_handle *h = open_file(path, &fd);
    CHECK(h != NULL);
    if (h == NULL)
        return;
    size_t first_count = cctv_stream_count(h);
    const cctv_stream *first = cctv_stream_get(h, 0);
    CHECK(first != NULL);
    char name[64];
    snprintf(name, sizeof(name), "%s", first->name);
    cctv_packet p;
    while (cctv_next(h, &p) == 1)
        ;
    CHECK(cctv_stream_count(h) > first_count);
    /* Use the first pointer now: under AddressSanitizer a dangling one is
     * a heap-use-after-free. */
    CHECK(first->kind == CCTV_KIND_VIDEO);
    CHECK(!strcmp(first->name, name));
    CHECK(first == cctv_stream_get(h, 0));
    cctv_close(h);
    close(fd);
}

static const char *meta(cctv_handle *h, const char *key)
{
    for (size_t i = 0; i < cctv_meta_count(h); i++) {
        const char *k, *v;
        if (cctv_meta_get(h, i, &k, &v) && !strcmp(k, key))
            return v;
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "--count"))
        return argc == 3 ? count(argv[2]) : 2;
    if (argc > 2)
        late_streams(argv[2]);
    char path[4096];
    int fd;
    cctv_packet p;

    /* Nothing crashes on null handles or junk. */
    CHECK(cctv_next(NULL, &p) == -1);
    CHECK(cctv_seek(NULL, 0) == -1);
    CHECK(cctv_stream_count(NULL) == 0);
    cctv_close(NULL);
    uint8_t junk[4096];
    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 2654435761u >> 13);
    CHECK(cctv_probe(junk, sizeof(junk)) == CCTV_PROBE_NONE);
    CHECK(cctv_open(junk, sizeof(junk), sizeof(junk), 1, read_at, &fd) == NULL);

    /* video1.psf: 18 pictures of camera ALLEY, SPS/PPS before key frames,
     * and the capture time as subtitle cues. */
    snprintf(path, sizeof(path), "%s/pavs/video1.psf", argv[1]);
    cctv_handle *h = open_file(path, &fd);
    CHECK(h != NULL);
    if (h) {
        CHECK(cctv_stream_count(h) == 2);
        const cctv_stream *cue = cctv_stream_get(h, 1);
        CHECK(cue && cue->kind == CCTV_KIND_TEXT && !memcmp(cue->fourcc, "subt", 4));
        const cctv_stream *st = cctv_stream_get(h, 0);
        CHECK(st->kind == CCTV_KIND_VIDEO && !memcmp(st->fourcc, "h264", 4));
        CHECK(st->width == 704 && st->height == 240);
        CHECK(!strcmp(st->description, "ALLEY [09]"));
        CHECK(meta(h, "date") && !strncmp(meta(h, "date"), "2021-09-01", 10));
        int n = 0, keys = 0, cues = 0;
        int64_t last = -1;
        while (cctv_next(h, &p) == 1) {
            if (p.stream == 1) {
                /* "2021-09-01 07:00:01 UTC", lasting until the next cue */
                CHECK(p.len > 19 && !memcmp(p.data, "2021-09-01 ", 11));
                CHECK(p.duration_us > 0);
                cues++;
                continue;
            }
            CHECK(p.stream == 0);
            CHECK(p.pts_us >= last);
            last = p.pts_us;
            if (p.key) {
                keys++;
                CHECK(p.len > 5 && !memcmp(p.data, "\0\0\0\1\x67", 5));
            }
            n++;
        }
        CHECK(n == 18 && keys == 9 && cues > 0);
        CHECK(cctv_duration(h) > last);
        /* Seek to 3.2 s: the key frame at 3.0 s (gap compacted). */
        int64_t key = cctv_seek(h, 3200000);
        CHECK(key > 2500000 && key <= 3200000);
        /* the cue of that picture first, then the picture */
        CHECK(cctv_next(h, &p) == 1 && p.stream == 1 && p.pts_us == key);
        CHECK(cctv_next(h, &p) == 1 && p.stream == 0 && p.key && p.pts_us == key);
        cctv_close(h);
        close(fd);
    }

    /* two_cameras.nvr: two cameras and audio; seek restarts each camera at
     * its own key frame. */
    snprintf(path, sizeof(path), "%s/says/two_cameras.nvr", argv[1]);
    h = open_file(path, &fd);
    CHECK(h != NULL);
    if (h) {
        int video = 0, audio = 0;
        for (size_t i = 0; i < cctv_stream_count(h); i++) {
            const cctv_stream *st = cctv_stream_get(h, i);
            video += st->kind == CCTV_KIND_VIDEO && !memcmp(st->fourcc, "h264", 4);
            audio += st->kind == CCTV_KIND_AUDIO && !memcmp(st->fourcc, "mlaw", 4);
        }
        CHECK(video == 2 && audio >= 1);
        CHECK(meta(h, "device") && strstr(meta(h, "device"), "Rosco"));
        CHECK(meta(h, "date") != NULL);
        int64_t d = cctv_duration(h);
        CHECK(d > 7000000 && d < 9000000);
        int64_t key = cctv_seek(h, 4000000);
        CHECK(key >= 0 && key <= 4000000);
        int first_seen[64] = {0};
        while (cctv_next(h, &p) == 1) {
            if (p.stream >= 64)
                continue;
            const cctv_stream *st = cctv_stream_get(h, p.stream);
            if (st->kind == CCTV_KIND_VIDEO && !first_seen[p.stream]) {
                first_seen[p.stream] = 1;
                CHECK(p.key && p.pts_us <= 4000000 && p.pts_us >= key);
            }
        }
        cctv_close(h);
        close(fd);
    }

    /* rf1 by path: 300 access units. */
    snprintf(path, sizeof(path), "%s/rf1/h264_basic/1712815946731_video.rf1i", argv[1]);
    h = cctv_open_rf1(path);
    CHECK(h != NULL);
    if (h) {
        int n = 0;
        while (cctv_next(h, &p) == 1)
            n += cctv_stream_get(h, p.stream)->kind == CCTV_KIND_VIDEO;
        CHECK(n == 300);
        CHECK(cctv_duration(h) > 29000000);
        cctv_close(h);
    }
    CHECK(cctv_open_rf1("/nonexistent/x.rf1i") == NULL);

    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("capi: all checks passed\n");
    return failures ? 1 : 0;
}
