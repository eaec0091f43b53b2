/* test_registry.c -- the durable registry: round trips through the files,
 * compaction, a torn or damaged log cut or flipped at every byte of its last
 * record, a damaged snapshot refused, format 1 read and upgraded, a newer
 * format refused, group commit (N changes -> one fsync, counted through the
 * hook), failing fsyncs and crashes inside a compaction. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>
#include "test.h"
#include "log.h"
#include "pbw.h"
#include "registry.h"
#include "util.h"

static char base[256];
static char dir[300];

static void rm_dir(const char *d)
{
    DIR *dd = opendir(d);
    if (!dd) return;
    struct dirent *de;
    char p[600];
    while ((de = readdir(dd)))
        if (de->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", d, de->d_name);
            unlink(p);
        }
    closedir(dd);
    rmdir(d);
}

static void fresh(void) { rm_dir(dir); }

static int read_path(const char *name, struct buf *b)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    buf_reset(b);
    FILE *f = fopen(p, "rb");
    if (!f) return -1;
    char tmp[65536];
    size_t k;
    while ((k = fread(tmp, 1, sizeof tmp, f)) > 0) buf_append(b, tmp, k);
    fclose(f);
    return 0;
}

static void write_path(const char *name, const void *p, size_t n)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    if (n) fwrite(p, 1, n, f);
    fclose(f);
}

static struct registry *open_dir(char *err, size_t errlen)
{
    struct registry_config cfg = { .dir = dir };
    return registry_open(&cfg, err, errlen);
}

/* SlaveInfo {hostname = 1, id = 6 {value = 1}}. */
static void slave_info(struct buf *b, const char *id, const char *host)
{
    buf_reset(b);
    pbw_put_str(b, 1, host);
    pbw_put_id(b, 6, id);
}

static void time_info(struct buf *b, int64_t ns)
{
    buf_reset(b);
    pbw_put_uint(b, 1, (uint64_t)ns);
}

static void weights(struct buf *b, const char *role, double w)
{
    buf_reset(b);
    size_t k = pbw_begin(b, 1);
    pbw_put_double(b, 1, w);
    pbw_put_str(b, 2, role);
    pbw_end(b, k);
}

static int nacks, last_status;
static void ack(void *arg, int status)
{
    (void)arg;
    nacks++;
    last_status = status;
}

/* Apply one operation and flush it (one batch); the test fails on refusal. */
static int put(struct registry *r, int kind, const char *key, const struct buf *v)
{
    int rc = registry_apply(r, kind, key, v ? v->data : NULL, v ? v->len : 0, ack, NULL);
    if (rc < 0) { printf("  apply %d %s: %s\n", kind, key ? key : "", strerror(-rc)); return rc; }
    return registry_flush(r);
}

static void state(struct registry *r, struct buf *out)
{
    buf_reset(out);
    registry_encode(r, out);
}

/* A registry with one of everything. */
static int fill(struct registry *r)
{
    struct buf v = {0};
    int rc = 0;
    for (int i = 0; i < 5 && rc == 0; i++) {
        char id[32], host[32];
        snprintf(id, sizeof id, "M-S%d", i);
        snprintf(host, sizeof host, "host%d", i);
        slave_info(&v, id, host);
        rc = put(r, REGISTRY_ADMIT_AGENT, id, &v);
    }
    if (rc == 0) { time_info(&v, 1700000000123456789LL); rc = put(r, REGISTRY_MARK_UNREACHABLE, "M-S1", &v); }
    if (rc == 0) { time_info(&v, 1700000001000000000LL); rc = put(r, REGISTRY_MARK_GONE, "M-S2", &v); }
    if (rc == 0) { weights(&v, "web", 2.5); rc = put(r, REGISTRY_UPDATE_WEIGHTS, NULL, &v); }
    if (rc == 0) {
        buf_reset(&v);
        size_t k = pbw_begin(&v, 1);
        pbw_put_str(&v, 1, "web");
        size_t g = pbw_begin(&v, 2);
        pbw_put_str(&v, 1, "cpus");
        pbw_end(&v, g);
        pbw_end(&v, k);
        rc = put(r, REGISTRY_UPDATE_QUOTA, NULL, &v);
    }
    if (rc == 0) {
        buf_reset(&v);                               /* MachineInfo {id {hostname, ip}, mode = 2} */
        size_t k = pbw_begin(&v, 1);
        pbw_put_str(&v, 1, "host3");
        pbw_put_str(&v, 2, "10.0.0.3");
        pbw_end(&v, k);
        pbw_put_uint(&v, 2, 2);
        rc = put(r, REGISTRY_SET_MACHINE, NULL, &v);
    }
    if (rc == 0) { buf_reset(&v); pbw_put_str(&v, 9, "x"); rc = put(r, REGISTRY_UPDATE_SCHEDULE, NULL, &v); }
    if (rc == 0) { buf_reset(&v); pbw_put_uint(&v, 1, 1); rc = put(r, REGISTRY_SET_DRAIN, "M-S3", &v); }
    if (rc == 0) rc = put(r, REGISTRY_DEACTIVATE_AGENT, "M-S3", NULL);
    if (rc == 0) rc = put(r, REGISTRY_ADD_MIN_CAPABILITY, "AGENT_DRAINING", NULL);
    buf_free(&v);
    return rc;
}

static int test_round_trip(void)
{
    char err[1024];
    struct buf a = {0}, b = {0};
    fresh();
    struct registry *r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(fill(r), 0);
    CHECK_EQ(registry_count(r, REGISTRY_AGENTS), 5);
    state(r, &a);
    registry_close(r);
    r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(registry_stats(r)->records_recovered, 14);
    state(r, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    const struct registry_entry *e = registry_get(r, REGISTRY_AGENTS, "M-S1");
    CHECK(e && e->state == REGISTRY_UNREACHABLE && e->time_ns == 1700000000123456789LL && e->val.len == 0);
    e = registry_get(r, REGISTRY_AGENTS, "M-S2");
    CHECK(e && e->state == REGISTRY_GONE);
    e = registry_get(r, REGISTRY_AGENTS, "M-S3");
    CHECK(e && e->state == REGISTRY_ADMITTED && e->deactivated && e->drain.len == 2);
    e = registry_get(r, REGISTRY_WEIGHTS, "web");
    CHECK(e && e->weight == 2.5);
    CHECK(registry_get(r, REGISTRY_QUOTAS, "web"));
    CHECK(registry_get(r, REGISTRY_MACHINES, "host3/10.0.0.3"));
    CHECK(registry_get(r, REGISTRY_CAPABILITIES, "AGENT_DRAINING"));
    CHECK(registry_schedule(r) && registry_schedule(r)->len == 3);
    /* The same after compaction into a snapshot, and after reopening that. */
    CHECK_EQ(registry_compact(r), 0);
    CHECK_EQ(registry_stats(r)->compactions, 1);
    registry_close(r);
    r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(registry_stats(r)->records_recovered, 0);
    state(r, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    /* Removals come back as removals. */
    CHECK_EQ(put(r, REGISTRY_REMOVE_AGENT, "M-S4", NULL), 0);
    CHECK_EQ(put(r, REGISTRY_PRUNE_AGENT, "M-S2", NULL), 0);
    CHECK_EQ(put(r, REGISTRY_REMOVE_QUOTA, "web", NULL), 0);
    state(r, &a);
    registry_close(r);
    r = open_dir(err, sizeof err);
    CHECK(r);
    state(r, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    CHECK(!registry_get(r, REGISTRY_AGENTS, "M-S4") && !registry_get(r, REGISTRY_AGENTS, "M-S2"));
    CHECK_EQ(registry_count(r, REGISTRY_QUOTAS), 0);
    registry_close(r);
    buf_free(&a);
    buf_free(&b);
    return 0;
}

static int test_refusals_and_txn(void)
{
    char err[1024];
    struct buf v = {0}, a = {0}, b = {0};
    fresh();
    struct registry *r = open_dir(err, sizeof err);
    CHECK(r);
    slave_info(&v, "A", "h");
    CHECK_EQ(put(r, REGISTRY_ADMIT_AGENT, "A", &v), 0);
    CHECK_EQ(registry_apply(r, REGISTRY_ADMIT_AGENT, "A", v.data, v.len, NULL, NULL), -EEXIST);
    CHECK_EQ(registry_apply(r, REGISTRY_ADMIT_AGENT, "B", v.data, v.len, NULL, NULL), -EINVAL);   /* id differs */
    CHECK_EQ(registry_apply(r, REGISTRY_UPDATE_AGENT, "Z", NULL, 0, NULL, NULL), -EINVAL);
    slave_info(&v, "Z", "h");
    CHECK_EQ(registry_apply(r, REGISTRY_UPDATE_AGENT, "Z", v.data, v.len, NULL, NULL), -ENOENT);
    time_info(&v, 5);
    CHECK_EQ(registry_apply(r, REGISTRY_MARK_UNREACHABLE, "Z", v.data, v.len, NULL, NULL), -ENOENT);
    CHECK_EQ(registry_apply(r, REGISTRY_MARK_GONE, "Z", v.data, v.len, NULL, NULL), -ENOENT);
    CHECK_EQ(registry_apply(r, 99, "Z", NULL, 0, NULL, NULL), -EINVAL);
    CHECK_EQ(registry_apply(r, REGISTRY_TXN, "Z", NULL, 0, NULL, NULL), -EINVAL);
    /* A transaction whose last operation is refused changes nothing. */
    state(r, &a);
    struct buf w = {0}, t = {0};
    weights(&w, "r1", 3);
    time_info(&t, 7);
    struct registry_op ops[] = {
        { REGISTRY_UPDATE_WEIGHTS, NULL, w.data, w.len },
        { REGISTRY_MARK_UNREACHABLE, "A", t.data, t.len },
        { REGISTRY_MARK_GONE, "nobody", t.data, t.len },
    };
    CHECK_EQ(registry_apply_txn(r, ops, 3, ack, NULL), -ENOENT);
    state(r, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    CHECK_EQ(registry_stats(r)->pending, 0);
    /* Without the bad one it applies whole, as one record. */
    uint64_t written = registry_stats(r)->records_written;
    CHECK_EQ(registry_apply_txn(r, ops, 2, ack, NULL), 0);
    CHECK_EQ(registry_flush(r), 0);
    CHECK_EQ(registry_stats(r)->records_written, written + 1);
    CHECK(registry_get(r, REGISTRY_WEIGHTS, "r1"));
    CHECK_EQ(registry_get(r, REGISTRY_AGENTS, "A")->state, REGISTRY_UNREACHABLE);
    /* An agent marked reachable again; a gone one may not come back. */
    slave_info(&v, "A", "h2");
    CHECK_EQ(put(r, REGISTRY_MARK_REACHABLE, "A", &v), 0);
    CHECK_EQ(registry_get(r, REGISTRY_AGENTS, "A")->state, REGISTRY_ADMITTED);
    CHECK_EQ(put(r, REGISTRY_MARK_GONE, "A", &t), 0);
    CHECK_EQ(registry_apply(r, REGISTRY_MARK_REACHABLE, "A", v.data, v.len, NULL, NULL), -EPERM);
    CHECK_EQ(registry_apply(r, REGISTRY_MARK_GONE, "A", t.data, t.len, NULL, NULL), -EEXIST);
    /* An unknown agent re-registering is admitted (upstream allows it). */
    slave_info(&v, "U", "h3");
    CHECK_EQ(put(r, REGISTRY_MARK_REACHABLE, "U", &v), 0);
    state(r, &a);
    registry_close(r);
    r = open_dir(err, sizeof err);
    CHECK(r);
    state(r, &b);
    CHECK(a.len == b.len && memcmp(a.data, b.data, a.len) == 0);
    registry_close(r);
    buf_free(&v); buf_free(&w); buf_free(&t); buf_free(&a); buf_free(&b);
    return 0;
}

/* Records in separate batches; `last_start` is where the last one begins. */
static int build_log(struct buf *before_last, struct buf *all, size_t *last_start, int last_batch_size)
{
    char err[1024];
    struct buf v = {0}, st = {0};
    fresh();
    struct registry *r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(fill(r), 0);
    state(r, before_last);
    CHECK_EQ(read_path("log", &st), 0);
    *last_start = st.len;
    for (int i = 0; i < last_batch_size; i++) {
        char role[16];
        snprintf(role, sizeof role, "role%d", i);
        weights(&v, role, 1.5 + i);
        CHECK_EQ(registry_apply(r, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, NULL, NULL), 0);
    }
    CHECK_EQ(registry_flush(r), 0);
    state(r, all);
    registry_close(r);
    CHECK_EQ(read_path("log", &st), 0);
    CHECK(st.len > *last_start);
    buf_free(&v);
    buf_free(&st);
    return 0;
}

/* Weights in Registry bytes (field 6). */
static size_t registry_count_weights_in(const struct buf *reg)
{
    struct pbw_reader rd;
    struct pbw_field f;
    size_t n = 0;
    pbw_reader_init(&rd, reg->data, reg->len);
    while (pbw_next(&rd, &f) == 1) n += f.tag == 6;
    return n;
}

static int test_torn_tail_every_byte(void)
{
    char err[1024];
    struct buf before = {0}, all = {0}, log = {0}, got = {0}, after = {0};
    size_t start;
    int saved = log_min_severity;
    for (int batch = 1; batch <= 3; batch += 2) {
        CHECK_EQ(build_log(&before, &all, &start, batch), 0);
        CHECK_EQ(read_path("log", &log), 0);
        /* Whole records of the torn batch before the damage survive (they
         * were never acknowledged; each is applied whole or not at all). */
        size_t rec = (log.len - start) / (size_t)batch;
        size_t nw = registry_count_weights_in(&before);
        log_min_severity = LOG_ERROR + 1;             /* a warning per case */
        /* Cut at every byte of the last batch: everything before it survives. */
        for (size_t cut = start; cut < log.len; cut++) {
            write_path("log", log.data, cut);
            struct registry *r = open_dir(err, sizeof err);
            if (!r) printf("  cut %zu: %s\n", cut, err);
            CHECK(r);
            size_t whole = (cut - start) / rec;
            CHECK_EQ(registry_stats(r)->truncated_bytes, cut - start - whole * rec);
            CHECK_EQ(registry_count(r, REGISTRY_WEIGHTS), nw + whole);
            state(r, &got);
            CHECK(whole || (got.len == before.len && memcmp(got.data, before.data, got.len) == 0));
            registry_close(r);
            CHECK_EQ(read_path("log", &after), 0);
            CHECK_EQ(after.len, start + whole * rec);   /* the tail was cut off on disk */
        }
        /* Flip each byte of the last batch (three patterns). */
        static const uint8_t pats[] = { 0xff, 0x01, 0x80 };
        for (size_t i = start; i < log.len; i++)
            for (size_t k = 0; k < sizeof pats; k++) {
                log.data[i] ^= (char)pats[k];
                write_path("log", log.data, log.len);
                log.data[i] ^= (char)pats[k];
                struct registry *r = open_dir(err, sizeof err);
                if (!r) printf("  flip %zu/%02x: %s\n", i, pats[k], err);
                CHECK(r);
                size_t whole = (i - start) / rec;
                CHECK_EQ(registry_stats(r)->truncated_bytes, log.len - start - whole * rec);
                CHECK_EQ(registry_count(r, REGISTRY_WEIGHTS), nw + whole);
                state(r, &got);
                CHECK(whole || (got.len == before.len && memcmp(got.data, before.data, got.len) == 0));
                registry_close(r);
            }
        log_min_severity = saved;
        /* The whole file recovers everything. */
        write_path("log", log.data, log.len);
        struct registry *r = open_dir(err, sizeof err);
        CHECK(r);
        CHECK_EQ(registry_stats(r)->truncated_bytes, 0);
        state(r, &got);
        CHECK(got.len == all.len && memcmp(got.data, all.data, got.len) == 0);
        registry_close(r);
    }
    buf_free(&before); buf_free(&all); buf_free(&log); buf_free(&got); buf_free(&after);
    return 0;
}

static int test_damage_before_later_batches_refused(void)
{
    char err[1024];
    struct buf before = {0}, all = {0}, log = {0};
    size_t start;
    CHECK_EQ(build_log(&before, &all, &start, 1), 0);
    CHECK_EQ(read_path("log", &log), 0);
    /* A byte in the middle of the first record: later batches are valid. */
    log.data[REGISTRY_HEADER_LEN + REGISTRY_RECORD_HEAD + 2] ^= 0x10;
    write_path("log", log.data, log.len);
    struct registry *r = open_dir(err, sizeof err);
    CHECK(!r);
    CHECK(strstr(err, "not a torn write") && strstr(err, "Refusing to start"));
    /* A damaged log header is not a tail either. */
    log.data[REGISTRY_HEADER_LEN + REGISTRY_RECORD_HEAD + 2] ^= 0x10;
    for (size_t i = 0; i < REGISTRY_HEADER_LEN; i++) {
        log.data[i] ^= 0x04;
        write_path("log", log.data, log.len);
        log.data[i] ^= 0x04;
        r = open_dir(err, sizeof err);
        CHECK(!r);
        CHECK(strstr(err, "log"));
    }
    buf_free(&before); buf_free(&all); buf_free(&log);
    return 0;
}

static int test_corrupt_snapshot_refused(void)
{
    char err[1024];
    struct buf snap = {0}, good = {0}, got = {0};
    fresh();
    struct registry *r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(fill(r), 0);
    CHECK_EQ(registry_compact(r), 0);
    state(r, &good);
    registry_close(r);
    CHECK_EQ(read_path("snapshot", &snap), 0);
    CHECK(snap.len > REGISTRY_HEADER_LEN + REGISTRY_RECORD_HEAD + 20);
    for (size_t i = 0; i < snap.len; i++) {
        snap.data[i] ^= 0x20;
        write_path("snapshot", snap.data, snap.len);
        snap.data[i] ^= 0x20;
        r = open_dir(err, sizeof err);
        if (r) printf("  flip at %zu opened\n", i);
        CHECK(!r);
        CHECK(strstr(err, "snapshot") && strstr(err, "Refusing to start"));
    }
    for (size_t cut = 0; cut < snap.len; cut++) {
        write_path("snapshot", snap.data, cut);
        r = open_dir(err, sizeof err);
        CHECK(!r);
    }
    buf_putc(&snap, 0);                             /* a trailing byte too */
    write_path("snapshot", snap.data, snap.len);
    CHECK(!open_dir(err, sizeof err));
    write_path("snapshot", snap.data, snap.len - 1);
    r = open_dir(err, sizeof err);
    CHECK(r);
    state(r, &got);
    CHECK(got.len == good.len && memcmp(got.data, good.data, got.len) == 0);
    registry_close(r);
    /* A log that follows a lost snapshot is refused too. */
    char p[600];
    snprintf(p, sizeof p, "%s/snapshot", dir);
    unlink(p);
    CHECK(!open_dir(err, sizeof err));
    CHECK(strstr(err, "snapshot was lost"));
    buf_free(&snap); buf_free(&good); buf_free(&got);
    return 0;
}

/* Format 1, written by hand: 24-byte header, records of length, CRC32 of
 * the payload, payload. */
static void v1_header(struct buf *b, uint32_t kind, uint64_t gen)
{
    uint8_t h[24];
    memcpy(h, "MAPIREG\n", 8);
    for (int i = 0; i < 4; i++) h[8 + i] = (uint8_t)(1u >> (8 * i));
    for (int i = 0; i < 4; i++) h[12 + i] = (uint8_t)(kind >> (8 * i));
    for (int i = 0; i < 8; i++) h[16 + i] = (uint8_t)(gen >> (8 * i));
    buf_append(b, h, sizeof h);
}

static void v1_record(struct buf *b, const struct buf *payload)
{
    uint8_t h[8];
    uint32_t len = (uint32_t)payload->len, c = (uint32_t)crc32(0, (const Bytef *)payload->data, (uInt)payload->len);
    for (int i = 0; i < 4; i++) { h[i] = (uint8_t)(len >> (8 * i)); h[4 + i] = (uint8_t)(c >> (8 * i)); }
    buf_append(b, h, 8);
    buf_append(b, payload->data, payload->len);
}

static int test_format1_read_and_upgraded(void)
{
    char err[1024];
    struct buf file = {0}, reg = {0}, op = {0}, v = {0}, got = {0};
    fresh();
    mkdir(dir, 0755);
    /* Snapshot: one admitted agent and a weight. */
    slave_info(&v, "OLD-S0", "oldhost");
    size_t k = pbw_begin(&reg, 2), s = pbw_begin(&reg, 1);
    pbw_put_bytes(&reg, 1, v.data, v.len);
    pbw_end(&reg, s);
    pbw_end(&reg, k);
    k = pbw_begin(&reg, 6); s = pbw_begin(&reg, 1);
    pbw_put_double(&reg, 1, 3.0);
    pbw_put_str(&reg, 2, "old");
    pbw_end(&reg, s); pbw_end(&reg, k);
    v1_header(&file, 1, 4);
    v1_record(&file, &reg);
    write_path("snapshot", file.data, file.len);
    /* Log of generation 4: the agent becomes unreachable; then a torn record. */
    buf_reset(&file);
    v1_header(&file, 2, 4);
    time_info(&v, 99);
    pbw_put_uint(&op, 1, REGISTRY_MARK_UNREACHABLE);
    pbw_put_str(&op, 2, "OLD-S0");
    pbw_put_bytes(&op, 3, v.data, v.len);
    v1_record(&file, &op);
    v1_record(&file, &op);
    file.len -= 3;
    write_path("log", file.data, file.len);
    int saved = log_min_severity;
    log_min_severity = LOG_ERROR + 1;
    struct registry *r = open_dir(err, sizeof err);
    log_min_severity = saved;
    if (!r) printf("  %s\n", err);
    CHECK(r);
    CHECK_EQ(registry_stats(r)->upgraded_from, 1);
    CHECK_EQ(registry_stats(r)->records_recovered, 1);
    const struct registry_entry *e = registry_get(r, REGISTRY_AGENTS, "OLD-S0");
    CHECK(e && e->state == REGISTRY_UNREACHABLE && e->time_ns == 99);
    CHECK(registry_get(r, REGISTRY_WEIGHTS, "old")->weight == 3.0);
    state(r, &reg);
    registry_close(r);
    /* Both files are format 2 now, and read back the same. */
    CHECK_EQ(read_path("snapshot", &file), 0);
    CHECK(file.len > 12 && (uint8_t)file.data[8] == 2);
    CHECK_EQ(read_path("log", &file), 0);
    CHECK(file.len == REGISTRY_HEADER_LEN && (uint8_t)file.data[8] == 2);
    r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(registry_stats(r)->upgraded_from, 0);
    state(r, &got);
    CHECK(got.len == reg.len && memcmp(got.data, reg.data, got.len) == 0);
    registry_close(r);
    /* A format-1 log with damage followed by valid records is refused. */
    fresh();
    mkdir(dir, 0755);
    buf_reset(&file);
    v1_header(&file, 2, 0);
    buf_reset(&op);
    pbw_put_uint(&op, 1, REGISTRY_ADD_MIN_CAPABILITY);
    pbw_put_str(&op, 2, "X");
    v1_record(&file, &op);
    v1_record(&file, &op);
    file.data[24 + 9] ^= 1;
    write_path("log", file.data, file.len);
    CHECK(!open_dir(err, sizeof err));
    buf_free(&file); buf_free(&reg); buf_free(&op); buf_free(&v); buf_free(&got);
    return 0;
}

static int test_newer_format_refused(void)
{
    char err[1024];
    struct buf log = {0};
    fresh();
    struct registry *r = open_dir(err, sizeof err);
    CHECK(r);
    registry_close(r);
    CHECK_EQ(read_path("log", &log), 0);
    log.data[8] = REGISTRY_FORMAT_VERSION + 1;       /* and a matching header checksum */
    uint32_t c = (uint32_t)crc32(0, (const Bytef *)log.data, 24);
    for (int i = 0; i < 4; i++) log.data[24 + i] = (char)(c >> (8 * i));
    write_path("log", log.data, log.len);
    CHECK(!open_dir(err, sizeof err));
    CHECK(strstr(err, "newer mesos_api"));
    buf_free(&log);
    return 0;
}

/* ---- group commit ---- */

struct counter { int fsyncs, fail_at; };
static int count_fsync(int fd, void *arg)
{
    struct counter *c = arg;
    c->fsyncs++;
    if (c->fail_at && c->fsyncs == c->fail_at) { errno = EIO; return -1; }
    return fdatasync(fd);
}

struct probe { struct counter *c; int seen_fsyncs; int status; int *done; };
static void probe_cb(void *arg, int status)
{
    struct probe *p = arg;
    p->seen_fsyncs = p->c->fsyncs;
    p->status = status;
    (*p->done)++;
}

static int test_batching_one_fsync(void)
{
    char err[1024];
    fresh();
    struct loop *l = loop_new();
    struct counter c = {0};
    struct registry_config cfg = { .dir = dir, .loop = l, .fsync_hook = count_fsync, .hook_arg = &c };
    struct registry *r = registry_open(&cfg, err, sizeof err);
    CHECK(r);
    CHECK_EQ(c.fsyncs, 2);                           /* the new log: the file, then the directory */
    c.fsyncs = 0;
    enum { N = 1000 };
    static struct probe pr[N];
    int done = 0;
    struct buf v = {0};
    for (int i = 0; i < N; i++) {
        char role[32];
        snprintf(role, sizeof role, "r%d", i);
        weights(&v, role, 1 + i);
        pr[i] = (struct probe){ &c, -1, 1, &done };
        CHECK_EQ(registry_apply(r, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, probe_cb, &pr[i]), 0);
    }
    CHECK_EQ(done, 0);                               /* nobody hears back before the fsync */
    CHECK_EQ(registry_stats(r)->pending, N);
    for (int i = 0; i < 10 && done < N; i++) loop_run_once(l, 100);
    CHECK_EQ(done, N);
    CHECK_EQ(c.fsyncs, 1);
    for (int i = 0; i < N; i++) { CHECK_EQ(pr[i].seen_fsyncs, 1); CHECK_EQ(pr[i].status, 0); }
    CHECK_EQ(registry_stats(r)->flushes, 1);
    /* A change that changes nothing still waits for the flush, costs no fsync. */
    done = 0;
    struct probe q = { &c, -1, 1, &done };
    CHECK_EQ(registry_apply(r, REGISTRY_PRUNE_AGENT, "nobody", NULL, 0, probe_cb, &q), 0);
    CHECK_EQ(done, 0);
    for (int i = 0; i < 10 && !done; i++) loop_run_once(l, 100);
    CHECK_EQ(done, 1);
    CHECK_EQ(q.status, 0);
    CHECK_EQ(c.fsyncs, 1);
    registry_close(r);
    /* In memory: the same contract, no files. */
    cfg.dir = NULL;
    r = registry_open(&cfg, err, sizeof err);
    CHECK(r);
    done = 0;
    CHECK_EQ(registry_apply(r, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, probe_cb, &q), 0);
    CHECK_EQ(done, 0);
    for (int i = 0; i < 10 && !done; i++) loop_run_once(l, 100);
    CHECK_EQ(done, 1);
    registry_close(r);
    loop_free(l);
    buf_free(&v);
    return 0;
}

static int test_fsync_failure_fails_the_registry(void)
{
    char err[1024];
    fresh();
    struct counter c = { 0, 3 };                     /* 1, 2: creating the log; 3: the first batch */
    struct registry_config cfg = { .dir = dir, .fsync_hook = count_fsync, .hook_arg = &c };
    struct registry *r = registry_open(&cfg, err, sizeof err);
    CHECK(r);
    struct buf v = {0};
    weights(&v, "a", 2);
    nacks = 0;
    CHECK_EQ(registry_apply(r, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, ack, NULL), 0);
    int saved = log_min_severity;
    log_min_severity = LOG_ERROR + 1;
    CHECK_EQ(registry_flush(r), -EIO);
    CHECK_EQ(nacks, 1);
    CHECK_EQ(last_status, -EIO);
    CHECK_EQ(registry_failed(r), -EIO);
    CHECK_EQ(registry_apply(r, REGISTRY_UPDATE_WEIGHTS, NULL, v.data, v.len, ack, NULL), -EIO);
    registry_close(r);
    log_min_severity = saved;
    buf_free(&v);
    return 0;
}

/* Fail the k-th fsync of a compaction: whatever state the files are left
 * in, reopening gives every change that had been acknowledged. */
static int test_crash_inside_compaction(void)
{
    char err[1024];
    struct buf want = {0}, got = {0};
    int saved = log_min_severity;
    for (int k = 1; k <= 4; k++) {
        fresh();
        struct counter c = {0};
        struct registry_config cfg = { .dir = dir, .fsync_hook = count_fsync, .hook_arg = &c };
        struct registry *r = registry_open(&cfg, err, sizeof err);
        CHECK(r);
        CHECK_EQ(fill(r), 0);
        state(r, &want);
        c.fail_at = c.fsyncs + k;
        log_min_severity = LOG_ERROR + 1;
        int rc = registry_compact(r);
        log_min_severity = saved;
        CHECK(rc < 0);
        registry_close(r);
        log_min_severity = LOG_ERROR + 1;
        r = open_dir(err, sizeof err);
        log_min_severity = saved;
        if (!r) printf("  k=%d: %s\n", k, err);
        CHECK(r);
        state(r, &got);
        CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
        registry_close(r);
    }
    /* The window between the new snapshot and the new log: the old log is
     * stale (the snapshot holds it) and is dropped. */
    fresh();
    struct registry *r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(fill(r), 0);
    state(r, &want);
    struct buf oldlog = {0};
    CHECK_EQ(read_path("log", &oldlog), 0);
    CHECK_EQ(registry_compact(r), 0);
    registry_close(r);
    write_path("log", oldlog.data, oldlog.len);
    log_min_severity = LOG_ERROR + 1;
    r = open_dir(err, sizeof err);
    log_min_severity = saved;
    CHECK(r);
    CHECK_EQ(registry_stats(r)->records_recovered, 0);
    state(r, &got);
    CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
    registry_close(r);
    buf_free(&want); buf_free(&got); buf_free(&oldlog);
    return 0;
}

static int test_compaction_by_size_and_lock(void)
{
    char err[1024];
    struct buf v = {0}, want = {0}, got = {0}, log = {0};
    fresh();
    struct registry_config cfg = { .dir = dir, .compact_bytes = 2048 };
    struct registry *r = registry_open(&cfg, err, sizeof err);
    CHECK(r);
    CHECK(!open_dir(err, sizeof err));              /* one process per registry */
    CHECK(strstr(err, "in use"));
    for (int i = 0; i < 300; i++) {
        char id[32];
        snprintf(id, sizeof id, "C-S%d", i);
        slave_info(&v, id, "h");
        CHECK_EQ(put(r, REGISTRY_ADMIT_AGENT, id, &v), 0);
        if (i % 3 == 0) {
            time_info(&v, i);
            CHECK_EQ(put(r, REGISTRY_MARK_UNREACHABLE, id, &v), 0);
        }
    }
    CHECK(registry_stats(r)->compactions >= 3);
    CHECK_EQ(read_path("log", &log), 0);
    CHECK(log.len < 2048 + 512 || log.len < registry_stats(r)->snapshot_bytes + 512);
    state(r, &want);
    registry_close(r);
    r = open_dir(err, sizeof err);
    CHECK(r);
    state(r, &got);
    CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
    CHECK_EQ(registry_count(r, REGISTRY_AGENTS), 300);
    registry_close(r);
    buf_free(&v); buf_free(&want); buf_free(&got); buf_free(&log);
    return 0;
}

/* A client that queues its next change from each callback never lets the
 * queue run empty: compaction must still happen, and lose nothing. */
struct chain { struct registry *r; int left, n; };
static void chain_next(void *arg, int status)
{
    struct chain *c = arg;
    if (status < 0 || c->left == 0) return;
    c->left--;
    c->n++;
    struct buf v = {0};
    char id[32];
    snprintf(id, sizeof id, "K-S%d", c->n);
    slave_info(&v, id, "h");
    registry_apply(c->r, REGISTRY_ADMIT_AGENT, id, v.data, v.len, chain_next, c);
    buf_free(&v);
}

static int test_compaction_with_a_busy_queue(void)
{
    char err[1024];
    struct buf want = {0}, got = {0};
    fresh();
    struct loop *l = loop_new();
    struct registry_config cfg = { .dir = dir, .loop = l, .compact_bytes = 1024 };
    struct registry *r = registry_open(&cfg, err, sizeof err);
    CHECK(r);
    struct chain c = { r, 400, 0 };
    chain_next(&c, 0);
    for (int i = 0; i < 5000 && c.left; i++) loop_run_once(l, 100);
    CHECK_EQ(c.left, 0);
    CHECK(registry_stats(r)->compactions >= 5);
    state(r, &want);
    registry_close(r);
    loop_free(l);
    r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(registry_count(r, REGISTRY_AGENTS), 400);
    state(r, &got);
    CHECK(got.len == want.len && memcmp(got.data, want.data, got.len) == 0);
    registry_close(r);
    buf_free(&want); buf_free(&got);
    return 0;
}

static int test_parse_file_entry(void)
{
    char err[256];
    struct buf b = {0};
    CHECK_EQ(registry_parse_file("", 0, err, sizeof err), -1);
    CHECK_EQ(registry_parse_file("MAPIREG\nxxxxxxxxxxxxxxxxxxxxxxxxxxxx", 36, err, sizeof err), -1);
    fresh();
    struct registry *r = open_dir(err, sizeof err);
    CHECK(r);
    CHECK_EQ(fill(r), 0);
    registry_close(r);
    CHECK_EQ(read_path("log", &b), 0);
    CHECK_EQ(registry_parse_file(b.data, b.len, err, sizeof err), 0);
    buf_free(&b);
    return 0;
}

int main(void)
{
    snprintf(base, sizeof base, "/tmp/mesos_api-test-registry-XXXXXX");
    if (!mkdtemp(base)) { perror("mkdtemp"); return 1; }
    snprintf(dir, sizeof dir, "%s/registry", base);
    RUN(test_round_trip);
    RUN(test_refusals_and_txn);
    RUN(test_torn_tail_every_byte);
    RUN(test_damage_before_later_batches_refused);
    RUN(test_corrupt_snapshot_refused);
    RUN(test_format1_read_and_upgraded);
    RUN(test_newer_format_refused);
    RUN(test_batching_one_fsync);
    RUN(test_fsync_failure_fails_the_registry);
    RUN(test_crash_inside_compaction);
    RUN(test_compaction_by_size_and_lock);
    RUN(test_compaction_with_a_busy_queue);
    RUN(test_parse_file_entry);
    rm_dir(dir);
    rmdir(base);
    return REPORT();
}
