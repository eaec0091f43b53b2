/* test_pbjson.c -- unit tests of the protobuf wire helpers (pbw.c) and the
 * table-driven protobuf <-> JSON converter (pbjson.c). Expected protobuf
 * bytes were produced with `protoc --encode` from the reference protos;
 * expected JSON follows OPERATOR_API.md section 4. */
#include <stdlib.h>
#include <string.h>
#include "test.h"
#include "buf.h"
#include "pbjson.h"
#include "pbw.h"

static size_t unhex(const char *h, unsigned char *out)
{
    size_t n = 0;
    for (; h[0] && h[1]; h += 2) {
        unsigned v;
        sscanf(h, "%2x", &v);
        out[n++] = (unsigned char)v;
    }
    return n;
}

/* JSON -> protobuf bytes as hex, or the error text prefixed by "E<code>:". */
static char *to_pb(int msg, const char *json)
{
    struct buf out = {0}, err = {0};
    static char res[4096];
    int rc = pbjson_from_json(msg, json, strlen(json), &out, &err);
    if (rc) snprintf(res, sizeof res, "E%d:%.*s", rc, (int)err.len, err.data);
    else {
        res[0] = 0;
        for (size_t i = 0; i < out.len && i * 2 + 3 < sizeof res; i++)
            sprintf(res + 2 * i, "%02x", (unsigned char)out.data[i]);
    }
    buf_free(&out);
    buf_free(&err);
    return res;
}

static char *to_json(int msg, const char *hex)
{
    static char res[8192];
    unsigned char b[2048];
    size_t n = unhex(hex, b);
    struct buf out = {0};
    int rc = pbjson_to_json(msg, b, n, &out);
    if (rc) snprintf(res, sizeof res, "ERROR");
    else snprintf(res, sizeof res, "%.*s", (int)out.len, out.data);
    buf_free(&out);
    return res;
}

#define CALL PBD_M_mesos_v1_master_Call
#define RESP PBD_M_mesos_v1_master_Response

static int test_varint(void)
{
    struct buf b = {0};
    uint64_t vals[] = { 0, 1, 127, 128, 300, 16383, 16384, UINT32_MAX, (uint64_t)INT64_MAX, UINT64_MAX };
    for (size_t i = 0; i < sizeof vals / sizeof *vals; i++) {
        buf_reset(&b);
        CHECK(pbw_put_varint(&b, vals[i]) == 0);
        uint64_t v;
        int k = pbw_varint((const uint8_t *)b.data, (const uint8_t *)b.data + b.len, &v);
        CHECK_EQ(k, (long long)b.len);
        CHECK(v == vals[i]);
        /* every strict prefix is truncated */
        for (size_t j = 0; j < b.len; j++)
            CHECK_EQ(pbw_varint((const uint8_t *)b.data, (const uint8_t *)b.data + j, &v), -1);
    }
    buf_reset(&b);
    pbw_put_varint(&b, UINT64_MAX);
    CHECK_EQ(b.len, 10);
    /* an 11-byte varint and a 10th byte > 1 are malformed */
    const uint8_t bad[] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02 };
    uint64_t v;
    CHECK_EQ(pbw_varint(bad, bad + sizeof bad, &v), -1);
    buf_free(&b);
    return 0;
}

static int test_reader(void)
{
    unsigned char b[64];
    size_t n = unhex("08061a0b080112070880b09dc2df01", b);
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, b, n);
    CHECK_EQ(pbw_next(&r, &f), 1);
    CHECK_EQ(f.tag, 1);
    CHECK_EQ(f.wt, PBW_VARINT);
    CHECK_EQ(f.v, 6);
    CHECK_EQ(pbw_next(&r, &f), 1);
    CHECK_EQ(f.tag, 3);
    CHECK_EQ(f.wt, PBW_LEN);
    CHECK_EQ(f.n, 11);
    CHECK_EQ(pbw_next(&r, &f), 0);
    /* truncation anywhere inside is an error, never a crash */
    for (size_t i = 1; i < n; i++) {
        if (i == 2) continue;   /* "08 06" alone is a whole field */
        CHECK_EQ(pbw_valid(b, i), -1);
    }
    CHECK_EQ(pbw_valid(b, 2), 0);
    /* tag 0 and wire types 6/7 are malformed; a stray end-group too */
    const uint8_t t0[] = { 0x00, 0x01 }, wt6[] = { 0x0e }, eg[] = { 0x0c };
    CHECK_EQ(pbw_valid(t0, 2), -1);
    CHECK_EQ(pbw_valid(wt6, 1), -1);
    CHECK_EQ(pbw_valid(eg, 1), -1);
    /* a group (field 2) with a varint inside is skipped whole */
    const uint8_t grp[] = { 0x13, 0x08, 0x01, 0x14, 0x08, 0x05 };
    pbw_reader_init(&r, grp, sizeof grp);
    CHECK_EQ(pbw_next(&r, &f), 1);
    CHECK_EQ(f.wt, PBW_SGROUP);
    CHECK_EQ(pbw_next(&r, &f), 1);
    CHECK_EQ(f.tag, 1);
    CHECK_EQ(f.v, 5);
    return 0;
}

static int test_begin_end(void)
{
    /* a nested message longer than 127 bytes needs a two-byte length */
    struct buf b = {0};
    size_t m = pbw_begin(&b, 2);
    for (int i = 0; i < 100; i++) pbw_put_uint(&b, 1, 1);
    CHECK_EQ(pbw_end(&b, m), 0);
    CHECK_EQ(b.len, 1 + 2 + 200);
    struct pbw_field f;
    CHECK_EQ(pbw_find(b.data, b.len, 2, &f), 1);
    CHECK_EQ(f.n, 200);
    buf_free(&b);
    return 0;
}

static int test_from_json_basic(void)
{
    CHECK_STR(to_pb(CALL, "{\"type\":\"SET_LOGGING_LEVEL\",\"set_logging_level\":{\"level\":1,"
                          "\"duration\":{\"nanoseconds\":60000000000}}}"),
              "08061a0b080112070880b09dc2df01");
    /* numbers inside strings, as stout accepts them */
    CHECK_STR(to_pb(CALL, "{\"type\":\"SET_LOGGING_LEVEL\",\"set_logging_level\":{\"level\":\"1\","
                          "\"duration\":{\"nanoseconds\":\"60000000000\"}}}"),
              "08061a0b080112070880b09dc2df01");
    CHECK_STR(to_pb(CALL, "{\"type\":\"GET_METRICS\",\"get_metrics\":{}}"), "08041200");
    /* unknown keys are ignored at every level, null means absent */
    CHECK_STR(to_pb(CALL, "{\"nope\":[1,2,{}],\"type\":\"GET_METRICS\",\"get_metrics\":{\"x\":1},\"teardown\":null}"),
              "08041200");
    /* an unknown enum name on an optional field is dropped */
    CHECK_STR(to_pb(CALL, "{\"type\":\"GET_FOO\"}"), "");
    /* the last duplicate key wins */
    CHECK_STR(to_pb(CALL, "{\"type\":\"GET_FOO\",\"type\":\"GET_METRICS\"}"), "0804");
    CHECK_STR(to_pb(CALL, "{\"type\":\"GET_METRICS\",\"type\":\"GET_FOO\"}"), "");
    return 0;
}

static int test_from_json_errors(void)
{
    CHECK_STR(to_pb(CALL, "{\"type\":1}"), "E-2:Not expecting a JSON number for field 'type'");
    CHECK_STR(to_pb(CALL, "[]"), "E-2:Expecting a JSON object");
    CHECK_STR(to_pb(CALL, "{\"type\":\"SET_LOGGING_LEVEL\",\"set_logging_level\":{\"level\":1}}"),
              "E-2:Missing required fields: set_logging_level.duration");
    CHECK_STR(to_pb(CALL, "{\"set_logging_level\":{}}"),
              "E-2:Missing required fields: set_logging_level.level, set_logging_level.duration");
    CHECK_STR(to_pb(CALL, "{\"get_metrics\":\"x\"}"), "E-2:Not expecting a JSON string for field 'get_metrics'");
    CHECK_STR(to_pb(CALL, "{\"get_metrics\":[{}]}"), "E-2:Not expecting a JSON array for field 'get_metrics'");
    CHECK_STR(to_pb(CALL, "{\"set_logging_level\":{\"level\":\"abc\"}}"),
              "E-2:Failed to parse 'abc' as a JSON number for field 'level': not a number");
    CHECK_STR(to_pb(CALL, "{\"read_file\":{\"path\":5}}"), "E-2:Not expecting a JSON number for field 'path'");
    /* not JSON at all */
    CHECK(strncmp(to_pb(CALL, "{\"type\":"), "E-1:", 4) == 0);
    CHECK(strncmp(to_pb(CALL, "{} x"), "E-1:", 4) == 0);
    return 0;
}

static int test_from_json_types(void)
{
    /* bytes are base64 (ReadFile.data is field 2 of Response.ReadFile) */
    CHECK_STR(to_pb(RESP, "{\"read_file\":{\"size\":5,\"data\":\"aGVsbG8=\"}}"), "42090805120568656c6c6f");
    CHECK_STR(to_pb(RESP, "{\"read_file\":{\"size\":5,\"data\":\"aGVsbG8\"}}"), "42090805120568656c6c6f");
    CHECK_STR(to_pb(RESP, "{\"read_file\":{\"size\":5,\"data\":\"aGV*\"}}"),
              "E-2:Failed to base64 decode bytes field 'data': Invalid character '*'");
    /* bool from a string; a lone value for a repeated field is a list of one */
    CHECK_STR(to_pb(RESP, "{\"get_health\":{\"healthy\":\"true\"}}"), "12020801");
    CHECK_STR(to_pb(RESP, "{\"get_flags\":{\"flags\":{\"name\":\"a\"}}}"), "1a050a030a0161");
    /* int64 exact at the edges; uint64 above INT64_MAX */
    CHECK_STR(to_pb(PBD_M_mesos_v1_TimeInfo, "{\"nanoseconds\":9223372036854775807}"), "08ffffffffffffffff7f");
    CHECK_STR(to_pb(PBD_M_mesos_v1_TimeInfo, "{\"nanoseconds\":-1}"), "08ffffffffffffffffff01");
    /* doubles, also "Infinity" as a string */
    CHECK_STR(to_pb(PBD_M_mesos_v1_Value_Scalar, "{\"value\":1.5}"), "09000000000000f83f");
    CHECK_STR(to_pb(PBD_M_mesos_v1_Value_Scalar, "{\"value\":\"Infinity\"}"), "09000000000000f07f");
    /* a required enum with an unknown name is an error */
    CHECK_STR(to_pb(PBD_M_mesos_v1_Value, "{\"type\":\"NOPE\"}"), "E-2:Failed to find enum for 'NOPE'");
    return 0;
}

static int test_to_json(void)
{
    CHECK_STR(to_json(RESP, "080112020801"), "{\"type\":\"GET_HEALTH\",\"get_health\":{\"healthy\":true}}");
    CHECK_STR(to_json(RESP, "080742090805120568656c6c6f"),
              "{\"type\":\"READ_FILE\",\"read_file\":{\"size\":5,\"data\":\"aGVsbG8=\"}}");
    /* declaration order (deactivated, tag 12, is declared third), the
     * AgentInfo.port default, and the always-written state lists */
    CHECK_STR(to_json(RESP, "080952130a110a030a016810011a06312e31322e306000"),
              "{\"type\":\"GET_AGENTS\",\"get_agents\":{\"agents\":[{\"agent_info\":{\"hostname\":\"h\",\"port\":5051},"
              "\"active\":true,\"deactivated\":false,\"version\":\"1.12.0\"}],\"recovered_agents\":[]}}");
    /* an empty GetTasks still lists its three arrays */
    CHECK_STR(to_json(RESP, "080c6a00"),
              "{\"type\":\"GET_TASKS\",\"get_tasks\":{\"tasks\":[],\"unreachable_tasks\":[],\"completed_tasks\":[]}}");
    /* unknown fields are skipped; an unknown enum number is dropped */
    CHECK_STR(to_json(RESP, "08e807f80101"), "{}");
    CHECK_STR(to_json(RESP, "a8060108e70712020801"), "{\"get_health\":{\"healthy\":true}}");
    /* a field with the wrong wire type is treated as unknown */
    CHECK_STR(to_json(RESP, "0a0101"), "{}");
    /* malformed bytes fail */
    CHECK_STR(to_json(RESP, "0a05"), "ERROR");
    return 0;
}

/* Fields arriving out of declaration order, repeated fields interleaved on
 * the wire, a repeated scalar field set twice (the last wins), and a string
 * that needs escapes (the writer's slow path). */
static int test_to_json_order(void)
{
    CHECK_STR(to_json(RESP, "080c6a161a030a016212030a01611a030a016412050a0363225c0801"),
              "{\"type\":\"GET_HEALTH\",\"get_tasks\":{\"tasks\":[{\"name\":\"a\"},{\"name\":\"c\\\"\\\\\"}],"
              "\"unreachable_tasks\":[],\"completed_tasks\":[{\"name\":\"b\"},{\"name\":\"d\"}]}}");
    /* a large repeated field in reverse order of another: order kept per field */
    struct buf pb = {0}, js = {0};
    pbw_put_uint(&pb, 1, 12);
    size_t k = pbw_begin(&pb, 13);
    for (int i = 0; i < 3000; i++) {
        char name[16];
        snprintf(name, sizeof name, "%d", i);
        size_t t = pbw_begin(&pb, i % 2 ? 2 : 3);
        pbw_put_str(&pb, 1, name);
        pbw_end(&pb, t);
    }
    pbw_end(&pb, k);
    CHECK(pbjson_to_json(RESP, pb.data, pb.len, &js) == 0);
    buf_putc(&js, 0);
    const char *tasks = strstr(js.data, "\"tasks\":[{\"name\":\"1\"},{\"name\":\"3\"},");
    const char *done = strstr(js.data, "\"completed_tasks\":[{\"name\":\"0\"},{\"name\":\"2\"},");
    CHECK(tasks != NULL && done != NULL && tasks < done);
    CHECK(strstr(js.data, "{\"name\":\"2997\"},{\"name\":\"2999\"}],\"unreachable_tasks\":[]") != NULL);
    buf_free(&pb);
    buf_free(&js);
    return 0;
}

static int test_defaults(void)
{
    /* FrameworkInfo: user, name required; failover_timeout and checkpoint
     * are written with their defaults; the deprecated role is not. */
    struct buf pb = {0}, js = {0}, err = {0};
    const char *in = "{\"user\":\"u\",\"name\":\"n\"}";
    CHECK_EQ(pbjson_from_json(PBD_M_mesos_v1_FrameworkInfo, in, strlen(in), &pb, &err), 0);
    CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_FrameworkInfo, pb.data, pb.len, &js), 0);
    CHECK_MEM(js.data, js.len, "{\"user\":\"u\",\"name\":\"n\",\"failover_timeout\":0.0,\"checkpoint\":false}");
    buf_free(&pb);
    buf_free(&js);
    /* MasterInfo.port is required even though it has a default: a default
     * does not make a required field present. Address.port is required too. */
    in = "{\"id\":\"x\",\"ip\":16777343,\"address\":{\"ip\":\"127.0.0.1\"}}";
    CHECK_EQ(pbjson_from_json(PBD_M_mesos_v1_MasterInfo, in, strlen(in), &pb, &err), PBJSON_ECONVERT);
    CHECK_MEM(err.data, err.len, "Missing required fields: port, address.port");
    buf_reset(&err);
    buf_reset(&pb);
    /* CommandInfo.shell defaults to true; environment variable type to VALUE. */
    in = "{\"value\":\"echo\",\"environment\":{\"variables\":[{\"name\":\"A\",\"value\":\"1\"}]}}";
    CHECK_EQ(pbjson_from_json(PBD_M_mesos_v1_CommandInfo, in, strlen(in), &pb, &err), 0);
    CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_CommandInfo, pb.data, pb.len, &js), 0);
    CHECK_MEM(js.data, js.len, "{\"environment\":{\"variables\":[{\"name\":\"A\",\"type\":\"VALUE\",\"value\":\"1\"}]},"
                               "\"shell\":true,\"value\":\"echo\"}");
    buf_free(&pb);
    buf_free(&js);
    buf_free(&err);
    return 0;
}

static int test_map_and_packed(void)
{
    /* QuotaConfig.guarantees is map<string, Value.Scalar> */
    struct buf pb = {0}, js = {0}, err = {0};
    const char *in = "{\"role\":\"r\",\"guarantees\":{\"cpus\":{\"value\":2.0}},\"limits\":{\"mem\":{\"value\":1024.5}}}";
    CHECK_EQ(pbjson_from_json(PBD_M_mesos_v1_quota_QuotaConfig, in, strlen(in), &pb, &err), 0);
    CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_quota_QuotaConfig, pb.data, pb.len, &js), 0);
    CHECK_MEM(js.data, js.len, in);
    buf_free(&pb);
    buf_free(&js);
    /* HealthCheck.HTTPCheckInfo.statuses is a repeated uint32: read both
     * the packed (LEN) form and the plain one; the default protocol shows. */
    unsigned char b[32];
    size_t n = unhex("085022049001c801", b);             /* port 80, packed [144, 200] */
    CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_HealthCheck_HTTPCheckInfo, b, n, &js), 0);
    CHECK_MEM(js.data, js.len, "{\"protocol\":\"IPv4\",\"port\":80,\"statuses\":[144,200]}");
    buf_reset(&js);
    n = unhex("08502090012003", b);               /* port 80, statuses 144 and 3, unpacked */
    CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_HealthCheck_HTTPCheckInfo, b, n, &js), 0);
    CHECK_MEM(js.data, js.len, "{\"protocol\":\"IPv4\",\"port\":80,\"statuses\":[144,3]}");
    buf_free(&js);
    buf_free(&err);
    return 0;
}

/* The one-pass path (fields in declaration order) and the general one
 * (anything else) must write the same JSON: the same Task encoded in field
 * order, in reverse order and shuffled, with a duplicate singular field, an
 * unknown enum number and a packed list. */
static void task_fields(struct buf *b, int which)
{
    switch (which) {
    case 0: pbw_put_str(b, 1, "t"); break;                               /* name */
    case 1: { size_t k = pbw_begin(b, 2); pbw_put_str(b, 1, "id"); pbw_end(b, k); break; }
    case 2: { size_t k = pbw_begin(b, 3); pbw_put_str(b, 1, "fw"); pbw_end(b, k); break; }
    case 3: { size_t k = pbw_begin(b, 5); pbw_put_str(b, 1, "ag"); pbw_end(b, k); break; }
    case 4: pbw_put_uint(b, 6, 1); break;                                 /* TASK_RUNNING */
    case 5: case 6: {                                                     /* two resources */
        size_t k = pbw_begin(b, 7);
        pbw_put_str(b, 1, which == 5 ? "cpus" : "mem");
        pbw_put_uint(b, 2, 0);
        size_t s = pbw_begin(b, 3); pbw_put_double(b, 1, which == 5 ? 0.5 : 32); pbw_end(b, s);
        pbw_end(b, k);
        break;
    }
    case 7: { size_t k = pbw_begin(b, 11); size_t l = pbw_begin(b, 1);     /* labels */
              pbw_put_str(b, 1, "k"); pbw_put_str(b, 2, "v"); pbw_end(b, l); pbw_end(b, k); break; }
    case 8: pbw_put_str(b, 14, "root"); break;                           /* user, declared last */
    }
}

static int test_one_pass_agrees(void)
{
    static const int orders[][9] = {
        { 0, 1, 2, 3, 4, 5, 6, 7, 8 }, { 8, 7, 5, 6, 4, 3, 2, 1, 0 },
        { 4, 0, 5, 2, 8, 1, 6, 3, 7 }, { 0, 1, 2, 3, 4, 7, 5, 6, 8 },
    };
    const char *want = "{\"name\":\"t\",\"task_id\":{\"value\":\"id\"},\"framework_id\":{\"value\":\"fw\"},"
        "\"agent_id\":{\"value\":\"ag\"},\"state\":\"TASK_RUNNING\",\"resources\":["
        "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.5}},"
        "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":32.0}}],"
        "\"labels\":{\"labels\":[{\"key\":\"k\",\"value\":\"v\"}]},\"user\":\"root\"}";
    for (size_t o = 0; o < sizeof orders / sizeof *orders; o++) {
        struct buf pb = {0}, js = {0};
        for (int i = 0; i < 9; i++) task_fields(&pb, orders[o][i]);
        CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_Task, pb.data, pb.len, &js), 0);
        CHECK_MEM(js.data, js.len, want);
        /* A repeated singular field: the last one wins on both paths. */
        buf_reset(&js);
        struct buf dup = {0};
        pbw_put_str(&dup, 1, "first");
        buf_append(&dup, pb.data, pb.len);
        CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_Task, dup.data, dup.len, &js), 0);
        CHECK_MEM(js.data, js.len, want);
        /* An unknown state number is dropped; the field is then absent. */
        buf_reset(&js);
        buf_reset(&dup);
        buf_append(&dup, pb.data, pb.len);
        pbw_put_uint(&dup, 6, 99);
        CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_Task, dup.data, dup.len, &js), 0);
        CHECK_MEM(js.data, js.len, want);
        buf_free(&dup);
        buf_free(&pb);
        buf_free(&js);
    }
    /* Only unknown enum numbers, packed: the list is absent, not []. */
    struct buf pb = {0}, js = {0};
    pbw_put_str(&pb, 1, "t");
    unsigned char packed[] = { 0x63, 0x64 };                               /* 99, 100 */
    pbw_put_bytes(&pb, 9, packed, sizeof packed);   /* status_update_state is not repeated: skipped */
    CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_Task, pb.data, pb.len, &js), 0);
    CHECK_MEM(js.data, js.len, "{\"name\":\"t\"}");
    buf_free(&pb);
    buf_free(&js);
    return 0;
}

/* A list of several MB is written by two threads: the result must be the
 * elements' JSON, each as written alone, in order. */
static int test_large_list(void)
{
    struct buf pb = {0}, js = {0}, want = {0}, one = {0}, task = {0};
    pbw_put_uint(&pb, 1, 12);                                 /* GET_TASKS */
    size_t k = pbw_begin(&pb, 13);
    buf_putc(&want, '[');
    for (int i = 0; i < 40000; i++) {
        char name[32];
        snprintf(name, sizeof name, "task-%d", i);
        buf_reset(&task);
        pbw_put_str(&task, 1, name);
        size_t t = pbw_begin(&task, 2); pbw_put_str(&task, 1, name); pbw_end(&task, t);
        t = pbw_begin(&task, 11);
        for (int l = 0; l < 3; l++) {
            size_t lab = pbw_begin(&task, 1);
            pbw_put_str(&task, 1, "key-with-some-length");
            pbw_put_str(&task, 2, i % 7 ? "value \"quoted\"" : "plain value");
            pbw_end(&task, lab);
        }
        pbw_end(&task, t);
        pbw_put_bytes(&pb, 2, task.data, task.len);
        buf_reset(&one);
        CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_Task, task.data, task.len, &one), 0);
        if (i) buf_putc(&want, ',');
        buf_append(&want, one.data, one.len);
    }
    buf_putc(&want, ']');
    buf_putc(&want, 0);
    pbw_end(&pb, k);
    CHECK(pb.len > ((size_t)4 << 20));                       /* large enough for two threads */
    CHECK_EQ(pbjson_to_json(RESP, pb.data, pb.len, &js), 0);
    buf_putc(&js, 0);
    const char *list = strstr(js.data, "\"tasks\":[");
    CHECK(list != NULL);
    CHECK(list && strncmp(list + 8, want.data, want.len - 1) == 0);
    CHECK(list && strcmp(list + 8 + want.len - 1, ",\"unreachable_tasks\":[],\"completed_tasks\":[]}}") == 0);
    buf_free(&pb); buf_free(&js); buf_free(&want); buf_free(&one); buf_free(&task);
    return 0;
}

/* The hand-written Task writer must agree with the general path byte for
 * byte, whatever the Task holds: random tasks with the usual fields, fields
 * out of order or twice, later fields, unknown enum numbers, odd labels and
 * ids, long and escaped strings. */
static uint64_t rnd_state = 0x9e3779b97f4a7c15u;
static unsigned rnd(unsigned n)
{
    rnd_state ^= rnd_state << 13; rnd_state ^= rnd_state >> 7; rnd_state ^= rnd_state << 17;
    return (unsigned)(rnd_state % n);
}

static void rnd_string(struct buf *b, uint32_t tag)
{
    static const char *const pick[] = { "a", "task-1", "with \"quotes\" and \\", "tab\there", "\x01ctl",
                                          "ünïcødé", "" };
    if (rnd(8) == 0) {                                       /* long: a two-byte length */
        char big[300];
        memset(big, 'x', sizeof big);
        pbw_put_bytes(b, tag, big, 130 + rnd(160));
    } else {
        pbw_put_str(b, tag, pick[rnd(sizeof pick / sizeof *pick)]);
    }
}

static void rnd_id(struct buf *b, uint32_t tag)
{
    size_t k = pbw_begin(b, tag);
    int shape = rnd(10);
    if (shape > 0) rnd_string(b, 1);
    if (shape == 1) rnd_string(b, 1);                        /* twice */
    if (shape == 2) pbw_put_uint(b, 7, 3);                   /* unknown field */
    pbw_end(b, k);
}

static void rnd_task(struct buf *b)
{
    int fields[] = { 1, 2, 3, 4, 5, 6, 7, 7, 8, 9, 10, 11, 14 };
    int n = (int)(sizeof fields / sizeof *fields);
    if (rnd(4) == 0)                                          /* shuffled */
        for (int i = n - 1; i > 0; i--) { int j = (int)rnd((unsigned)i + 1), t = fields[i]; fields[i] = fields[j]; fields[j] = t; }
    for (int i = 0; i < n; i++) {
        if (rnd(5) == 0 || (fields[i] == 14 && rnd(6))) continue;   /* absent (user mostly) */
        int reps = rnd(20) == 0 ? 2 : 1;                      /* a field twice */
        for (int r = 0; r < reps; r++)
            switch (fields[i]) {
            case 1: case 14: rnd_string(b, (uint32_t)fields[i]); break;
            case 2: case 3: case 4: case 5: rnd_id(b, (uint32_t)fields[i]); break;
            case 6: case 9: pbw_put_uint(b, (uint32_t)fields[i], rnd(10) ? rnd(14) : 99); break;
            case 7: {
                size_t k = pbw_begin(b, 7);
                pbw_put_str(b, 1, rnd(2) ? "cpus" : "mem");
                pbw_put_uint(b, 2, 0);
                size_t sc = pbw_begin(b, 3); pbw_put_double(b, 1, rnd(1000) / 10.0); pbw_end(b, sc);
                pbw_end(b, k);
                break;
            }
            case 8: {
                size_t k = pbw_begin(b, 8);
                rnd_id(b, 1);
                pbw_put_uint(b, 2, rnd(14));
                pbw_put_double(b, 6, 1.5e9 + rnd(1000));
                pbw_end(b, k);
                break;
            }
            case 10: pbw_put_bytes(b, 10, "\x00\xff\x10uuid", 7); break;
            case 11: {
                size_t k = pbw_begin(b, 11);
                int labels = rnd(6);
                for (int l = 0; l < labels; l++) {
                    size_t lb = pbw_begin(b, 1);
                    int shape = rnd(8);
                    if (shape == 1) rnd_string(b, 2);                 /* value first */
                    rnd_string(b, 1);
                    if (shape != 2) rnd_string(b, 2);                  /* key only */
                    if (shape == 3) pbw_put_uint(b, 9, 1);             /* unknown field */
                    pbw_end(b, lb);
                }
                if (rnd(10) == 0) pbw_put_uint(b, 2, 1);               /* unknown in Labels */
                pbw_end(b, k);
                break;
            }
            }
    }
}

static int test_task_writer_agrees(void)
{
    struct buf pb = {0}, a = {0}, b = {0};
    int differ = 0;
    for (int i = 0; i < 20000; i++) {
        buf_reset(&pb); buf_reset(&a); buf_reset(&b);
        rnd_task(&pb);
        int ra = pbjson_task_to_json(pb.data, pb.len, &a, 0);
        int rb = pbjson_to_json(PBD_M_mesos_v1_Task, pb.data, pb.len, &b);
        if (ra != rb || a.len != b.len || memcmp(a.data, b.data, a.len) != 0) {
            if (differ++ < 3) printf("task %d:\n  %.*s\n  %.*s\n", i, (int)a.len, a.data, (int)b.len, b.data);
        }
    }
    CHECK_EQ(differ, 0);
    buf_free(&pb); buf_free(&a); buf_free(&b);
    return 0;
}

static int test_roundtrip(void)
{
    const char *in =
        "{\"type\":\"UPDATE_QUOTA\",\"update_quota\":{\"force\":true,\"quota_configs\":["
        "{\"role\":\"a/b\",\"guarantees\":{\"cpus\":{\"value\":0.5}}},{\"role\":\"c\"}]}}";
    struct buf pb = {0}, js = {0}, err = {0};
    CHECK_EQ(pbjson_from_json(CALL, in, strlen(in), &pb, &err), 0);
    CHECK_EQ(pbjson_check(CALL, pb.data, pb.len, &err), 0);
    CHECK_EQ(pbjson_to_json(CALL, pb.data, pb.len, &js), 0);
    CHECK_MEM(js.data, js.len, in);
    buf_free(&pb);
    buf_free(&js);
    buf_free(&err);
    return 0;
}

static int test_check_required(void)
{
    /* ReadFile without its required offset, as protobuf bytes */
    unsigned char b[64];
    size_t n = unhex("08082a030a0161", b);   /* type READ_FILE, read_file { path: "a" } */
    struct buf err = {0};
    CHECK_EQ(pbjson_check(CALL, b, n, &err), -1);
    CHECK_MEM(err.data, err.len, "read_file.offset");
    buf_reset(&err);
    n = unhex("08082a021000", b);            /* offset only */
    CHECK_EQ(pbjson_check(CALL, b, n, &err), -1);
    CHECK_MEM(err.data, err.len, "read_file.path");
    buf_reset(&err);
    n = unhex("08082a050a01611000", b);      /* path "a", offset 0 */
    CHECK_EQ(pbjson_check(CALL, b, n, &err), 0);
    CHECK_EQ(pbjson_check(CALL, "\xff", 1, &err), -1);
    buf_free(&err);
    return 0;
}

static int test_enum_lookup(void)
{
    CHECK_STR(pbd_enum_name(PBD_E_mesos_v1_master_Call_Type, 33), "GET_OPERATIONS");
    CHECK(pbd_enum_name(PBD_E_mesos_v1_master_Call_Type, 999) == NULL);
    int32_t v = 0;
    CHECK_EQ(pbd_enum_number(PBD_E_mesos_v1_TaskState, "TASK_RUNNING", 12, &v), 0);
    CHECK_EQ(v, 1);
    CHECK_EQ(pbd_enum_number(PBD_E_mesos_v1_TaskState, "TASK_RUN", 8, &v), -1);
    return 0;
}

int main(void)
{
    RUN(test_varint);
    RUN(test_reader);
    RUN(test_begin_end);
    RUN(test_from_json_basic);
    RUN(test_from_json_errors);
    RUN(test_from_json_types);
    RUN(test_to_json);
    RUN(test_to_json_order);
    RUN(test_defaults);
    RUN(test_map_and_packed);
    RUN(test_one_pass_agrees);
    RUN(test_large_list);
    RUN(test_task_writer_agrees);
    RUN(test_roundtrip);
    RUN(test_check_required);
    RUN(test_enum_lookup);
    return REPORT();
}
