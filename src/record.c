/*
 * DESIGN: the writer runs on the thread that drains the rings (it is fed by
 * the history's sink), buffers one block and writes it with one fwrite, so
 * memory stays flat however long the run. The reader maps nothing it has
 * not checked: a first pass validates every block against the file's size
 * and counts events per lane, a second pass decodes into lanes sized from
 * those counts, which the file's size bounds.
 */
#include "config.h"

#include "record.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "file.h"
#include "i18n.h"
#include "json.h"
#include "state.h"
#include "text.h"

#define MAGIC "CONCTREC"
#define BLOCK_MAGIC 0x42545645u /* "EVTB" */
#define END_MAGIC 0x21444e45u   /* "END!" */
#define LANE_MAGIC 0x454e414cu  /* "LANE" */
#define SPREAD_BYTES 20         /* f64 lo, f64 hi, u32 rounds */
#define REC_MAX_ROUNDS 1000000
#define MAX_BODY (64u * 1024u)
#define MAX_PAYLOAD (1u << 20)
#define BLOCK_HDR 24u
/* The end marker written after every block until the recording is closed: a
 * header, the flags, a note of up to REC_NOTE_MAX bytes, zeros. */
#define RESERVE_BYTES (BLOCK_HDR + 2u + REC_NOTE_MAX)
#define MIN_EVENT_BYTES 4u

/* ---- little pieces ---------------------------------------------------- */

/* CRC-32 (IEEE) continued from crc, the value of the bytes before (0 at first). */
uint32_t rec__crc32_more(uint32_t crc, const void *buf, size_t len)
{
    static uint32_t table[256];
    static int ready;
    if (!ready) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        ready = 1;
    }
    const uint8_t *p = buf;
    uint32_t c = crc ^ 0xffffffffu;
    for (size_t i = 0; i < len; i++)
        c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

uint32_t rec__crc32(const void *buf, size_t len)
{
    return rec__crc32_more(0, buf, len);
}

/* Version 3: a block's or end marker's checksum covers its 24-byte header
 * (all but the checksum field itself) and then its payload. */
static uint32_t block_crc(const uint8_t *hdr, const uint8_t *payload, size_t plen)
{
    uint32_t c = rec__crc32_more(0, hdr, 12);
    c = rec__crc32_more(c, hdr + 16, 8);
    return rec__crc32_more(c, payload, plen);
}

/* Version 3: the file header's checksum covers the version, the body's length
 * (the 8 bytes after the magic) and the body. */
static uint32_t header_crc(const uint8_t *ver_len, const uint8_t *body, size_t blen)
{
    return rec__crc32_more(rec__crc32_more(0, ver_len, 8), body, blen);
}

struct buf {
    uint8_t *p;
    size_t len, cap;
};

static int buf_need(struct buf *b, size_t n)
{
    if (b->len + n <= b->cap)
        return 0;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < b->len + n)
        cap *= 2;
    uint8_t *p = realloc(b->p, cap);
    if (!p)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

static void put_bytes(struct buf *b, const void *src, size_t n)
{
    if (buf_need(b, n) == 0) {
        memcpy(b->p + b->len, src, n);
        b->len += n;
    }
}

static void put_u8(struct buf *b, uint8_t v)
{
    put_bytes(b, &v, 1);
}

static void put_le(struct buf *b, uint64_t v, int n)
{
    uint8_t x[8];
    for (int i = 0; i < n; i++)
        x[i] = (uint8_t)(v >> (8 * i));
    put_bytes(b, x, (size_t)n);
}

static void set_le(uint8_t *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put_str(struct buf *b, const char *s)
{
    size_t n = strlen(s);
    if (n > 255)
        n = 255;
    put_u8(b, (uint8_t)n);
    put_bytes(b, s, n);
}

/* LEB128 into space the caller reserved (at most 10 bytes). */
static inline uint8_t *varint_at(uint8_t *p, uint64_t v)
{
    while (v >= 0x80) {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    }
    *p++ = (uint8_t)v;
    return p;
}

static void put_f64(struct buf *b, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof v);
    put_le(b, v, 8);
}

/* ---- writer ------------------------------------------------------------ */

struct rec_writer {
    int fd;
    char path[256];
    struct buf block, out;
    uint32_t count;
    uint64_t base_t, last_t[TRACE_MAX_LANES];
    uint8_t seen[TRACE_MAX_LANES];
    int nlanes;
    const struct history *h; /* where lanes added during the recording are described */
    int failed;              /* the first write error (errno), or 0 */
    uint64_t at;             /* where the end marker goes: the end of the blocks written */
    uint64_t t_max;          /* the latest event time in the blocks written */
    uint64_t events, bytes;
    struct trace_event pending[REC_BLOCK_EVENTS];
    int pending_lane[REC_BLOCK_EVENTS];
};

static int werr(char *err, unsigned errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int werr(char *err, unsigned errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static void header_body(struct buf *b, const struct history *h, const struct rec_meta *m)
{
    put_le(b, h->t0, 8);
    put_str(b, m->scene);
    put_str(b, m->mode);
    put_u8(b, (uint8_t)h->nlanes);
    for (int i = 0; i < h->nlanes; i++) {
        const struct history_lane *l = &h->lane[i];
        put_u8(b, l->kind);
        put_u8(b, l->group);
        put_le(b, l->gauge_max, 4);
        put_str(b, l->name);
    }
    put_u8(b, (uint8_t)m->nnotes);
    for (int i = 0; i < m->nnotes; i++)
        put_str(b, m->notes[i]);
    put_u8(b, (uint8_t)m->nparams);
    for (int i = 0; i < m->nparams; i++) {
        put_str(b, m->param_name[i]);
        put_le(b, (uint64_t)m->param_value[i], 8);
    }
}

/* All of p at offset off, or -errno (a short write is retried; 0 bytes is ENOSPC). */
static int pwrite_all(int fd, const uint8_t *p, size_t n, uint64_t off)
{
    while (n > 0) {
        ssize_t k = pwrite(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return k < 0 && errno ? -errno : -ENOSPC;
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return 0;
}

/*
 * An end marker into b: the final figures (NULL: none), the flags and the
 * note; padded with zeros to pad bytes when shorter. Then a 24-byte header
 * first, checksummed.
 */
static int end_marker(struct buf *b, uint64_t t_end, const struct scene_stats *final, uint8_t flags,
                      const char *note, size_t pad)
{
    b->len = 0;
    int n = final ? final->n : 0;
    put_le(b, END_MAGIC, 4);
    put_le(b, (uint64_t)n, 4);
    put_le(b, 0, 4); /* payload length, below */
    put_le(b, 0, 4); /* checksum, below */
    put_le(b, t_end, 8);
    for (int i = 0; i < n; i++) {
        put_str(b, final->s[i].name);
        put_f64(b, final->s[i].value);
        put_str(b, final->s[i].unit);
    }
    /* The spreads follow the figures, so a version 2 reader skips them. */
    for (int i = 0; i < n; i++) {
        put_f64(b, final->s[i].lo);
        put_f64(b, final->s[i].hi);
        put_le(b, final->s[i].rounds > 0 ? (uint64_t) final->s[i].rounds : 0, 4);
    }
    put_u8(b, flags);
    /* The note whole, or cut at a character's start to fit its 127 bytes. */
    size_t len = strlen(note);
    if (len > REC_NOTE_MAX) {
        len = REC_NOTE_MAX;
        while (len > 0 && ((uint8_t)note[len] & 0xc0) == 0x80)
            len--;
    }
    put_u8(b, (uint8_t)len);
    put_bytes(b, note, len);
    while (b->len < pad)
        put_u8(b, 0);
    if (!b->p || b->len < BLOCK_HDR + 2)
        return -ENOMEM;
    set_le(b->p + 8, b->len - BLOCK_HDR, 4);
    set_le(b->p + 12, block_crc(b->p, b->p + BLOCK_HDR, b->len - BLOCK_HDR), 4);
    return 0;
}

static const char UNCLOSED_NOTE[] = "the run ended before the recording was closed";

/*
 * After a failed write: the recording stops at the last whole block and the
 * end marker says why. The marker takes the place of the one written after
 * that block (RESERVE_BYTES, the same size), so this never makes the file
 * larger, and the bytes of the failed write after it are cut off.
 */
static void cut_short(struct rec_writer *w, int e)
{
    if (!w->failed)
        w->failed = e;
    char note[REC_NOTE_MAX + 1];
    snprintf(note, sizeof note, "write failed: %s", strerror(e));
    struct buf m = {0};
    if (end_marker(&m, w->t_max, NULL, REC_CUT_SHORT, note, RESERVE_BYTES) == 0 &&
        pwrite_all(w->fd, m.p, m.len, w->at) == 0 && ftruncate(w->fd, (off_t)(w->at + m.len)) == 0)
        w->bytes = w->at + m.len;
    free(m.p);
}

/*
 * Write out what follows the blocks written so far: the pending block if
 * any, then a reserve end marker saying the run was not closed yet, so the
 * file is a valid recording after every block (a killed run included).
 */
static int write_block(struct rec_writer *w, const uint8_t *blk, size_t blen, uint64_t t_max)
{
    struct buf *o = &w->out;
    o->len = 0;
    put_bytes(o, blk, blen);
    struct buf m = {0};
    int rc = end_marker(&m, t_max, NULL, REC_CUT_SHORT, UNCLOSED_NOTE, RESERVE_BYTES);
    if (!rc)
        put_bytes(o, m.p, m.len);
    free(m.p);
    if (!rc && o->len != blen + RESERVE_BYTES)
        rc = -ENOMEM;
    if (!rc)
        rc = pwrite_all(w->fd, o->p, o->len, w->at);
    if (rc) {
        cut_short(w, -rc);
        return rc;
    }
    w->at += blen;
    w->t_max = t_max;
    w->bytes = w->at + RESERVE_BYTES;
    return 0;
}

/* Encode the pending events as one block (deltas need the block's base). */
static int flush_block(struct rec_writer *w)
{
    if (w->count == 0 || w->failed)
        return w->failed ? -w->failed : 0;
    uint64_t base = UINT64_MAX, t_max = w->t_max;
    for (uint32_t i = 0; i < w->count; i++)
        if (w->pending[i].t < base)
            base = w->pending[i].t;
    w->block.len = 0;
    if (buf_need(&w->block, BLOCK_HDR + (size_t)w->count * 40) != 0)
        return -ENOMEM;
    memset(w->seen, 0, sizeof w->seen);
    uint8_t *p = w->block.p + BLOCK_HDR;
    for (uint32_t i = 0; i < w->count; i++) {
        const struct trace_event *e = &w->pending[i];
        int lane = w->pending_lane[i];
        uint64_t prev = w->seen[lane] ? w->last_t[lane] : base;
        uint64_t t = e->t < prev ? prev : e->t; /* lanes are monotonic; stay so */
        p = varint_at(p, (uint64_t)lane);
        p = varint_at(p, e->state);
        p = varint_at(p, t - prev);
        p = varint_at(p, e->arg);
        w->seen[lane] = 1;
        w->last_t[lane] = t;
        if (t > t_max)
            t_max = t;
    }
    size_t plen = (size_t)(p - w->block.p) - BLOCK_HDR;
    uint8_t *h = w->block.p;
    set_le(h, BLOCK_MAGIC, 4);
    set_le(h + 4, w->count, 4);
    set_le(h + 8, plen, 4);
    set_le(h + 16, base, 8);
    set_le(h + 12, block_crc(h, h + BLOCK_HDR, plen), 4);
    w->count = 0;
    return write_block(w, h, BLOCK_HDR + plen, t_max);
}

struct rec_writer *rec_open(const char *path, const struct history *h, const struct rec_meta *m,
                            bool force, char *err, unsigned errlen)
{
    struct rec_writer *w = calloc(1, sizeof *w);
    if (!w) {
        werr(err, errlen, "%s: out of memory", path);
        return NULL;
    }
    const char *why = NULL;
    w->fd = file_create(path, force, &why);
    if (w->fd < 0) {
        int e = errno;
        werr(err, errlen, "%s: %s", path, why);
        free(w);
        errno = e;
        return NULL;
    }
    snprintf(w->path, sizeof w->path, "%s", path);
    w->nlanes = h->nlanes;
    w->t_max = h->t0;
    w->h = h;
    struct buf body = {0}, hdr = {0};
    header_body(&body, h, m);
    put_bytes(&hdr, MAGIC, 8);
    put_le(&hdr, REC_VERSION, 4);
    put_le(&hdr, body.len, 4);
    put_le(&hdr, 0, 4);
    if (hdr.len == 20 && body.p)
        set_le(hdr.p + 16, header_crc(hdr.p + 8, body.p, body.len), 4);
    put_bytes(&hdr, body.p, body.len);
    int rc = !body.p || hdr.len != 20 + body.len ? -ENOMEM : 0;
    /* The header, and after it the reserve end marker. */
    if (!rc)
        rc = write_block(w, hdr.p, hdr.len, w->t_max);
    free(body.p);
    free(hdr.p);
    if (rc) {
        werr(err, errlen, "%s: %s", path, strerror(-rc));
        close(w->fd);
        free(w->out.p);
        free(w);
        errno = -rc;
        return NULL;
    }
    return w;
}

/* A lane added after the header: a LANE block before any of its events. */
static int write_lane(struct rec_writer *w, int i)
{
    const struct history_lane *l = &w->h->lane[i];
    struct buf b = {0};
    put_le(&b, LANE_MAGIC, 4);
    put_le(&b, (uint64_t)i, 4);
    put_le(&b, 0, 4); /* payload length, below */
    put_le(&b, 0, 4); /* checksum, below */
    put_le(&b, 0, 8);
    put_u8(&b, l->kind);
    put_u8(&b, l->group);
    put_le(&b, l->gauge_max, 4);
    put_str(&b, l->name);
    int rc = !b.p || b.len < BLOCK_HDR + 6 ? -ENOMEM : 0;
    if (!rc) {
        set_le(b.p + 8, b.len - BLOCK_HDR, 4);
        set_le(b.p + 12, block_crc(b.p, b.p + BLOCK_HDR, b.len - BLOCK_HDR), 4);
        rc = write_block(w, b.p, b.len, w->t_max);
    }
    free(b.p);
    return rc;
}

int rec_event(struct rec_writer *w, int lane, const struct trace_event *e)
{
    if (w->failed)
        return -w->failed;
    if (lane >= w->nlanes && w->h && lane < w->h->nlanes && lane < TRACE_MAX_LANES) {
        /* The events before it go first, in their block; then the new lanes. */
        int rc = flush_block(w);
        for (; !rc && w->nlanes <= lane; w->nlanes++)
            rc = write_lane(w, w->nlanes);
        if (rc)
            return rc;
    }
    if (lane < 0 || lane >= w->nlanes)
        return 0;
    w->pending[w->count] = *e;
    w->pending_lane[w->count] = lane;
    w->count++;
    w->events++;
    if (w->count == REC_BLOCK_EVENTS)
        return flush_block(w);
    return 0;
}

void rec_sink(void *w, int lane, const struct trace_event *e)
{
    rec_event(w, lane, e);
}

uint64_t rec_events(const struct rec_writer *w)
{
    return w->events;
}

uint64_t rec_bytes(const struct rec_writer *w)
{
    return w->bytes;
}

int rec_error(const struct rec_writer *w)
{
    return w ? w->failed : 0;
}

int rec_close(struct rec_writer *w, uint64_t t_end, const struct scene_stats *final, char *err,
              unsigned errlen)
{
    if (!w)
        return 0;
    flush_block(w);
    /*
     * The end marker with the final figures; after a failed write it also
     * says the recording was cut short. When it does not fit either, the
     * reserve marker stays (rewritten, as the attempt may have broken it).
     */
    char note[REC_NOTE_MAX + 1] = "";
    if (w->failed)
        snprintf(note, sizeof note, "write failed: %s", strerror(w->failed));
    struct buf m = {0};
    /* Cut short, the recording ends with its last event, not with the run. */
    if (w->failed || t_end < w->t_max)
        t_end = w->t_max;
    int rc = end_marker(&m, t_end, final, w->failed ? REC_CUT_SHORT : 0, note, 0);
    if (!rc)
        rc = pwrite_all(w->fd, m.p, m.len, w->at);
    if (!rc && ftruncate(w->fd, (off_t)(w->at + m.len)) != 0)
        rc = -errno;
    if (rc) {
        cut_short(w, -rc);
    } else {
        w->bytes = w->at + m.len;
    }
    free(m.p);
    free(w->block.p);
    free(w->out.p);
    if (close(w->fd) != 0 && !w->failed)
        w->failed = errno;
    if (w->failed)
        werr(err, errlen, "%s: %s", w->path, strerror(w->failed));
    int failed = w->failed != 0;
    free(w);
    return failed ? -1 : 0;
}

int rec_save_history(const char *path, const struct history *h, const struct rec_meta *m,
                     uint64_t since, char *err, unsigned errlen)
{
    struct rec_writer *w = rec_open(path, h, m, false, err, errlen);
    if (!w)
        return -1;
    /* Lanes are merged in time order so blocks stay compact. */
    size_t idx[TRACE_MAX_LANES] = {0};
    for (int i = 0; i < h->nlanes; i++) {
        long k = history_find(&h->lane[i], since);
        idx[i] = k < 0 ? 0 : (size_t)k;
    }
    for (;;) {
        int best = -1;
        uint64_t bt = UINT64_MAX;
        for (int i = 0; i < h->nlanes; i++) {
            const struct history_lane *l = &h->lane[i];
            if (idx[i] < history_kept(l) && history_at(l, idx[i])->t < bt) {
                bt = history_at(l, idx[i])->t;
                best = i;
            }
        }
        if (best < 0)
            break;
        rec_event(w, best, history_at(&h->lane[best], idx[best]++));
    }
    return rec_close(w, h->t_end, &m->final, err, errlen);
}

/* ---- reader ------------------------------------------------------------ */

struct rd {
    const uint8_t *p;
    size_t len, off;
    uint32_t version; /* the file's format version */
    unsigned nstates; /* the states that version knows */
    const char *name;
    char *err;
    unsigned errlen;
};

static int rd_fail(struct rd *r, size_t off, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int rd_fail(struct rd *r, size_t off, const char *fmt, ...)
{
    char what[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    snprintf(r->err, r->errlen, "%s: offset %zu: %s", r->name, off, what);
    return -1;
}

static int rd_need(struct rd *r, size_t n, const char *what)
{
    if (r->len - r->off < n)
        return rd_fail(r, r->off, "truncated: %s needs %zu bytes, %zu left", what, n,
                       r->len - r->off);
    return 0;
}

static uint64_t rd_le(struct rd *r, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v |= (uint64_t)r->p[r->off + (size_t)i] << (8 * i);
    r->off += (size_t)n;
    return v;
}

static int rd_str(struct rd *r, char *out, size_t outlen, const char *what)
{
    if (rd_need(r, 1, what))
        return -1;
    size_t n = r->p[r->off++];
    if (rd_need(r, n, what))
        return -1;
    size_t k = n < outlen - 1 ? n : outlen - 1;
    memcpy(out, r->p + r->off, k);
    out[k] = '\0';
    /* Names and notes reach the terminal: no control, DEL, C1 or bad UTF-8. */
    text_clean_inplace(out, outlen, 0);
    r->off += n;
    return 0;
}

/* Each figure's lo, hi and rounds, after the figures in the end marker. */
static int read_spreads(struct rd *r, struct scene_stats *st)
{
    if (rd_need(r, (size_t)st->n * SPREAD_BYTES, "the figures' spreads"))
        return -1;
    for (int i = 0; i < st->n; i++) {
        struct scene_stat *f = &st->s[i];
        uint64_t lo = rd_le(r, 8), hi = rd_le(r, 8);
        uint32_t rounds = (uint32_t)rd_le(r, 4);
        memcpy(&f->lo, &lo, sizeof f->lo);
        memcpy(&f->hi, &hi, sizeof f->hi);
        if (rounds == 0 || rounds > REC_MAX_ROUNDS || !isfinite(f->lo) || !isfinite(f->hi)) {
            f->lo = f->hi = f->value;
            f->rounds = 0;
        } else {
            f->rounds = (int)rounds;
        }
    }
    return 0;
}

static int rd_varint(struct rd *r, size_t end, uint64_t *v)
{
    size_t start = r->off;
    *v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
        if (r->off >= end)
            return rd_fail(r, start, "truncated number inside a block");
        uint8_t b = r->p[r->off++];
        if (shift == 63 && b > 1)
            return rd_fail(r, start, "number too large");
        *v |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80))
            return 0;
    }
    return rd_fail(r, start, "number too long");
}

struct lane_hdr {
    char name[TRACE_NAME_MAX];
    uint8_t kind, group;
    uint32_t gauge_max;
};

static int read_header(struct rd *r, struct rec_meta *m, struct lane_hdr *lanes, int *nlanes)
{
    if (r->len < 8 || memcmp(r->p, MAGIC, 8) != 0)
        return rd_fail(r, 0, "not a conctui recording (bad magic)");
    r->off = 8;
    if (rd_need(r, 12, "the header"))
        return -1;
    uint32_t ver = (uint32_t)rd_le(r, 4);
    if (ver < REC_VERSION_OLDEST || ver > REC_VERSION)
        return rd_fail(r, 8, "format version %" PRIu32 "; this conctui reads versions %d to %d",
                       ver, REC_VERSION_OLDEST, REC_VERSION);
    r->version = ver;
    r->nstates = ver == 1 ? REC_V1_NSTATES : TRACE_NSTATES;
    uint32_t body_len = (uint32_t)rd_le(r, 4), crc = (uint32_t)rd_le(r, 4);
    if (body_len > MAX_BODY)
        return rd_fail(r, 12, "header length %" PRIu32 " is larger than %u", body_len, MAX_BODY);
    if (rd_need(r, body_len, "the header body"))
        return -1;
    uint32_t want = ver >= 3 ? header_crc(r->p + 8, r->p + r->off, body_len)
                             : rec__crc32(r->p + r->off, body_len);
    if (want != crc)
        return rd_fail(r, r->off, "header checksum mismatch");
    struct rd b = *r;
    b.len = r->off + body_len;
    if (rd_need(&b, 8, "the clock origin"))
        return -1;
    m->t0 = rd_le(&b, 8);
    if (rd_str(&b, m->scene, sizeof m->scene, "the scene name") ||
        rd_str(&b, m->mode, sizeof m->mode, "the mode name") || rd_need(&b, 1, "the lane count"))
        return -1;
    *nlanes = b.p[b.off++];
    if (*nlanes > TRACE_MAX_LANES)
        return rd_fail(&b, b.off - 1, "%d lanes; at most %d", *nlanes, TRACE_MAX_LANES);
    for (int i = 0; i < *nlanes; i++) {
        if (rd_need(&b, 6, "a lane"))
            return -1;
        lanes[i].kind = b.p[b.off++];
        lanes[i].group = b.p[b.off++];
        lanes[i].gauge_max = (uint32_t)rd_le(&b, 4);
        if (lanes[i].kind > TRACE_LANE_GAUGE)
            return rd_fail(&b, b.off - 6, "lane %d has unknown kind %u", i, lanes[i].kind);
        if (rd_str(&b, lanes[i].name, sizeof lanes[i].name, "a lane name"))
            return -1;
    }
    if (rd_need(&b, 1, "the note count"))
        return -1;
    m->nnotes = b.p[b.off++];
    if (m->nnotes > REC_MAX_NOTES)
        return rd_fail(&b, b.off - 1, "%d notes; at most %d", m->nnotes, REC_MAX_NOTES);
    for (int i = 0; i < m->nnotes; i++)
        if (rd_str(&b, m->notes[i], sizeof m->notes[i], "a note"))
            return -1;
    if (rd_need(&b, 1, "the parameter count"))
        return -1;
    m->nparams = b.p[b.off++];
    if (m->nparams > REC_MAX_PARAMS)
        return rd_fail(&b, b.off - 1, "%d parameters; at most %d", m->nparams, REC_MAX_PARAMS);
    for (int i = 0; i < m->nparams; i++) {
        if (rd_str(&b, m->param_name[i], sizeof m->param_name[i], "a parameter name") ||
            rd_need(&b, 8, "a parameter value"))
            return -1;
        m->param_value[i] = (int64_t)rd_le(&b, 8);
    }
    r->off += body_len;
    return 0;
}

/*
 * Walk every block. With h NULL: validate and count events per lane. With
 * h: decode into it.
 */
static int read_blocks(struct rd *r, struct lane_hdr *lanes, int *nlanes_io, uint64_t counts[],
                       struct history *h, struct rec_meta *m)
{
    /* The first pass adds the lanes of LANE blocks; the second knows them all. */
    int nlanes = *nlanes_io;
    uint64_t last[TRACE_MAX_LANES];
    for (;;) {
        size_t at = r->off;
        if (r->off == r->len)
            return rd_fail(r, at, "truncated: the end marker is missing (was the run cut short?)");
        if (rd_need(r, BLOCK_HDR, "a block header"))
            return -1;
        uint32_t magic = (uint32_t)rd_le(r, 4), count = (uint32_t)rd_le(r, 4);
        uint32_t plen = (uint32_t)rd_le(r, 4), crc = (uint32_t)rd_le(r, 4);
        uint64_t base = rd_le(r, 8);
        if (magic != BLOCK_MAGIC && magic != END_MAGIC &&
            !(magic == LANE_MAGIC && r->version >= REC_VERSION_LANES))
            return rd_fail(r, at, "not a block (bad block magic)");
        if (plen > MAX_PAYLOAD)
            return rd_fail(r, at + 8, "block payload of %" PRIu32 " bytes; at most %u", plen,
                           MAX_PAYLOAD);
        if (rd_need(r, plen, "a block payload"))
            return -1;
        uint32_t want = r->version >= 3 ? block_crc(r->p + at, r->p + r->off, plen)
                                        : rec__crc32(r->p + r->off, plen);
        if (want != crc)
            return rd_fail(r, r->off, "block checksum mismatch");
        size_t end = r->off + plen;
        if (magic == LANE_MAGIC) {
            if (!h) {
                if (count != (uint32_t)nlanes || nlanes >= TRACE_MAX_LANES)
                    return rd_fail(r, at + 4,
                                   "lane %" PRIu32 " declared after %d lanes (at most %d)", count,
                                   nlanes, TRACE_MAX_LANES);
                struct rd s = *r;
                s.len = end;
                struct lane_hdr *l = &lanes[nlanes];
                if (rd_need(&s, 6, "a lane"))
                    return -1;
                l->kind = s.p[s.off++];
                l->group = s.p[s.off++];
                l->gauge_max = (uint32_t)rd_le(&s, 4);
                if (l->kind > TRACE_LANE_GAUGE)
                    return rd_fail(&s, s.off - 6, "lane %d has unknown kind %u", nlanes, l->kind);
                if (rd_str(&s, l->name, sizeof l->name, "a lane name"))
                    return -1;
                if (s.off != end)
                    return rd_fail(r, s.off, "%zu stray bytes after a lane", end - s.off);
                *nlanes_io = ++nlanes;
            }
            r->off = end;
            continue;
        }
        if (magic == END_MAGIC) {
            if (count > SCENE_MAX_STATS)
                return rd_fail(r, at + 4, "%" PRIu32 " figures; at most %d", count,
                               SCENE_MAX_STATS);
            struct rd s = *r;
            s.len = end;
            m->t_end = base;
            m->final.n = m->final.dropped = 0;
            for (uint32_t i = 0; i < count; i++) {
                struct scene_stat *st = &m->final.s[m->final.n];
                if (rd_str(&s, st->name, sizeof st->name, "a figure's name") ||
                    rd_need(&s, 8, "a figure's value"))
                    return -1;
                uint64_t bits = rd_le(&s, 8);
                memcpy(&st->value, &bits, sizeof st->value);
                if (!isfinite(st->value))
                    st->value = 0;
                if (rd_str(&s, st->unit, sizeof st->unit, "a figure's unit"))
                    return -1;
                st->lo = st->hi = st->value;
                st->rounds = 0;
                m->final.n++;
            }
            if (r->version >= 3) {
                /* The spreads, then whether the recording was cut short and why,
                 * then zeros (room kept for the note). */
                if (read_spreads(&s, &m->final) || rd_need(&s, 1, "the end marker's flags"))
                    return -1;
                uint8_t flags = s.p[s.off++];
                if (flags & ~REC_CUT_SHORT)
                    return rd_fail(&s, s.off - 1, "unknown end marker flags 0x%02x", flags);
                m->cut_short = flags & REC_CUT_SHORT;
                if (rd_str(&s, m->cut_note, sizeof m->cut_note, "the end marker's note"))
                    return -1;
                for (; s.off < s.len; s.off++)
                    if (s.p[s.off])
                        return rd_fail(&s, s.off, "stray bytes in the end marker");
            } else if (s.off < s.len && read_spreads(&s, &m->final)) {
                /* Recordings made before figures had spreads end at the units. */
                return -1;
            }
            r->off = end;
            if (r->off != r->len)
                return rd_fail(r, r->off, "%zu bytes after the end marker", r->len - r->off);
            return 0;
        }
        if ((uint64_t)count * MIN_EVENT_BYTES > plen)
            return rd_fail(r, at + 4, "%" PRIu32 " events cannot fit in %" PRIu32 " bytes", count,
                           plen);
        uint8_t seen[TRACE_MAX_LANES] = {0};
        for (uint32_t i = 0; i < count; i++) {
            size_t ev_at = r->off;
            uint64_t lane, state, dt, arg;
            if (rd_varint(r, end, &lane) || rd_varint(r, end, &state) || rd_varint(r, end, &dt) ||
                rd_varint(r, end, &arg))
                return -1;
            if (lane >= (uint64_t)nlanes)
                return rd_fail(r, ev_at, "event names lane %" PRIu64 " of %d", lane, nlanes);
            unsigned st = (unsigned)(state & 0xf);
            if (state > 0xffff || (st >= r->nstates && st != TRACE_GAUGE))
                return rd_fail(r, ev_at,
                               "event has unknown state %" PRIu64 " (format version %" PRIu32 ")",
                               state, r->version);
            if (arg > UINT32_MAX)
                return rd_fail(r, ev_at, "event argument %" PRIu64 " too large", arg);
            uint64_t prev = seen[lane] ? last[lane] : base;
            if (dt > UINT64_MAX - prev)
                return rd_fail(r, ev_at, "event time overflows");
            uint64_t t = prev + dt;
            seen[lane] = 1;
            last[lane] = t;
            if (h) {
                struct trace_event e = {t, (uint32_t)arg, (uint16_t)state, (uint16_t)lane};
                history_append(h, (int)lane, &e);
            } else {
                counts[lane]++;
            }
        }
        if (r->off != end)
            return rd_fail(r, r->off, "%zu stray bytes at the end of a block", end - r->off);
    }
}

int rec_read_mem(const uint8_t *buf, size_t len, const char *name, struct history *h,
                 struct rec_meta *m, char *err, unsigned errlen)
{
    struct rd r = {.p = buf, .len = len, .name = name, .err = err, .errlen = errlen};
    struct lane_hdr lanes[TRACE_MAX_LANES];
    int nlanes = 0;
    memset(m, 0, sizeof *m);
    memset(h, 0, sizeof *h);
    if (read_header(&r, m, lanes, &nlanes))
        return -1;
    size_t blocks_at = r.off;
    uint64_t counts[TRACE_MAX_LANES] = {0};
    if (read_blocks(&r, lanes, &nlanes, counts, NULL, m))
        return -1;
    /* Every count was bounded by the file's size in the first pass. */
    history_init(h, m->t0);
    for (int i = 0; i < nlanes; i++) {
        if (history_lane_add(h, lanes[i].name, lanes[i].kind, lanes[i].group, lanes[i].gauge_max,
                             counts[i] ? counts[i] : 1) < 0) {
            history_free(h);
            return rd_fail(&r, blocks_at, "out of memory for %" PRIu64 " events", counts[i]);
        }
    }
    r.off = blocks_at;
    if (read_blocks(&r, lanes, &nlanes, counts, h, m)) {
        history_free(h);
        return -1;
    }
    if (m->t_end > h->t_end)
        h->t_end = m->t_end;
    return 0;
}

int rec_read(const char *path, struct history *h, struct rec_meta *m, char *err, unsigned errlen)
{
    const char *why = NULL;
    int fd = file_open_read(path, &why);
    FILE *f = fd >= 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        if (fd >= 0)
            close(fd);
        return werr(err, errlen, "%s: %s", path, fd >= 0 ? strerror(errno) : why);
    }
    if (fseek(f, 0, SEEK_END) != 0) {
        fclose(f);
        return werr(err, errlen, "%s: cannot seek: not a regular file", path);
    }
    long size = ftell(f);
    if (size < 0) {
        fclose(f);
        return werr(err, errlen, "%s: %s", path, strerror(errno));
    }
    rewind(f);
    uint8_t *buf = malloc(size ? (size_t)size : 1);
    if (!buf) {
        fclose(f);
        return werr(err, errlen, "%s: out of memory for %ld bytes", path, size);
    }
    size_t got = fread(buf, 1, (size_t)size, f);
    fclose(f);
    int rc = got == (size_t)size ? rec_read_mem(buf, got, path, h, m, err, errlen)
                                 : werr(err, errlen, "%s: short read", path);
    free(buf);
    return rc;
}

/* ---- Chrome trace export ------------------------------------------------ */

/* Microseconds since the run began, with nanosecond precision. */
static void json_us(FILE *f, uint64_t t, uint64_t t0)
{
    uint64_t ns = t > t0 ? t - t0 : 0;
    fprintf(f, "%" PRIu64 ".%03" PRIu64, ns / 1000, ns % 1000);
}

int rec_export_chrome(const struct history *h, const struct rec_meta *m, FILE *out)
{
    char pname[160];
    snprintf(pname, sizeof pname, "conctui %s (%s)", m->scene, m->mode);
    fputs("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[\n", out);
    fputs("{\"ph\":\"M\",\"pid\":1,\"tid\":0,\"name\":\"process_name\",\"args\":{\"name\":", out);
    json_str(out, pname);
    fputs("}}", out);
    for (int i = 0; i < h->nlanes; i++) {
        const struct history_lane *l = &h->lane[i];
        if (l->kind == TRACE_LANE_GAUGE)
            continue;
        fprintf(out,
                ",\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_name\",\"args\":"
                "{\"name\":",
                i + 1);
        json_str(out, l->name);
        fprintf(out,
                "}},\n{\"ph\":\"M\",\"pid\":1,\"tid\":%d,\"name\":\"thread_sort_index\","
                "\"args\":{\"sort_index\":%d}}",
                i + 1, i);
    }
    for (int i = 0; i < h->nlanes; i++) {
        const struct history_lane *l = &h->lane[i];
        size_t n = history_kept(l);
        for (size_t k = 0; k < n; k++) {
            const struct trace_event *e = history_at(l, k);
            if (l->kind == TRACE_LANE_GAUGE) {
                fputs(",\n{\"ph\":\"C\",\"pid\":1,\"tid\":0,\"name\":", out);
                json_str(out, l->name);
                fputs(",\"ts\":", out);
                json_us(out, e->t, h->t0);
                fprintf(out, ",\"args\":{\"value\":%" PRIu32 "}}", e->arg);
                continue;
            }
            uint64_t end = k + 1 < n ? history_at(l, k + 1)->t : h->t_end;
            unsigned st = TRACE_STATE_OF(e->state), note = TRACE_NOTE_OF(e->state);
            fprintf(out,
                    ",\n{\"ph\":\"X\",\"pid\":1,\"tid\":%d,\"cat\":\"state\",\"name\":", i + 1);
            json_str(out, state_info(st)->name);
            fputs(",\"ts\":", out);
            json_us(out, e->t, h->t0);
            fputs(",\"dur\":", out);
            json_us(out, end > e->t ? end : e->t, e->t);
            fprintf(out, ",\"args\":{\"arg\":%" PRIu32, e->arg);
            if (note > 0 && (int)note < m->nnotes) {
                fputs(",\"note\":", out);
                json_str(out, m->notes[note]);
            }
            fputs("}}", out);
        }
    }
    fputs("\n]}\n", out);
    return ferror(out) ? -1 : 0;
}

int rec_convert(const char *in, const char *out, bool force, char *err, unsigned errlen)
{
    struct history h;
    struct stat in_st;
    if (stat(in, &in_st) == 0 && file_same(out, &in_st))
        return werr(err, errlen, _("%s: the output is the input %s"), out, in);
    struct rec_meta *m = malloc(sizeof *m);
    if (!m)
        return werr(err, errlen, "out of memory");
    int rc = rec_read(in, &h, m, err, errlen);
    if (rc == 0) {
        const char *why = NULL;
        int fd = file_create(out, force, &why);
        FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
        if (!f) {
            if (fd >= 0)
                close(fd);
            rc = werr(err, errlen, "%s: %s", out, fd >= 0 ? strerror(errno) : why);
        } else {
            rc = rec_export_chrome(&h, m, f);
            if (fclose(f) != 0 || rc)
                rc = werr(err, errlen, "%s: write failed: %s", out, strerror(errno));
        }
        history_free(&h);
    }
    free(m);
    return rc;
}
