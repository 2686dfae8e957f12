/* SPDX-License-Identifier: MIT
 *
 * VLC 3.0 demux module for CCTV recordings (VMax .psf, Rosco .nvr,
 * Cyclops rf1): a thin shim over the crate's C ABI (vlc/src/capi.rs, header
 * cctv.h). Parsing, resync, timeline and seeking all happen in the engine;
 * this file maps VLC's Open/Close/Demux/Control onto it.
 */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif
#ifndef MODULE_STRING
#define MODULE_STRING "cctv"
#endif

#include <string.h>
#include <sys/stat.h>
#include <vlc_common.h>
#include <vlc_plugin.h>
#include <vlc_demux.h>
#include <vlc_meta.h>
#include <vlc_fs.h>

#include "cctv.h"

#define PRIORITY 250 /* above mp4 (240) and es (155): the probe is strict */

static int Open(vlc_object_t *);
static void Close(vlc_object_t *);

vlc_module_begin()
    set_shortname("CCTV")
    set_description("CCTV recordings demuxer (VMax .psf, Rosco .nvr, Cyclops rf1)")
    set_category(CAT_INPUT)
    set_subcategory(SUBCAT_INPUT_DEMUX)
    set_capability("demux", PRIORITY)
    set_callbacks(Open, Close)
    add_shortcut("cctv")
    add_string("cctv-camera", NULL, "Camera",
               "The camera a folder of .psf/.nvr recordings plays: its number, "
               "name or id (default: the first camera)", false)
vlc_module_end()

struct demux_sys_t
{
    cctv_handle *h;
    es_out_id_t **es;
    int64_t *last_end; /* per ES: when the last packet sent ends (µs), -1 none */
    size_t es_count;
    int64_t time;     /* last PTS sent, µs from the start */
    int64_t pcr;
    int64_t length;   /* µs, -1 unknown */
    bool can_seek;
    bool drained;
    bool text_default; /* a subtitle ES is the default one */
};

/* The end of the stream, for VLC's packetizers (used when remuxing with
 * --sout). Each holds its last unit until the next one starts:
 * - H.264/H.265: an access unit delimiter and a bare start code. The start
 *   code completes the delimiter, which closes the held access unit (a
 *   packetizer that drains at the end drops the lone start code). Two
 *   whole delimiters, as before, left an access unit of only a delimiter:
 *   one extra packet in every H.265 output.
 * - Others go through the "copy" packetizer, which hands a block on when
 *   the next arrives and drops the last one at the end (VLC 3): each gets
 *   one more block, timed at the end of the last, so the last one (audio,
 *   snapshot) goes out with its length and the filler stays behind. Only
 *   with --sout: in playback there is no packetizer and decoders would
 *   get the filler. */
static const uint8_t h264_end[] = { 0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1 };
static const uint8_t hevc_end[] = { 0, 0, 0, 1, 0x46, 0x01, 0x50, 0, 0, 0, 1 };

static void Drain(demux_t *demux)
{
    demux_sys_t *sys = demux->p_sys;
    if (sys->drained)
        return;
    sys->drained = true;
    char *sout = var_InheritString(demux, "sout");
    bool packetizers = sout != NULL && *sout;
    free(sout);
    for (size_t i = 0; i < sys->es_count; i++)
    {
        const cctv_stream *st = cctv_stream_get(sys->h, i);
        if (sys->es[i] == NULL || st == NULL || st->kind == CCTV_KIND_TEXT)
            continue;
        bool h264 = !memcmp(st->fourcc, "h264", 4);
        bool hevc = !memcmp(st->fourcc, "hevc", 4);
        block_t *b;
        if (h264 || hevc)
        {
            size_t len = h264 ? sizeof(h264_end) : sizeof(hevc_end);
            b = block_Alloc(len);
            if (b == NULL)
                continue;
            memcpy(b->p_buffer, h264 ? h264_end : hevc_end, len);
        }
        else
        {
            if (!packetizers || sys->last_end[i] < 0)
                continue;
            b = block_Alloc(1);
            if (b == NULL)
                continue;
            b->p_buffer[0] = 0;
            b->i_pts = b->i_dts = VLC_TS_0 + sys->last_end[i];
        }
        es_out_Send(demux->out, sys->es[i], b);
    }
}

/* The engine's read callback: reads at an offset of VLC's stream. */
static int64_t ReadAt(void *opaque, uint64_t offset, uint8_t *buf, size_t len)
{
    stream_t *s = opaque;
    if (vlc_stream_Tell(s) != offset && vlc_stream_Seek(s, offset) != VLC_SUCCESS)
        return -1;
    size_t got = 0;
    while (got < len)
    {
        ssize_t n = vlc_stream_Read(s, buf + got, len - got);
        if (n < 0)
            return got > 0 ? (int64_t)got : -1;
        if (n == 0)
            break;
        got += (size_t)n;
    }
    return (int64_t)got;
}

static bool HasSuffix(const char *path, const char *suffix)
{
    size_t n = strlen(path), m = strlen(suffix);
    return n >= m && strcasecmp(path + n - m, suffix) == 0;
}

/* Adds an ES for every stream the engine found since the last call. */
static void AddStreams(demux_t *demux)
{
    demux_sys_t *sys = demux->p_sys;
    size_t count = cctv_stream_count(sys->h);
    if (count <= sys->es_count)
        return;
    es_out_id_t **es = realloc(sys->es, count * sizeof(*es));
    if (es == NULL)
        return;
    sys->es = es;
    int64_t *last_end = realloc(sys->last_end, count * sizeof(*last_end));
    if (last_end == NULL)
        return;
    sys->last_end = last_end;
    for (size_t i = sys->es_count; i < count; i++)
    {
        const cctv_stream *st = cctv_stream_get(sys->h, i);
        es[i] = NULL;
        last_end[i] = -1;
        if (st == NULL)
            continue;
        es_format_t fmt;
        int cat = st->kind == CCTV_KIND_VIDEO ? VIDEO_ES
                : st->kind == CCTV_KIND_AUDIO ? AUDIO_ES : SPU_ES;
        es_format_Init(&fmt, cat, VLC_FOURCC(st->fourcc[0], st->fourcc[1],
                                             st->fourcc[2], st->fourcc[3]));
        fmt.i_id = (int)i;
        fmt.psz_description = st->description ? strdup(st->description) : NULL;
        if (cat == VIDEO_ES)
        {
            fmt.video.i_width = fmt.video.i_visible_width = st->width;
            fmt.video.i_height = fmt.video.i_visible_height = st->height;
            fmt.video.i_sar_num = st->sar_num;
            fmt.video.i_sar_den = st->sar_den;
            fmt.video.i_frame_rate = st->fps_num;
            fmt.video.i_frame_rate_base = st->fps_den;
            fmt.b_packetized = true; /* whole access units */
        }
        else if (cat == AUDIO_ES)
        {
            fmt.audio.i_rate = st->rate;
            fmt.audio.i_channels = st->channels;
            if (fmt.i_codec == VLC_CODEC_MULAW)
            {
                fmt.audio.i_bitspersample = 8;
                fmt.audio.i_blockalign = st->channels;
                fmt.i_bitrate = st->rate * st->channels * 8;
            }
        }
        else
            fmt.subs.psz_encoding = strdup("UTF-8");
        if (st->extra != NULL && st->extra_len > 0)
        {
            fmt.p_extra = malloc(st->extra_len);
            if (fmt.p_extra != NULL)
            {
                memcpy(fmt.p_extra, st->extra, st->extra_len);
                fmt.i_extra = (int)st->extra_len;
            }
        }
        es[i] = es_out_Add(demux->out, &fmt);
        /* The capture time is what people look for in a recording: the
         * first cue track is shown by default (as a file's default
         * subtitle track is), the others can be chosen. */
        if (es[i] != NULL && cat == SPU_ES && !sys->text_default)
        {
            es_out_Control(demux->out, ES_OUT_SET_ES_DEFAULT, es[i]);
            sys->text_default = true;
        }
        es_format_Clean(&fmt);
    }
    sys->es_count = count;
}

static int Demux(demux_t *demux)
{
    demux_sys_t *sys = demux->p_sys;
    cctv_packet p;
    int r = cctv_next(sys->h, &p);
    AddStreams(demux);
    if (r <= 0)
    {
        /* read to the end: the length is exact now */
        int64_t length = cctv_duration(sys->h);
        if (length >= 0)
            sys->length = length;
        Drain(demux);
        return r == 0 ? VLC_DEMUXER_EOF : VLC_DEMUXER_EGENERIC;
    }
    if (p.stream >= sys->es_count || sys->es[p.stream] == NULL)
        return VLC_DEMUXER_SUCCESS;
    block_t *b = block_Alloc(p.len);
    if (b == NULL)
        return VLC_DEMUXER_SUCCESS;
    if (p.len > 0)
        memcpy(b->p_buffer, p.data, p.len);
    b->i_pts = p.pts_us >= 0 ? VLC_TS_0 + p.pts_us : VLC_TS_INVALID;
    b->i_dts = p.dts_us >= 0 ? VLC_TS_0 + p.dts_us : b->i_pts;
    const cctv_stream *st = cctv_stream_get(sys->h, p.stream);
    if (p.duration_us > 0)
        b->i_length = p.duration_us;
    else if (st->kind == CCTV_KIND_VIDEO && st->fps_num > 0)
        /* the nominal frame duration (muxers wait for the next frame of a
         * stream to learn it otherwise, and the last one never comes) */
        b->i_length = CLOCK_FREQ * st->fps_den / st->fps_num;
    if (p.key)
        b->i_flags |= BLOCK_FLAG_TYPE_I;
    /* No BLOCK_FLAG_DISCONTINUITY: VLC's packetizers drop the access unit
     * they hold on it, and every block here is a whole unit anyway. */
    if (p.dts_us >= 0 && p.dts_us > sys->pcr)
    {
        sys->pcr = p.dts_us;
        es_out_SetPCR(demux->out, VLC_TS_0 + sys->pcr);
    }
    if (p.pts_us > sys->time)
        sys->time = p.pts_us;
    if (p.pts_us >= 0)
        sys->last_end[p.stream] = p.pts_us + (b->i_length > 0 ? b->i_length : 1);
    es_out_Send(demux->out, sys->es[p.stream], b);
    return VLC_DEMUXER_SUCCESS;
}

static int Seek(demux_t *demux, int64_t time, bool precise)
{
    demux_sys_t *sys = demux->p_sys;
    if (!sys->can_seek || time < 0)
        return VLC_EGENERIC;
    int64_t key = cctv_seek(sys->h, time);
    if (key < 0)
        return VLC_EGENERIC;
    sys->pcr = -1;
    sys->time = key;
    sys->drained = false;
    for (size_t i = 0; i < sys->es_count; i++)
        sys->last_end[i] = -1;
    es_out_Control(demux->out, ES_OUT_RESET_PCR);
    if (precise)
        es_out_Control(demux->out, ES_OUT_SET_NEXT_DISPLAY_TIME, VLC_TS_0 + time);
    return VLC_SUCCESS;
}

static int Control(demux_t *demux, int query, va_list args)
{
    demux_sys_t *sys = demux->p_sys;
    if (sys->length < 0)
        sys->length = cctv_duration(sys->h);
    switch (query)
    {
        case DEMUX_CAN_SEEK:
            *va_arg(args, bool *) = sys->can_seek;
            return VLC_SUCCESS;
        case DEMUX_CAN_PAUSE:
        case DEMUX_CAN_CONTROL_PACE:
            *va_arg(args, bool *) = true;
            return VLC_SUCCESS;
        case DEMUX_SET_PAUSE_STATE:
            return VLC_SUCCESS;
        case DEMUX_GET_PTS_DELAY:
            *va_arg(args, int64_t *) =
                INT64_C(1000) * var_InheritInteger(demux, "file-caching");
            return VLC_SUCCESS;
        case DEMUX_GET_LENGTH:
            if (sys->length < 0)
                return VLC_EGENERIC;
            *va_arg(args, int64_t *) = sys->length;
            return VLC_SUCCESS;
        case DEMUX_GET_TIME:
            *va_arg(args, int64_t *) = sys->time > 0 ? sys->time : 0;
            return VLC_SUCCESS;
        case DEMUX_GET_POSITION:
            if (sys->length <= 0)
                return VLC_EGENERIC;
            *va_arg(args, double *) = sys->time > 0 ? (double)sys->time / sys->length : 0.;
            return VLC_SUCCESS;
        case DEMUX_SET_TIME:
        {
            int64_t t = va_arg(args, int64_t);
            bool precise = (bool)va_arg(args, int);
            return Seek(demux, t, precise);
        }
        case DEMUX_SET_POSITION:
        {
            double pos = va_arg(args, double);
            bool precise = (bool)va_arg(args, int);
            if (sys->length <= 0)
                return VLC_EGENERIC;
            return Seek(demux, (int64_t)(pos * sys->length), precise);
        }
        case DEMUX_GET_META:
        {
            vlc_meta_t *meta = va_arg(args, vlc_meta_t *);
            size_t n = cctv_meta_count(sys->h);
            for (size_t i = 0; i < n; i++)
            {
                const char *k, *v;
                if (!cctv_meta_get(sys->h, i, &k, &v))
                    continue;
                if (!strcmp(k, "title"))
                    vlc_meta_SetTitle(meta, v);
                else if (!strcmp(k, "date"))
                    vlc_meta_SetDate(meta, v);
                else if (!strcmp(k, "description"))
                    vlc_meta_SetDescription(meta, v);
                else if (!strcmp(k, "device"))
                {
                    vlc_meta_SetPublisher(meta, v);
                    vlc_meta_AddExtra(meta, "Device", v);
                }
                else
                    vlc_meta_AddExtra(meta, k, v);
            }
            return VLC_SUCCESS;
        }
        default:
            return VLC_EGENERIC;
    }
}

static int Open(vlc_object_t *obj)
{
    demux_t *demux = (demux_t *)obj;
    cctv_handle *h = NULL;
    const char *path = demux->psz_file;

    /* rf1 is a set of files the engine opens itself: a track file plays
     * its segment, a directory (VLC's filesystem access lists it) plays
     * every segment of a camera as one stream. */
    struct stat info;
    bool dir = path != NULL && demux->s->pf_readdir != NULL
            && vlc_stat(path, &info) == 0 && S_ISDIR(info.st_mode);
    if (path != NULL && (dir || HasSuffix(path, ".rf1i") || HasSuffix(path, ".rf1p")))
    {
        h = cctv_open_rf1(path);
        /* A folder of .psf/.nvr files: one camera of the case, its files
         * in capture order as one stream (else VLC lists the folder). */
        if (h == NULL && dir)
        {
            char *camera = var_InheritString(demux, "cctv-camera");
            h = cctv_open_case(path, camera);
            free(camera);
        }
        if (h == NULL)
            return VLC_EGENERIC;
    }
    else
    {
        const uint8_t *peek;
        ssize_t n = vlc_stream_Peek(demux->s, &peek, CCTV_PROBE_WINDOW);
        if (n <= 0 || cctv_probe(peek, (size_t)n) == CCTV_PROBE_NONE)
            return VLC_EGENERIC;
        bool seekable = false;
        vlc_stream_Control(demux->s, STREAM_CAN_SEEK, &seekable);
        uint64_t size;
        int64_t isize = vlc_stream_GetSize(demux->s, &size) == VLC_SUCCESS
                      ? (int64_t)size : -1;
        h = cctv_open(peek, (size_t)n, isize, seekable, ReadAt, demux->s);
    }
    if (h == NULL)
        return VLC_EGENERIC;

    demux_sys_t *sys = calloc(1, sizeof(*sys));
    if (sys == NULL)
    {
        cctv_close(h);
        return VLC_ENOMEM;
    }
    sys->h = h;
    sys->time = 0;
    sys->pcr = -1;
    sys->length = -1;
    sys->can_seek = cctv_can_seek(h);
    demux->p_sys = sys;
    demux->pf_demux = Demux;
    demux->pf_control = Control;
    AddStreams(demux);
    return VLC_SUCCESS;
}

static void Close(vlc_object_t *obj)
{
    demux_t *demux = (demux_t *)obj;
    demux_sys_t *sys = demux->p_sys;
    cctv_close(sys->h);
    free(sys->es);
    free(sys->last_end);
    free(sys);
}
