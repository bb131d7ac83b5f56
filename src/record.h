/*
 * record: recordings of runs, and their export.
 *
 * The file format (version 3, little-endian):
 *
 *   header   "CONCTREC" u32 version  u32 body_len  u32 crc  body
 *            crc: crc32 of version, body_len and body
 *   body     u64 t0_ns  str scene  str mode  u8 nlanes  lane...  u8 nnotes  str...
 *            u8 nparams  (str name, i64 value)...
 *   lane     u8 kind  u8 group  u32 gauge_max  str name
 *   str      u8 length, then that many bytes (no terminator)
 *   block    "EVTB" u32 count  u32 payload_len  u32 crc  u64 base_t  payload
 *            crc: crc32 of the 24-byte header without the crc field, then payload
 *   payload  count events, each four LEB128 varints: lane, state word,
 *            t - (previous t of that lane in this block, or base_t), arg
 *   lane blk "LANE" u32 lane  u32 payload_len  u32 crc  u64 0  payload: a lane as in
 *            the header (version 3: a lane that came during the run, declared
 *            in order, before its first event); crc: as a block's
 *   end      "END!" u32 nstats  u32 payload_len  u32 crc  u64 t_end  payload
 *            crc: as a block's (t_end included)
 *            payload: per stat str name, f64 value, str unit; then, per stat
 *            in the same order, f64 lo, f64 hi, u32 rounds (the spread of a
 *            figure measured over rounds; rounds 0: a single value); then
 *            u8 flags (1: cut short), str note (why it was cut short), and
 *            zero bytes to the payload's end.
 *
 * So every byte after the magic is under a checksum or compared exactly.
 * Version 2 files (checksums over the bodies and payloads only, no flags or
 * note; their figures may end after the units and read as single values)
 * and version 1 files stay readable.
 *
 * Blocks are written while the scene runs (a block holds at most
 * REC_BLOCK_EVENTS events), so memory stays flat. Each block is followed on
 * disk by an end marker flagged "cut short" (the run not closed yet), padded
 * to a fixed size, which the next block overwrites: the file is a readable
 * recording at every moment, and when a write fails (a full disk, a file size
 * limit) the failure's marker goes in that marker's place without the file
 * growing. Closing writes the end marker with the final figures. The reader validates
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
 * readable. Version 3 put every header field under its checksum, added
 * the end marker's flags and note, and LANE blocks for lanes that come
 * during the run. A newer version is refused with both
 * numbers in the message.
 */
#define REC_VERSION 3
#define REC_VERSION_LANES 3 /* the first version with LANE blocks */
#define REC_VERSION_OLDEST 1
#define REC_V1_NSTATES 8
#define REC_BLOCK_EVENTS 4096
#define REC_MAX_NOTES 64
#define REC_MAX_PARAMS SCENE_MAX_PARAMS
#define REC_CUT_SHORT 0x01 /* end marker flag: the recording stopped early */
#define REC_NOTE_MAX 127   /* bytes of the end marker's note */

/* What a recording says about its run, besides the events. */
struct rec_meta {
    uint64_t t0, t_end;
    char scene[64], mode[64];
    int nnotes;
    char notes[REC_MAX_NOTES][64];
    int nparams;
    char param_name[REC_MAX_PARAMS][64];
    int64_t param_value[REC_MAX_PARAMS];
    struct scene_stats final;        /* the scene's figures when the recording ended */
    bool cut_short;                  /* it stopped before the run did (a write failed, ...) */
    char cut_note[REC_NOTE_MAX + 1]; /* why, when cut_short */
};

struct rec_writer;

/* Start a recording of the lanes already in h; NULL with a message in err. The
 * file is created (never through a link); an existing one is replaced only
 * with force (errno is EEXIST after a refusal). */
struct rec_writer *rec_open(const char *path, const struct history *h, const struct rec_meta *m,
                            bool force, char *err, unsigned errlen);
/* Add one event (buffers; writes a block when full). 0 or -errno. After a
 * failed write the file ends at the last whole block with an end marker that
 * says the recording was cut short and why; later events are dropped. */
int rec_event(struct rec_writer *w, int lane, const struct trace_event *e);
/* A history_sink that records (stops recording at the first write error). */
void rec_sink(void *w, int lane, const struct trace_event *e);
/* Flush, write the end marker with the final figures, close. 0 or -1 with err. */
int rec_close(struct rec_writer *w, uint64_t t_end, const struct scene_stats *final, char *err,
              unsigned errlen);
/* Events written so far and bytes on disk. */
uint64_t rec_events(const struct rec_writer *w);
uint64_t rec_bytes(const struct rec_writer *w);
/* The errno of the write that cut the recording short, or 0. */
int rec_error(const struct rec_writer *w);
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
uint32_t rec__crc32_more(uint32_t crc, const void *buf, size_t len);

#endif
