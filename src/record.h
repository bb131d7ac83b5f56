/*
 * record: recordings of runs, and their export.
 *
 * The file format (version 2, little-endian):
 *
 *   header   "CONCTREC" u32 version  u32 body_len  u32 crc32(body)  body
 *   body     u64 t0_ns  str scene  str mode  u8 nlanes  lane...  u8 nnotes  str...
 *            u8 nparams  (str name, i64 value)...
 *   lane     u8 kind  u8 group  u32 gauge_max  str name
 *   str      u8 length, then that many bytes (no terminator)
 *   block    "EVTB" u32 count  u32 payload_len  u32 crc32(payload)  u64 base_t  payload
 *   payload  count events, each four LEB128 varints: lane, state word,
 *            t - (previous t of that lane in this block, or base_t), arg
 *   lane blk "LANE" u32 lane  u32 payload_len  u32 crc32(payload)  u64 0  payload: a lane
 *            as in the header (version 3: a lane that came during the run, declared in
 *            order, before its first event; a file with none stays version 2)
 *   end      "END!" u32 nstats  u32 payload_len  u32 crc32(payload)  u64 t_end  payload
 *            payload: per stat str name, f64 value, str unit; then, per stat
 *            in the same order, f64 lo, f64 hi, u32 rounds (the spread of a
 *            figure measured over rounds; rounds 0: a single value). Older
 *            recordings end after the units and read as single values.
 *
 * Blocks are written while the scene runs (a block holds at most
 * REC_BLOCK_EVENTS events), so memory stays flat. The reader validates
 * everything against the file's own size before it allocates anything.
 */
#ifndef CONCTUI_RECORD_H
#define CONCTUI_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "history.h"
#include "scene.h"

/*
 * Version 2 added the states wait, barrier, cancelled and failed (state
 * numbers 8 to 11); version 1 files, which know only the first eight, stay
 * readable. A newer version is refused with both numbers in the message.
 */
#define REC_VERSION 2
#define REC_VERSION_LANES 3 /* a file with LANE blocks (lanes that came during the run) */
#define REC_VERSION_OLDEST 1
#define REC_V1_NSTATES 8
#define REC_BLOCK_EVENTS 4096
#define REC_MAX_NOTES 64
#define REC_MAX_PARAMS SCENE_MAX_PARAMS

/* What a recording says about its run, besides the events. */
struct rec_meta {
    uint64_t t0, t_end;
    char scene[64], mode[64];
    int nnotes;
    char notes[REC_MAX_NOTES][64];
    int nparams;
    char param_name[REC_MAX_PARAMS][64];
    int64_t param_value[REC_MAX_PARAMS];
    struct scene_stats final; /* the scene's figures when the recording ended */
};

struct rec_writer;

/* Start a recording of the lanes already in h; NULL with a message in err. The
 * file is created (never through a link); an existing one is replaced only
 * with force (errno is EEXIST after a refusal). */
struct rec_writer *rec_open(const char *path, const struct history *h, const struct rec_meta *m,
                            bool force, char *err, unsigned errlen);
/* Add one event (buffers; writes a block when full). 0 or -errno. */
int rec_event(struct rec_writer *w, int lane, const struct trace_event *e);
/* A history_sink that records (stops recording at the first write error). */
void rec_sink(void *w, int lane, const struct trace_event *e);
/* Flush, write the end marker with the final figures, close. 0 or -1 with err. */
int rec_close(struct rec_writer *w, uint64_t t_end, const struct scene_stats *final, char *err,
              unsigned errlen);
/* Events written so far and bytes on disk. */
uint64_t rec_events(const struct rec_writer *w);
uint64_t rec_bytes(const struct rec_writer *w);
/* Write the events of h at or after `since` as a complete recording in a new
 * file (an existing one is refused, errno EEXIST). */
int rec_save_history(const char *path, const struct history *h, const struct rec_meta *m,
                     uint64_t since, char *err, unsigned errlen);

/*
 * Read a recording into h (lanes sized to hold every event) and m. Returns 0,
 * or -1 with a message naming the file and the byte offset of the problem.
 */
int rec_read(const char *path, struct history *h, struct rec_meta *m, char *err, unsigned errlen);
/* The same from memory (name is used in messages). */
int rec_read_mem(const uint8_t *buf, size_t len, const char *name, struct history *h,
                 struct rec_meta *m, char *err, unsigned errlen);

/* Write h as Chrome Trace Event JSON (Perfetto, chrome://tracing). */
int rec_export_chrome(const struct history *h, const struct rec_meta *m, FILE *out);
/* Convert a recording file to a Chrome trace file, a new one unless force;
 * the output is never the input. 0 or -1 with err. */
int rec_convert(const char *in, const char *out, bool force, char *err, unsigned errlen);

uint32_t rec__crc32(const void *buf, size_t len);

#endif
