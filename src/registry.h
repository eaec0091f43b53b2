/* registry.h -- the master's durable registry: an append-only log of
 * checksummed operations, compacted now and then into a snapshot.
 *
 * What it keeps is what Mesos keeps in its registry (src/master/registry.proto,
 * mesos.internal.Registry): admitted agents (SlaveInfo), agents marked
 * unreachable or gone (with the time), each agent's drain and deactivation
 * state, role weights, quota configurations, the maintenance schedule, each
 * machine's MachineInfo, and the master's minimum capabilities.
 *
 * Writing. A caller changes the registry with registry_apply() (one
 * operation) or registry_apply_txn() (several, all or nothing). The
 * operation is checked against the registry's state and applied to it at
 * once (so the next operation sees it), and queued. Every operation queued
 * during one loop iteration is written with ONE write and ONE fdatasync
 * (group commit: a zero-delay timer on the loop calls registry_flush), and
 * only then are the callbacks run, with status 0. So a caller acknowledges
 * a change to its client (HTTP 200, SlaveRegisteredMessage...) from the
 * callback, and whatever was acknowledged survives a crash. A record is the
 * unit of atomicity: one registry_apply/_txn is one record, applied
 * entirely or not at all after a crash.
 *
 * The registry's state (registry_get/_first/_next) is the state the log
 * WILL have once pending operations are durable: read it at start-up
 * (recovery) and for checks; keep the acknowledged state yourself, changed
 * from the callbacks.
 *
 * Failure. If a write or fsync fails the registry turns failed: pending and
 * later callbacks get -EIO (or the error) and registry_apply returns it.
 * After a failed fsync the page cache cannot be trusted (the write may or
 * may not be on disk), so nothing is retried: the master exits, as Mesos'
 * registrar aborts.
 *
 * Files, under the directory given (the master uses <work_dir>/registry):
 *   snapshot   header + one record holding a mesos.internal.Registry
 *   log        header + records, each one Operation (below)
 *   lock       flock()ed while open: one master per registry
 * Header (28 bytes, little-endian): magic "MAPIREG\n", u32 format version,
 * u32 file kind (1 snapshot, 2 log), u64 generation, u32 CRC32 of the
 * preceding 24 bytes. Record: u32 payload length, u32 CRC32, u64 batch,
 * u32 index in batch, u32 records in batch, payload; the CRC covers every
 * byte of the record but itself. The log's generation is the snapshot's it
 * follows; compaction writes snapshot.tmp, fsyncs it, renames it, fsyncs
 * the directory, then does the same for a new empty log of the new
 * generation (a log older than the snapshot is already in it and is
 * dropped at open).
 *
 * Start-up (registry_open). A record that is cut short or fails its CRC at
 * the end of the log is a torn write of an unacknowledged batch: the log is
 * truncated there with a warning. A bad record followed by a valid record
 * of a LATER batch means acknowledged data was damaged: open fails. Any
 * damage to the snapshot or to a header fails open with a message naming
 * the file: a master never serves a registry it cannot fully read.
 *
 * Versions. Format 2 is written. Format 1 (24-byte header without a CRC;
 * records of u32 length, u32 CRC32 of the payload, payload) is read, and
 * the registry is rewritten in format 2 at once. A file of a newer format
 * than this build knows fails open ("written by a newer mesos_api").
 *
 * Operation record (protobuf, mesos_api's own; no .proto, written by hand):
 *   message Operation { uint32 kind = 1; string key = 2; bytes value = 3;
 *                       repeated Operation ops = 4; }   // ops: REGISTRY_TXN
 */
#ifndef REGISTRY_H
#define REGISTRY_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "loop.h"

#define REGISTRY_FORMAT_VERSION 2          /* written */
#define REGISTRY_MIN_FORMAT_VERSION 1      /* oldest read */
#define REGISTRY_HEADER_LEN 28
#define REGISTRY_RECORD_HEAD 24            /* len, crc, batch, index, count */
#define REGISTRY_MAX_RECORD (64u << 20)    /* one log record */
#define REGISTRY_MAX_SNAPSHOT (1u << 30)
#define REGISTRY_DEFAULT_COMPACT_BYTES (4u << 20)

/* Operation kinds: key and value of each. An "agent id" key is the
 * SlaveID value; TimeInfo is {int64 nanoseconds = 1}. Returns of
 * registry_apply in brackets (besides 0). */
enum registry_kind {
    REGISTRY_ADMIT_AGENT = 1,        /* key id; value SlaveInfo with that id [-EEXIST known id] */
    REGISTRY_UPDATE_AGENT = 2,       /* key id; value SlaveInfo [-ENOENT not admitted] */
    REGISTRY_MARK_UNREACHABLE = 3,   /* key id; value TimeInfo [-ENOENT not admitted] */
    REGISTRY_MARK_REACHABLE = 4,     /* key id; value SlaveInfo: unreachable (or unknown) -> admitted;
                                        no change if admitted [-EPERM gone] */
    REGISTRY_MARK_GONE = 5,          /* key id; value TimeInfo [-EEXIST gone already, -ENOENT unknown] */
    REGISTRY_REMOVE_AGENT = 6,       /* key id: an admitted agent is forgotten [-ENOENT] */
    REGISTRY_PRUNE_AGENT = 7,        /* key id: an unreachable or gone agent is forgotten */
    REGISTRY_UPDATE_WEIGHTS = 8,     /* value {repeated WeightInfo weight_infos = 1} (Call.UpdateWeights) */
    REGISTRY_UPDATE_QUOTA = 9,       /* value {repeated quota.QuotaConfig quota_configs = 1}
                                        (Call.UpdateQuota); a config without guarantees and
                                        limits removes its role's */
    REGISTRY_REMOVE_QUOTA = 10,      /* key role */
    REGISTRY_UPDATE_SCHEDULE = 11,   /* value maintenance.Schedule (replaces the schedule) */
    REGISTRY_SET_MACHINE = 12,       /* value MachineInfo; its key is registry_machine_key(id) */
    REGISTRY_REMOVE_MACHINE = 13,    /* key: registry_machine_key */
    REGISTRY_SET_DRAIN = 14,         /* key agent id; value DrainInfo, empty clears [-ENOENT] */
    REGISTRY_DEACTIVATE_AGENT = 15,  /* key agent id [-ENOENT not admitted or unreachable] */
    REGISTRY_REACTIVATE_AGENT = 16,  /* key agent id [-ENOENT] */
    REGISTRY_ADD_MIN_CAPABILITY = 17,    /* key: MasterInfo.Capability.Type name, e.g. "AGENT_DRAINING" */
    REGISTRY_REMOVE_MIN_CAPABILITY = 18, /* key */
    REGISTRY_TXN = 19,               /* the record of registry_apply_txn (not for callers) */
};
/* Any operation: -EINVAL for a malformed value or an empty key. */

/* The recovered (and current) state, as tables of entries. */
enum registry_table {
    REGISTRY_AGENTS,          /* key agent id: state, val (SlaveInfo, admitted only), drain, deactivated, time_ns */
    REGISTRY_WEIGHTS,         /* key role: weight */
    REGISTRY_QUOTAS,          /* key role: val = QuotaConfig */
    REGISTRY_MACHINES,        /* key machine key: val = MachineInfo */
    REGISTRY_CAPABILITIES,    /* key capability name */
    REGISTRY_NTABLES
};
enum registry_agent_state { REGISTRY_ADMITTED = 1, REGISTRY_UNREACHABLE = 2, REGISTRY_GONE = 3 };

struct registry_entry {         /* read-only for callers */
    char *key;
    struct buf val;
    struct buf drain;           /* agents: DrainInfo bytes; len 0 = not draining */
    double weight;              /* weights */
    int64_t time_ns;            /* agents: unreachable or gone since */
    int state;                  /* agents: enum registry_agent_state */
    int deactivated;            /* agents */
    /* private */
    struct registry_entry *_hnext, *_prev, *_next;
    uint32_t _hash;
};

struct registry;
/* status 0: the operation is durable; < 0: the registry failed (-errno). */
typedef void (*registry_cb)(void *arg, int status);

struct registry_config {
    const char *dir;            /* NULL: in memory only (no files; callbacks still wait for a flush) */
    struct loop *loop;          /* flush from a zero-delay timer; NULL: the caller calls registry_flush */
    size_t compact_bytes;       /* compact once the log holds this much and at least the snapshot's
                                   size; 0 = REGISTRY_DEFAULT_COMPACT_BYTES */
    /* fsync hook (tests count or fail fsyncs): 0, or -1 with errno. NULL = fdatasync/fsync. */
    int (*fsync_hook)(int fd, void *arg);
    void *hook_arg;
};

struct registry_stats {
    uint64_t records_recovered;  /* log records replayed by open */
    uint64_t truncated_bytes;    /* torn tail cut off by open */
    int upgraded_from;           /* older format read by open, else 0 */
    uint64_t snapshot_bytes, log_bytes;
    uint64_t flushes, fsyncs, records_written, compactions;
    uint64_t pending;            /* operations waiting for the next flush */
    double load_ms, last_store_ms;
};

/* Open (creating the directory and files as needed) and recover. Returns
 * NULL with a message in err on a damaged or newer registry, or an I/O or
 * lock failure. Warnings (torn tail) are logged. */
struct registry *registry_open(const struct registry_config *cfg, char *err, size_t errlen);
/* Flush what is pending (callbacks run with its status), then free. */
void registry_close(struct registry *r);

/* Queue one operation (see enum registry_kind). Returns 0: cb(arg, status)
 * runs after the next flush (also when the operation changed nothing);
 * < 0: refused (state unchanged, cb never runs). cb may be NULL. */
int registry_apply(struct registry *r, int kind, const char *key, const void *val, size_t len,
                   registry_cb cb, void *arg);
struct registry_op { int kind; const char *key; const void *val; size_t len; };
/* Several operations as one record: all apply, or none (the first refusal
 * is returned). E.g. a maintenance schedule with its machines' modes, or
 * DRAIN_AGENT = SET_DRAIN + DEACTIVATE_AGENT + ADD_MIN_CAPABILITY. */
int registry_apply_txn(struct registry *r, const struct registry_op *ops, size_t n,
                       registry_cb cb, void *arg);

/* Write pending operations with one fdatasync, then run their callbacks;
 * compacts afterwards when due. Returns 0 or -errno (the registry failed).
 * With a loop this runs by itself. */
int registry_flush(struct registry *r);
/* Compact now: snapshot of the state, new empty log. 0 or -errno. */
int registry_compact(struct registry *r);
int registry_failed(const struct registry *r);        /* 0, or the -errno it failed with */
const struct registry_stats *registry_stats(const struct registry *r);

/* ---- state ---- */
const struct registry_entry *registry_get(const struct registry *r, int table, const char *key);
const struct registry_entry *registry_first(const struct registry *r, int table);   /* in insertion order */
const struct registry_entry *registry_next(const struct registry_entry *e);
size_t registry_count(const struct registry *r, int table);
/* The maintenance schedule; NULL if none was ever set. */
const struct buf *registry_schedule(const struct registry *r);
/* The whole state as mesos.internal.Registry bytes (what a snapshot holds). */
void registry_encode(const struct registry *r, struct buf *out);

/* "hostname/ip" of a MachineID {hostname = 1, ip = 2}: the machines' key.
 * Returns 0, or -1 when neither is set. */
int registry_machine_key(const void *machine_id, size_t n, char *out, size_t cap);

/* Parse a registry file's bytes (snapshot or log) into a throwaway state:
 * the fuzz target's entry point. Returns 0, or -1 with a message. */
int registry_parse_file(const void *p, size_t n, char *err, size_t errlen);

#endif
