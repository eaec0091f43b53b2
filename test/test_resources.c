/* test_resources.c -- unit tests of src/resources.c: the --resources and
 * --attributes syntax, Resource bytes in both formats (checked by
 * transcoding to JSON with pbjson), validation messages, and the arithmetic.
 * Expected texts and errors follow upstream's resources_tests.cpp,
 * values.cpp and resources.cpp wording. Table rows carry __LINE__. */
#include <stdlib.h>
#include "test.h"
#include "buf.h"
#include "pbjson.h"
#include "pbw.h"
#include "resources.h"

/* ---- helpers ----------------------------------------------------------- */

static const char *fmt(const struct resources *rs)
{
    static char out[8192];
    struct buf b = {0};
    resources_format(rs, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? b.data : "");
    buf_free(&b);
    return out;
}

/* Parse text; returns the formatted result or "ERROR: <message>". */
static const char *parse(const char *text, const char *role)
{
    static char out[8192];
    struct resources rs = {0};
    struct buf err = {0};
    if (resources_parse(text, strlen(text), role, &rs, &err) == 0)
        snprintf(out, sizeof out, "%s", fmt(&rs));
    else
        snprintf(out, sizeof out, "ERROR: %.*s", (int)err.len, err.data ? err.data : "");
    resources_free(&rs);
    buf_free(&err);
    return out;
}

static int parse_into(const char *text, struct resources *rs)
{
    return resources_parse(text, strlen(text), NULL, rs, NULL);
}

/* Each resource encoded in `format`, transcoded to JSON, joined in [..]. */
static const char *json(const struct resources *rs, int format)
{
    static char out[8192];
    struct buf pb = {0}, j = {0};
    buf_putc(&j, '[');
    for (size_t i = 0; i < rs->len; i++) {
        buf_reset(&pb);
        if (resources_encode_one(&rs->v[i], format, &pb) < 0) return "ENCODE ERROR";
        if (i) buf_putc(&j, ',');
        if (pbjson_to_json(PBD_M_mesos_v1_Resource, pb.data, pb.len, &j) < 0) return "JSON ERROR";
    }
    buf_putc(&j, ']');
    snprintf(out, sizeof out, "%.*s", (int)j.len, j.data);
    buf_free(&pb);
    buf_free(&j);
    return out;
}

/* Resource JSON -> bytes -> resources_decode; result text or "ERROR: ...". */
static const char *decode_json(const char *text, struct resources *keep)
{
    static char out[8192];
    struct buf pb = {0}, err = {0};
    struct resources rs = {0};
    if (pbjson_from_json(PBD_M_mesos_v1_Resource, text, strlen(text), &pb, &err) != 0)
        snprintf(out, sizeof out, "PBJSON: %.*s", (int)err.len, err.data);
    else if (resources_decode(pb.data, pb.len, &rs, &err) != 0)
        snprintf(out, sizeof out, "ERROR: %.*s", (int)err.len, err.data ? err.data : "");
    else
        snprintf(out, sizeof out, "%s", fmt(&rs));
    if (keep) resources_add(keep, &rs);
    resources_free(&rs);
    buf_free(&pb);
    buf_free(&err);
    return out;
}

struct row { int line; const char *in, *role, *want; };
#define ROW(in, role, want) { __LINE__, in, role, want }

static int check_rows(const struct row *rows, size_t n, const char *(*fn)(const char *, const char *))
{
    for (size_t i = 0; i < n; i++) {
        const char *got = fn(rows[i].in, rows[i].role);
        if (strcmp(got, rows[i].want) != 0) {
            printf("FAIL %s:%d: \"%s\"\n  want \"%s\"\n  got  \"%s\"\n", __FILE__, rows[i].line, rows[i].in,
                   rows[i].want, got);
            return 1;
        }
    }
    return 0;
}

/* ---- text syntax ------------------------------------------------------- */

static int test_parse_valid(void)
{
    static const struct row rows[] = {
        ROW("cpus:4;mem:4096;disk:10000;ports:[31000-32000,33000-33100];gpus:0;bugs:{a,b,c}", NULL,
            "cpus:4; mem:4096; disk:10000; ports:[31000-32000, 33000-33100]; bugs:{a, b, c}"),
        ROW("cpus(role1):2", NULL, "cpus(reservations: [(STATIC,role1)]):2"),
        ROW("cpus(*):2", NULL, "cpus:2"),
        ROW("cpus( role1 ):2;mem(role1):3", NULL,
            "cpus(reservations: [(STATIC,role1)]):2; mem(reservations: [(STATIC,role1)]):3"),
        ROW(" cpus : 4 ; mem : 1 024 ", NULL, "cpus:4; mem:1024"),
        ROW("\tcpus:1;\nmem:2", NULL, "cpus:1; mem:2"),
        ROW("cpus:1;cpus:2.5", NULL, "cpus:3.5"),
        ROW("cpus:0.1;cpus:0.2", NULL, "cpus:0.3"),
        ROW("cpus:2.0001", NULL, "cpus:2"),
        ROW("cpus:2.0009", NULL, "cpus:2.001"),
        ROW("cpus:45.55", NULL, "cpus:45.55"),
        ROW("mem:1e3;disk:+5", NULL, "mem:1000; disk:5"),
        ROW("cpus:99999999999.999", NULL, "cpus:99999999999.999"),
        ROW("ports:[1-10];ports:[5-20,30-40]", NULL, "ports:[1-20, 30-40]"),
        ROW("ports:[1-2,3-4,10-10]", NULL, "ports:[1-4, 10-10]"),
        ROW("ports:[10-20, 1-5]", NULL, "ports:[1-5, 10-20]"),
        ROW("ports:[1-10,2-3]", NULL, "ports:[1-10]"),
        ROW("ports:[0x10-0x20]", NULL, "ports:[16-32]"),
        ROW("ports:[0-18446744073709551615]", NULL, "ports:[0-18446744073709551615]"),
        ROW("ports:[1-2][5-6]", NULL, "ports:[1-2, 5-6]"),
        ROW("bugs:{a,b};bugs:{b,c}", NULL, "bugs:{a, b, c}"),
        ROW("bugs:{c,a}", NULL, "bugs:{c, a}"),
        ROW("cpus(role1):2;cpus:1;cpus(role1):3", NULL, "cpus(reservations: [(STATIC,role1)]):5; cpus:1"),
        ROW("cpus:2.5;ports(role2):[0-100]", "role1",
            "cpus(reservations: [(STATIC,role1)]):2.5; ports(reservations: [(STATIC,role2)]):[0-100]"),
        ROW("cpus(*):2", "role1", "cpus:2"),
        ROW("cpus(role1)xyz:4", NULL, "cpus(reservations: [(STATIC,role1)]):4"),
        ROW("cpus(a/b):1", NULL, "cpus(reservations: [(STATIC,a/b)]):1"),
        ROW("cpus:4;", NULL, "cpus:4"),
        ROW(";;cpus:4;;", NULL, "cpus:4"),
        ROW("cpus::4", NULL, "cpus:4"),          /* stout's tokenize drops the empty field */
        ROW("", NULL, "{}"),
        ROW("ports:[];bugs:{};cpus:0;cpus:-0", NULL, "{}"),
        ROW("foo(role1):1;foo(role1):2", NULL, "foo(reservations: [(STATIC,role1)]):3"),
    };
    return check_rows(rows, sizeof rows / sizeof *rows, parse);
}

static int test_parse_errors(void)
{
    static const struct row rows[] = {
        ROW("cpus(role1)", NULL, "ERROR: Bad value for resources, missing or extra ':' in cpus(role1)"),
        ROW("cpus:4:5", NULL, "ERROR: Bad value for resources, missing or extra ':' in cpus:4:5"),
        ROW("cpus:4; ", NULL, "ERROR: Bad value for resources, missing or extra ':' in  "),
        ROW("cpus(role1:1", NULL, "ERROR: Bad value for resources, mismatched parentheses in cpus(role1:1"),
        ROW("cpus)(role1:1", NULL, "ERROR: Bad value for resources, mismatched parentheses in cpus)(role1:1"),
        ROW("foo(role1):1;foo(role2):[0-1]", NULL,
            "ERROR: Resources with the same name ('foo') but different types are not allowed"),
        ROW("cpus:-1", NULL, "ERROR: Bad type for resource cpus value -1 type TEXT"),
        ROW("cpus:abc", NULL, "ERROR: Bad type for resource cpus value abc type TEXT"),
        ROW("cpus:inf", NULL, "ERROR: Bad type for resource cpus value inf type TEXT"),
        ROW("cpus:1e400", NULL, "ERROR: Bad type for resource cpus value 1e400 type TEXT"),
        ROW("cpus:0x10", NULL, "ERROR: Bad type for resource cpus value 0x10 type TEXT"),
        ROW("cpus:1e-310", NULL,
            "ERROR: Failed to parse resource cpus value 1e-310 error Subnormal values not supported"),
        ROW("cpus:0.0001", NULL, "ERROR: Invalid scalar resource: value <= 0"),
        ROW("cpus:1e300", NULL, "ERROR: Invalid scalar resource: value <= 0"),
        ROW("cpus: ", NULL, "ERROR: Failed to parse resource cpus value   error Expecting non-empty string"),
        ROW("ports:[5-1]", NULL, "ERROR: Invalid ranges resource: begin > end"),
        ROW("ports:[1-2-3]", NULL,
            "ERROR: Failed to parse resource ports value [1-2-3] error Expecting one or more \"ranges\""),
        ROW("ports:[a-b]", NULL,
            "ERROR: Failed to parse resource ports value [a-b] error Expecting non-negative integers in 'a'"),
        ROW("ports:[1-18446744073709551616]", NULL,
            "ERROR: Failed to parse resource ports value [1-18446744073709551616] error "
            "Expecting non-negative integers in '1'"),
        ROW("ports:[1-2", NULL, "ERROR: Failed to parse resource ports value [1-2 error Mismatched brackets"),
        ROW("ports:]1-2[", NULL, "ERROR: Failed to parse resource ports value ]1-2[ error Mismatched brackets"),
        ROW("ports:1[1-2]", NULL, "ERROR: Failed to parse resource ports value 1[1-2] error Unexpected '[' found"),
        ROW("bugs:a{b}", NULL, "ERROR: Failed to parse resource bugs value a{b} error Unexpected '{' found"),
        ROW("bugs:{a,a}", NULL, "ERROR: Invalid set resource: duplicated elements"),
        ROW("(role1):4", NULL, "ERROR: Empty resource name"),
        ROW("cpus():4", NULL, "ERROR: Role names cannot be the empty string"),
        ROW("cpus(/a):4", NULL, "ERROR: Role '/a' cannot start with a slash"),
        ROW("cpus(a/):4", NULL, "ERROR: Role 'a/' cannot end with a slash"),
        ROW("cpus(a//b):4", NULL, "ERROR: Role 'a//b' cannot contain two adjacent slashes"),
        ROW("cpus(a/./b):4", NULL, "ERROR: Role 'a/./b' cannot include '.' as a component"),
        ROW("cpus(..):4", NULL, "ERROR: Role '..' cannot include '..' as a component"),
        ROW("cpus(a/*):4", NULL, "ERROR: Role 'a/*' cannot include '*' as a component"),
        ROW("cpus(-a):4", NULL, "ERROR: Role component '-a' is invalid because it starts with a dash"),
        ROW("cpus(a b):4", NULL,
            "ERROR: Role component 'a b' is invalid because it contains backspace or whitespace"),
        /* Syntax errors anywhere win over validation errors earlier on. */
        ROW("cpus:0.0001;mem:x:y", NULL, "ERROR: Bad value for resources, missing or extra ':' in mem:x:y"),
        /* A JSON object is not the JSON form: it goes to the text parser. */
        ROW("{\"a\":1}", NULL,
            "ERROR: Failed to parse resource {\"a\" value 1} error Mismatched brackets"),
    };
    return check_rows(rows, sizeof rows / sizeof *rows, parse);
}

static int test_parse_json(void)
{
    static const struct row rows[] = {
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":45.55}}]", NULL, "cpus:45.55"),
        ROW(" [\n {\"name\": \"ports\", \"type\": \"RANGES\", \"ranges\": {\"range\": [{\"begin\": 30000, "
            "\"end\": 50000}, {\"begin\": 10000, \"end\": 20000}]}},\n"
            " {\"name\": \"pandas\", \"type\": \"SET\", \"set\": {\"item\": [\"lun_lun\", \"yang_yang\"]}}] ",
            NULL, "ports:[10000-20000, 30000-50000]; pandas:{lun_lun, yang_yang}"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2},\"role\":\"r1\"}]", NULL,
            "cpus(reservations: [(STATIC,r1)]):2"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2}}]", "r1",
            "cpus(reservations: [(STATIC,r1)]):2"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2},\"role\":\"*\"}]", "r1", "cpus:2"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2},"
            "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"}]}]", "r1",
            "cpus(reservations: [(STATIC,a)]):2"),
        /* role beside reservations: the upgrade drops role before validation. */
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2},\"role\":\"x\","
            "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"}]}]", NULL,
            "cpus(reservations: [(STATIC,a)]):2"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}},"
            "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2}}]", NULL, "cpus:3"),
        ROW("[]", NULL, "{}"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"role\":\"r1\","
            "\"reservation\":{\"principal\":\"p\"}}]", NULL,
            "ERROR: Dynamic reservations cannot be specified at the command line; do not include a reservation "
            "with DYNAMIC type in the resources JSON"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"revocable\":{}}]", NULL,
            "ERROR: Revocable resources cannot be specified at the command line; do not include a 'revocable' "
            "key in the resources JSON"),
        ROW("[{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},"
            "\"disk\":{\"persistence\":{\"id\":\"v\"}}}]", NULL,
            "ERROR: Persistent volumes cannot be specified at the command line"),
        ROW("[{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":1,\"end\":10},"
            "{\"begin\":5,\"end\":20}]}}]", NULL, "ERROR: Invalid ranges resource: overlapping ranges"),
        ROW("[{\"name\":\"cpus\"}]", NULL,
            "ERROR: Some JSON resources were not formatted properly: Missing required fields: type"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":-1}},1]", NULL,
            "ERROR: Some JSON resources were not formatted properly: Expecting a JSON object"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":-1}}]", NULL,
            "ERROR: Invalid scalar resource: value <= 0"),
        ROW("[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"reservation\":{}}]", NULL,
            "ERROR: Invalid reservation: role \"*\" cannot be dynamically reserved"),
    };
    return check_rows(rows, sizeof rows / sizeof *rows, parse);
}

/* Every prefix of a valid text parses or fails cleanly (ASan watches). */
static int test_parse_prefixes(void)
{
    const char *s = "cpus(r1):4;mem:4096;ports:[31000-32000,33000-33100];bugs:{a,b,c};"
                    "[{\"name\":\"x\"}]";
    for (size_t n = 0; n <= strlen(s); n++) {
        char *copy = malloc(n ? n : 1);
        memcpy(copy, s, n);
        struct resources rs = {0};
        struct buf err = {0};
        int rc = resources_parse(copy, n, NULL, &rs, &err);
        CHECK(rc == 0 || err.len > 0);
        resources_free(&rs);
        buf_free(&err);
        free(copy);
    }
    return 0;
}

/* ---- attributes -------------------------------------------------------- */

static const char *attrs(const char *text, const char *unused)
{
    (void)unused;
    static char out[8192];
    struct buf pb = {0}, j = {0}, err = {0};
    buf_puts(&pb, "junk");            /* appended after existing content */
    if (resources_parse_attributes(text, strlen(text), 5, &pb, &err) != 0) {
        snprintf(out, sizeof out, "ERROR: %.*s%s", (int)err.len, err.data,
                 pb.len == 4 ? "" : " (and bytes were left)");
    } else {
        struct pbw_reader r;
        struct pbw_field f;
        pbw_reader_init(&r, pb.data + 4, pb.len - 4);
        while (pbw_next(&r, &f) == 1) {
            if (j.len) buf_putc(&j, ',');
            if (f.tag != 5 || pbjson_to_json(PBD_M_mesos_v1_Attribute, f.p, f.n, &j) < 0) buf_puts(&j, "BAD");
        }
        snprintf(out, sizeof out, "%.*s", (int)j.len, j.data ? j.data : "");
    }
    buf_free(&pb);
    buf_free(&j);
    buf_free(&err);
    return out;
}

static int test_attributes(void)
{
    static const struct row rows[] = {
        ROW("rack:r1;zone:2;ranges:[1-10,5-12,20-30]", NULL,
            "{\"name\":\"rack\",\"type\":\"TEXT\",\"text\":{\"value\":\"r1\"}},"
            "{\"name\":\"zone\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2.0}},"
            "{\"name\":\"ranges\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":1,\"end\":12},"
            "{\"begin\":20,\"end\":30}]}}"),
        ROW("os:ubuntu 22;x:1.5\ny:-1", NULL,
            "{\"name\":\"os\",\"type\":\"TEXT\",\"text\":{\"value\":\"ubuntu22\"}},"
            "{\"name\":\"x\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1.5}},"
            "{\"name\":\"y\",\"type\":\"TEXT\",\"text\":{\"value\":\"-1\"}}"),
        ROW("a:b:c;;", NULL, "{\"name\":\"a\",\"type\":\"TEXT\",\"text\":{\"value\":\"b:c\"}}"),
        /* Attribute scalars keep the value as given (no fixed point). */
        ROW("w:0.12345", NULL, "{\"name\":\"w\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.12345}}"),
        ROW("", NULL, ""),
        ROW("set:{a,b}", NULL, "ERROR: Bad type for attribute set text {a,b} type 2"),
        ROW("rack", NULL, "ERROR: Invalid attribute key:value pair 'rack'"),
        ROW("a:1;rack:", NULL, "ERROR: Invalid attribute key:value pair 'rack:'"),
        ROW(":x", NULL, "ERROR: Invalid attribute key:value pair ':x'"),
        ROW("x: ", NULL, "ERROR: Failed to parse attribute x text   error Expecting non-empty string"),
        ROW("p:[1-2", NULL, "ERROR: Failed to parse attribute p text [1-2 error Mismatched brackets"),
    };
    return check_rows(rows, sizeof rows / sizeof *rows, attrs);
}

/* ---- protobuf: formats and round trips ---------------------------------- */

static int test_stored_and_endpoint(void)
{
    struct resources rs = {0};
    CHECK_EQ(parse_into("cpus:4;ports:[31000-32000];bugs:{a,b};disk(role1):10", &rs), 0);
    CHECK_STR(json(&rs, RESOURCES_STORED),
              "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":4.0}},"
              "{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":31000,\"end\":32000}]}},"
              "{\"name\":\"bugs\",\"type\":\"SET\",\"set\":{\"item\":[\"a\",\"b\"]}},"
              "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":10.0},"
              "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"role1\"}]}]");
    CHECK_STR(json(&rs, RESOURCES_ENDPOINT),
              "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":4.0},\"role\":\"*\"},"
              "{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":31000,\"end\":32000}]},"
              "\"role\":\"*\"},"
              "{\"name\":\"bugs\",\"type\":\"SET\",\"set\":{\"item\":[\"a\",\"b\"]},\"role\":\"*\"},"
              "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":10.0},\"role\":\"role1\","
              "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"role1\"}]}]");

    /* resources_encode writes each as a field: here AgentInfo.resources. */
    struct buf pb = {0}, j = {0};
    CHECK_EQ(pbw_put_str(&pb, 1, "host"), 0);
    CHECK_EQ(resources_encode(&rs, 3, RESOURCES_STORED, &pb), 0);
    CHECK_EQ(pbjson_to_json(PBD_M_mesos_v1_AgentInfo, pb.data, pb.len, &j), 0);
    CHECK_MEM(j.data, j.len,
              "{\"hostname\":\"host\",\"port\":5051,\"resources\":["
              "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":4.0}},"
              "{\"name\":\"ports\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":31000,\"end\":32000}]}},"
              "{\"name\":\"bugs\",\"type\":\"SET\",\"set\":{\"item\":[\"a\",\"b\"]}},"
              "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":10.0},"
              "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"role1\"}]}]}");

    /* ...and resources_decode_field reads them back. */
    struct resources back = {0};
    CHECK_EQ(resources_decode_field(pb.data, pb.len, 3, &back, NULL), 0);
    CHECK(resources_equal(&rs, &back));
    CHECK_STR(fmt(&back), fmt(&rs));
    resources_free(&back);
    buf_free(&pb);
    buf_free(&j);
    resources_free(&rs);
    return 0;
}

static int test_dynamic_and_refined(void)
{
    struct resources rs = {0};
    const char *dyn = "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},"
                      "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\",\"principal\":\"ops\","
                      "\"labels\":{\"labels\":[{\"key\":\"k\",\"value\":\"v\"},{\"key\":\"x\"}]}}]}";
    CHECK_STR(decode_json(dyn, &rs), "cpus(reservations: [(DYNAMIC,r1,ops,{k: v, x})]):1");
    CHECK_STR(json(&rs, RESOURCES_ENDPOINT),
              "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1.0},\"role\":\"r1\","
              "\"reservation\":{\"principal\":\"ops\",\"labels\":{\"labels\":[{\"key\":\"k\",\"value\":\"v\"},"
              "{\"key\":\"x\"}]}},"
              "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\",\"principal\":\"ops\","
              "\"labels\":{\"labels\":[{\"key\":\"k\",\"value\":\"v\"},{\"key\":\"x\"}]}}]}]");
    CHECK_STR(json(&rs, RESOURCES_STORED),
              "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1.0},"
              "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\",\"principal\":\"ops\","
              "\"labels\":{\"labels\":[{\"key\":\"k\",\"value\":\"v\"},{\"key\":\"x\"}]}}]}]");
    resources_free(&rs);

    /* A dynamic reservation without principal or labels still gets `reservation: {}`. */
    CHECK_STR(decode_json("{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":8},"
                          "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\"}]}", &rs),
              "mem(reservations: [(DYNAMIC,r1)]):8");
    CHECK_STR(json(&rs, RESOURCES_ENDPOINT),
              "[{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":8.0},\"role\":\"r1\","
              "\"reservation\":{},\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\"}]}]");
    resources_free(&rs);

    /* Refined reservations: endpoint format adds nothing. */
    CHECK_STR(decode_json("{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},"
                          "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"},"
                          "{\"type\":\"DYNAMIC\",\"role\":\"a/b\",\"principal\":\"p\"}]}", &rs),
              "cpus(reservations: [(STATIC,a),(DYNAMIC,a/b,p)]):1");
    CHECK_STR(json(&rs, RESOURCES_ENDPOINT), json(&rs, RESOURCES_STORED));
    resources_free(&rs);

    /* Pre-refinement input is upgraded: role + reservation -> DYNAMIC. */
    CHECK_STR(decode_json("{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},"
                          "\"role\":\"r1\",\"reservation\":{\"principal\":\"ops\"}}", &rs),
              "cpus(reservations: [(DYNAMIC,r1,ops)]):1");
    CHECK_STR(json(&rs, RESOURCES_STORED),
              "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1.0},"
              "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\",\"principal\":\"ops\"}]}]");
    resources_free(&rs);
    CHECK_STR(decode_json("{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"role\":\"r1\"}", &rs),
              "cpus(reservations: [(STATIC,r1)]):1");
    resources_free(&rs);
    /* Endpoint-format input (role + reservations) is accepted too. */
    CHECK_STR(decode_json("{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"role\":\"r1\","
                          "\"reservation\":{\"principal\":\"ops\"},"
                          "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\",\"principal\":\"ops\"}]}", &rs),
              "cpus(reservations: [(DYNAMIC,r1,ops)]):1");
    resources_free(&rs);

    /* Allocation info is written in the stored format. */
    CHECK_EQ(parse_into("cpus:1", &rs), 0);
    resources_allocate(&rs, "web");
    CHECK_STR(fmt(&rs), "cpus(allocated: web):1");
    CHECK_STR(json(&rs, RESOURCES_STORED),
              "[{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1.0},"
              "\"allocation_info\":{\"role\":\"web\"}}]");
    resources_unallocate(&rs);
    CHECK_STR(fmt(&rs), "cpus:1");
    resources_free(&rs);
    return 0;
}

/* Fields we do not model survive decode + encode byte for byte. */
static int test_roundtrip_bytes(void)
{
    struct buf in = {0}, out = {0};
    size_t m, k;
    pbw_put_str(&in, 1, "disk");
    pbw_put_uint(&in, 2, 0);
    m = pbw_begin(&in, 3); pbw_put_double(&in, 1, 100); pbw_end(&in, m);
    m = pbw_begin(&in, 7);                                    /* DiskInfo */
    k = pbw_begin(&in, 1); pbw_put_str(&in, 1, "vol1"); pbw_put_str(&in, 2, "alice"); pbw_end(&in, k);
    k = pbw_begin(&in, 2); pbw_put_str(&in, 1, "data"); pbw_put_uint(&in, 3, 1); pbw_end(&in, k);
    pbw_end(&in, m);
    m = pbw_begin(&in, 12); pbw_put_str(&in, 1, "rp1"); pbw_end(&in, m);   /* provider_id */
    m = pbw_begin(&in, 13);
    pbw_put_str(&in, 1, "p"); pbw_put_str(&in, 3, "r"); pbw_put_uint(&in, 4, 2);
    pbw_end(&in, m);
    pbw_put_uint(&in, 99, 7);                                 /* unknown */
    pbw_put_str(&in, 100, "future");                          /* unknown */

    struct resources rs = {0};
    struct buf err = {0};
    CHECK_EQ(resources_decode(in.data, in.len, &rs, &err), 0);
    CHECK_EQ(rs.len, 1);
    CHECK_STR(fmt(&rs), "disk(reservations: [(DYNAMIC,r,p)])[vol1:data]:100");
    CHECK_EQ(resources_encode_one(&rs.v[0], RESOURCES_STORED, &out), 0);
    CHECK_EQ(out.len, in.len);
    CHECK(memcmp(out.data, in.data, in.len) == 0);
    CHECK_STR(json(&rs, RESOURCES_STORED),
              "[{\"provider_id\":{\"value\":\"rp1\"},\"name\":\"disk\",\"type\":\"SCALAR\","
              "\"scalar\":{\"value\":100.0},\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r\","
              "\"principal\":\"p\"}],\"disk\":{\"persistence\":{\"id\":\"vol1\",\"principal\":\"alice\"},"
              "\"volume\":{\"mode\":\"RW\",\"container_path\":\"data\"}}}]");

    /* A persistent volume is not merged with a copy of itself. */
    CHECK_EQ(resources_decode(in.data, in.len, &rs, NULL), 0);
    CHECK_EQ(rs.len, 2);
    resources_free(&rs);
    buf_free(&in);
    buf_free(&out);
    buf_free(&err);
    return 0;
}

static int test_disk_format(void)
{
    static const struct row rows[] = {
        ROW("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":5},"
            "\"disk\":{\"source\":{\"type\":\"MOUNT\",\"mount\":{\"root\":\"/mnt/a\"}}}}", NULL,
            "disk[MOUNT:/mnt/a]:5"),
        ROW("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":5},"
            "\"disk\":{\"source\":{\"type\":\"PATH\"},\"persistence\":{\"id\":\"v\"},"
            "\"volume\":{\"container_path\":\"c\",\"host_path\":\"/h\",\"mode\":\"RO\"}}}", NULL,
            "disk[PATH,v:/h:c:ro]:5"),
        ROW("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":5},"
            "\"disk\":{\"source\":{\"type\":\"RAW\",\"vendor\":\"csi\",\"id\":\"vol-1\"}},\"revocable\":{}}",
            NULL, "disk[RAW(csi,vol-1,)]{REV}:5"),
        ROW("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":5},"
            "\"disk\":{\"source\":{\"type\":\"BLOCK\",\"mount\":{}}}}", NULL,
            "ERROR: Mount should not be set for BLOCK disk source"),
        ROW("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":5},"
            "\"disk\":{\"source\":{\"type\":\"RAW\",\"path\":{}}}}", NULL,
            "ERROR: Path should not be set for RAW disk source"),
        ROW("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":5},"
            "\"disk\":{\"source\":{\"type\":\"UNKNOWN\"}}}", NULL,
            "ERROR: Unsupported 'DiskInfo.Source.Type' in 'UNKNOWN'"),
    };
    return check_rows(rows, sizeof rows / sizeof *rows, (const char *(*)(const char *, const char *))decode_json);
}

/* ---- validation of Resource input -------------------------------------- */

static int test_validation(void)
{
#define R(extra) "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}" extra "}"
    static const struct row rows[] = {
        ROW("{\"name\":\"\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1}}", NULL, "ERROR: Empty resource name"),
        ROW("{\"name\":\"cpus\",\"type\":\"SCALAR\"}", NULL, "ERROR: Invalid scalar resource"),
        ROW(R(",\"ranges\":{}"), NULL, "ERROR: Invalid scalar resource"),
        ROW(R(",\"disk\":{}"), NULL, "ERROR: DiskInfo should not be set for cpus resource"),
        ROW("{\"name\":\"x\",\"type\":\"RANGES\",\"set\":{}}", NULL, "ERROR: Invalid ranges resource"),
        ROW("{\"name\":\"x\",\"type\":\"SET\"}", NULL, "ERROR: Invalid set resource"),
        ROW("{\"name\":\"x\",\"type\":\"TEXT\"}", NULL, "ERROR: Unsupported resource type"),
        ROW("{\"name\":\"x\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.0004}}", NULL,
            "ERROR: Invalid scalar resource: value <= 0"),
        ROW("{\"name\":\"x\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.0005}}", NULL, "x:0.001"),
        ROW("{\"name\":\"x\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0}}", NULL, "{}"),
        ROW("{\"name\":\"p\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":5,\"end\":1}]}}", NULL,
            "ERROR: Invalid ranges resource: begin > end"),
        ROW("{\"name\":\"p\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":1,\"end\":5},"
            "{\"begin\":5,\"end\":9}]}}", NULL, "ERROR: Invalid ranges resource: overlapping ranges"),
        /* Upstream only checks whether a later range starts inside an earlier
         * one, so this overlap passes, and coalescing merges it. */
        ROW("{\"name\":\"p\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":5,\"end\":10},"
            "{\"begin\":1,\"end\":7}]}}", NULL, "p:[1-10]"),
        ROW("{\"name\":\"p\",\"type\":\"RANGES\",\"ranges\":{\"range\":[{\"begin\":3,\"end\":4},"
            "{\"begin\":1,\"end\":2}]}}", NULL, "p:[1-4]"),
        ROW("{\"name\":\"s\",\"type\":\"SET\",\"set\":{\"item\":[\"a\",\"b\",\"a\"]}}", NULL,
            "ERROR: Invalid set resource: duplicated elements"),
        ROW(R(",\"role\":\"*\",\"reservation\":{}"), NULL,
            "ERROR: Invalid reservation: role \"*\" cannot be dynamically reserved"),
        ROW(R(",\"reservation\":{}"), NULL,
            "ERROR: Invalid reservation: role \"*\" cannot be dynamically reserved"),
        ROW(R(",\"role\":\"r\",\"reservation\":{\"type\":\"DYNAMIC\"}"), NULL,
            "ERROR: 'Resource.ReservationInfo.type' must not be set for the 'Resource.reservation' field"),
        ROW(R(",\"role\":\"r\",\"reservation\":{\"role\":\"r\"}"), NULL,
            "ERROR: 'Resource.ReservationInfo.role' must not be set for the 'Resource.reservation' field"),
        ROW(R(",\"role\":\"a b\""), NULL,
            "ERROR: Role component 'a b' is invalid because it contains backspace or whitespace"),
        ROW(R(",\"reservations\":[{\"role\":\"r\"}]"), NULL,
            "ERROR: Invalid reservation: 'Resource.ReservationInfo.type' field must be set."),
        ROW(R(",\"reservations\":[{\"type\":\"STATIC\"}]"), NULL,
            "ERROR: Invalid reservation: 'Resource.ReservationInfo.role' field must be set."),
        ROW(R(",\"reservations\":[{\"type\":\"STATIC\",\"role\":\"*\"}]"), NULL,
            "ERROR: Invalid reservation: role \"*\" cannot be reserved"),
        ROW(R(",\"reservations\":[{\"type\":\"UNKNOWN\",\"role\":\"r\"}]"), NULL,
            "ERROR: Unsupported 'Resource.ReservationInfo.Type'"),
        ROW(R(",\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"},{\"type\":\"STATIC\",\"role\":\"a/b\"}]"),
            NULL, "ERROR: Invalid refined reservation: A refined reservation cannot be STATIC"),
        ROW(R(",\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"},{\"type\":\"DYNAMIC\",\"role\":\"ab\"}]"),
            NULL, "ERROR: Invalid refined reservation: role 'ab' is not a refinement of 'a'"),
        ROW(R(",\"role\":\"b\",\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"}]"), NULL,
            "ERROR: Invalid resource format: 'Resource.role' field with 'b' does not match the role 'a' in "
            "'Resource.reservations'"),
        ROW(R(",\"role\":\"a\",\"reservation\":{},\"reservations\":[{\"type\":\"STATIC\",\"role\":\"a\"}]"), NULL,
            "ERROR: Invalid resource format: 'Resource.reservation' must not be set if the single reservation "
            "in 'Resource.reservations' is STATIC"),
        ROW(R(",\"role\":\"a\",\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"a\"}]"), NULL,
            "ERROR: Invalid resource format: 'Resource.role' and 'Resource.reservation' must either be both set "
            "or both not set if the single reservation in 'Resource.reservations' is DYNAMIC"),
        ROW(R(",\"role\":\"a\",\"reservation\":{\"principal\":\"x\"},"
              "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"a\",\"principal\":\"y\"}]"), NULL,
            "ERROR: Invalid resource format: 'Resource.reservation.principal' field with 'x' does not match the "
            "principal 'y' in 'Resource.reservations'"),
        ROW(R(",\"role\":\"a\",\"reservation\":{\"labels\":{\"labels\":[{\"key\":\"k\"}]}},"
              "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"a\"}]"), NULL,
            "ERROR: Invalid resource format: 'Resource.reservation.labels' field with '{k}' does not match the "
            "labels '{}' in 'Resource.reservations'"),
        /* Labels compare regardless of order. */
        ROW(R(",\"role\":\"a\",\"reservation\":{\"labels\":{\"labels\":[{\"key\":\"k\"},{\"key\":\"j\"}]}},"
              "\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"a\","
              "\"labels\":{\"labels\":[{\"key\":\"j\"},{\"key\":\"k\"}]}}]"), NULL,
            "cpus(reservations: [(DYNAMIC,a,{j, k})]):1"),
        ROW(R(",\"role\":\"a\",\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"a\"},"
              "{\"type\":\"DYNAMIC\",\"role\":\"a/b\"}]"), NULL,
            "ERROR: Invalid resource format: 'Resource.role' must not be set if there is more than one "
            "reservation in 'Resource.reservations'"),
        ROW(R(",\"shared\":{}"), NULL, "ERROR: Resource cpus cannot be shared"),
        ROW("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"shared\":{}}", NULL,
            "ERROR: Only persistent volumes can be shared"),
    };
#undef R
    return check_rows(rows, sizeof rows / sizeof *rows, (const char *(*)(const char *, const char *))decode_json);
}

static int test_decode_field_errors(void)
{
    struct buf msg = {0}, pb = {0}, err = {0};
    struct resources rs = {0};
    const char *good = "{\"name\":\"mem\",\"type\":\"SCALAR\",\"scalar\":{\"value\":2}}";
    const char *bad = "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":0.0001},"
                      "\"reservations\":[{\"type\":\"STATIC\",\"role\":\"*\"}]}";
    CHECK_EQ(pbjson_from_json(PBD_M_mesos_v1_Resource, good, strlen(good), &pb, &err), 0);
    pbw_put_bytes(&msg, 3, pb.data, pb.len);
    buf_reset(&pb);
    CHECK_EQ(pbjson_from_json(PBD_M_mesos_v1_Resource, bad, strlen(bad), &pb, &err), 0);
    pbw_put_bytes(&msg, 3, pb.data, pb.len);
    CHECK_EQ(resources_decode_field(msg.data, msg.len, 3, &rs, &err), -1);
    CHECK_MEM(err.data, err.len,
              "Resource 'cpus(reservations: [(STATIC,*)]):0' is invalid: Invalid scalar resource: value <= 0");
    CHECK_EQ(rs.len, 0);                    /* nothing added on error */

    buf_reset(&err);
    CHECK_EQ(resources_decode("\x0a\x05" "ab", 4, &rs, &err), -1);   /* truncated */
    CHECK_MEM(err.data, err.len, "Malformed Resource protobuf");
    buf_reset(&err);
    CHECK_EQ(resources_decode("\x0a\x02" "a\0" "\x10\x00\x1a\x09\x09\0\0\0\0\0\0\xf0\x3f", 15, &rs, &err), -1);
    CHECK_MEM(err.data, err.len, "Malformed Resource protobuf");          /* NUL in a string */
    buf_free(&msg);
    buf_free(&pb);
    buf_free(&err);
    resources_free(&rs);
    return 0;
}

/* Arbitrary bytes never crash the decoder (ASan/UBSan watch). */
static int test_decode_garbage(void)
{
    uint32_t x = 12345;
    unsigned char b[64];
    for (int round = 0; round < 20000; round++) {
        size_t n = round % 64;
        for (size_t i = 0; i < n; i++) { x = x * 1103515245 + 12345; b[i] = (unsigned char)(x >> 16); }
        if (n > 2 && round % 3 == 0) { b[0] = 0x0a; b[1] = 1; b[2] = 'x'; }   /* a valid name first */
        struct resources rs = {0};
        struct buf err = {0};
        (void)resources_decode(b, n, &rs, &err);
        struct buf out = {0};
        (void)resources_encode(&rs, 1, RESOURCES_ENDPOINT, &out);
        (void)resources_format(&rs, &out);
        buf_free(&out);
        buf_free(&err);
        resources_free(&rs);
    }
    return 0;
}

/* ---- arithmetic -------------------------------------------------------- */

/* a OP b, formatted. */
static const char *arith(const char *a, char op, const char *b)
{
    static char out[8192];
    struct resources x = {0}, y = {0};
    if (parse_into(a, &x) || parse_into(b, &y)) return "PARSE ERROR";
    if (op == '+') resources_add(&x, &y);
    else resources_subtract(&x, &y);
    snprintf(out, sizeof out, "%s", fmt(&x));
    resources_free(&x);
    resources_free(&y);
    return out;
}

static int test_add_subtract(void)
{
    static const struct { int line; const char *a; char op; const char *b, *want; } rows[] = {
        { __LINE__, "ports:[1-5]", '+', "ports:[6-10]", "ports:[1-10]" },
        { __LINE__, "ports:[1-5]", '+', "ports:[7-10]", "ports:[1-5, 7-10]" },
        { __LINE__, "ports:[1-5,7-10]", '+', "ports:[6-6]", "ports:[1-10]" },
        { __LINE__, "ports:[10-20]", '+', "ports:[1-30]", "ports:[1-30]" },
        { __LINE__, "ports:[18446744073709551614-18446744073709551615]", '+', "ports:[0-0]",
          "ports:[0-0, 18446744073709551614-18446744073709551615]" },
        { __LINE__, "ports:[1-100]", '-', "ports:[10-20]", "ports:[1-9, 21-100]" },
        { __LINE__, "ports:[1-100]", '-', "ports:[1-1,100-100]", "ports:[2-99]" },
        { __LINE__, "ports:[0-10]", '-', "ports:[0-0]", "ports:[1-10]" },
        { __LINE__, "ports:[1-10,20-30,40-50]", '-', "ports:[5-45]", "ports:[1-4, 46-50]" },
        { __LINE__, "ports:[1-10,20-30]", '-', "ports:[11-19,31-40]", "ports:[1-10, 20-30]" },
        { __LINE__, "ports:[0-18446744073709551615]", '-', "ports:[5-18446744073709551614]",
          "ports:[0-4, 18446744073709551615-18446744073709551615]" },
        { __LINE__, "ports:[1-10]", '-', "ports:[0-1000]", "{}" },
        { __LINE__, "cpus:0.1", '+', "cpus:0.2", "cpus:0.3" },
        { __LINE__, "cpus:0.3", '-', "cpus:0.1", "cpus:0.2" },
        { __LINE__, "cpus:4", '-', "cpus:4", "{}" },
        { __LINE__, "cpus:1", '-', "cpus:2", "{}" },                 /* negative: removed */
        { __LINE__, "cpus:1;mem:2;disk:3", '-', "cpus:1", "disk:3; mem:2" },  /* last moves up */
        { __LINE__, "cpus(r1):4;cpus:2", '-', "cpus:1", "cpus(reservations: [(STATIC,r1)]):4; cpus:1" },
        { __LINE__, "cpus(r1):4", '-', "cpus(r2):1", "cpus(reservations: [(STATIC,r1)]):4" },
        { __LINE__, "bugs:{a,b,c}", '-', "bugs:{b,d}", "bugs:{a, c}" },
        { __LINE__, "bugs:{a,b}", '-', "bugs:{a,b}", "{}" },
        { __LINE__, "bugs:{c}", '+', "bugs:{a,c}", "bugs:{c, a}" },
        { __LINE__, "cpus:1", '+', "mem:2;cpus(r):1", "cpus:1; mem:2; cpus(reservations: [(STATIC,r)]):1" },
        { __LINE__, "", '+', "cpus:1", "cpus:1" },
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        const char *got = arith(rows[i].a, rows[i].op, rows[i].b);
        if (strcmp(got, rows[i].want) != 0) {
            printf("FAIL %s:%d: %s %c %s\n  want \"%s\"\n  got  \"%s\"\n", __FILE__, rows[i].line, rows[i].a,
                   rows[i].op, rows[i].b, rows[i].want, got);
            return 1;
        }
    }
    return 0;
}

static int test_fixed_point(void)
{
    struct resources a = {0}, b = {0}, c = {0};
    CHECK_EQ(parse_into("cpus:0.1", &a), 0);
    CHECK_EQ(parse_into("cpus:0.2", &b), 0);
    CHECK_EQ(parse_into("cpus:0.3", &c), 0);
    resources_add(&a, &b);
    CHECK_EQ(resources_scalar(&a, "cpus"), 300);
    CHECK(resources_equal(&a, &c));
    CHECK(resources_double(resources_scalar(&a, "cpus")) == 0.3);
    resources_subtract(&a, &b);
    resources_subtract(&c, &a);
    resources_subtract(&c, &b);
    CHECK_EQ(c.len, 0);
    CHECK_EQ(resources_fixed(0.0005), 1);          /* llround: half away from zero */
    CHECK_EQ(resources_fixed(-0.0005), -1);
    CHECK_EQ(resources_fixed(1e300), INT64_MIN);
    CHECK_EQ(resources_fixed(-1e300), INT64_MIN);
    CHECK(resources_double(-1500) == -1.5);
    resources_add(&a, &a);                          /* aliasing is allowed */
    CHECK_STR(fmt(&a), "cpus:0.2");
    resources_subtract(&a, &a);
    CHECK_EQ(a.len, 0);
    resources_free(&a);
    resources_free(&b);
    resources_free(&c);
    return 0;
}

static int test_contains_equal(void)
{
    static const struct { int line; const char *a, *b; int want; } rows[] = {
        { __LINE__, "cpus(role1):4;cpus:2", "cpus(role1):3", 1 },
        { __LINE__, "cpus(role1):4;cpus:2", "cpus(role2):1", 0 },
        { __LINE__, "cpus(role1):4;cpus:2", "cpus:3", 0 },
        { __LINE__, "cpus(role1):4;cpus:2", "cpus:2;cpus(role1):4", 1 },
        { __LINE__, "cpus(role1):4;cpus:2", "cpus:2;cpus(role1):4.001", 0 },
        { __LINE__, "cpus:1;mem:10", "", 1 },
        { __LINE__, "", "cpus:1", 0 },
        { __LINE__, "ports:[1-10,20-30]", "ports:[2-3,25-30]", 1 },
        { __LINE__, "ports:[1-10,20-30]", "ports:[10-20]", 0 },
        { __LINE__, "ports:[1-10,20-30]", "ports:[31-31]", 0 },
        { __LINE__, "bugs:{a,b,c}", "bugs:{c,a}", 1 },
        { __LINE__, "bugs:{a,b,c}", "bugs:{a,d}", 0 },
        { __LINE__, "cpus:1.5", "cpus:1.5004", 1 },   /* equal after rounding */
    };
    for (size_t i = 0; i < sizeof rows / sizeof *rows; i++) {
        struct resources a = {0}, b = {0};
        if (parse_into(rows[i].a, &a) || parse_into(rows[i].b, &b)) {
            printf("FAIL %s:%d: parse\n", __FILE__, rows[i].line);
            return 1;
        }
        int got = resources_contains(&a, &b);
        resources_free(&a);
        resources_free(&b);
        if (got != rows[i].want) {
            printf("FAIL %s:%d: contains(%s, %s) = %d\n", __FILE__, rows[i].line, rows[i].a, rows[i].b, got);
            return 1;
        }
    }
    struct resources a = {0}, b = {0};
    CHECK_EQ(parse_into("cpus:1;mem:2;ports:[1-2,3-4];bugs:{x,y}", &a), 0);
    CHECK_EQ(parse_into("bugs:{y,x};ports:[1-4];mem:2;cpus:1", &b), 0);
    CHECK(resources_equal(&a, &b));
    resources_allocate(&b, "r");
    CHECK(!resources_equal(&a, &b));                /* allocation is part of identity */
    CHECK(!resources_contains(&b, &a));
    resources_free(&a);
    resources_free(&b);
    return 0;
}

static int test_filters(void)
{
    struct resources rs = {0}, out = {0};
    CHECK_EQ(parse_into("cpus(role1):2;cpus:1;mem(role1/sub):3;mem:4;ports(other):[1-2]", &rs), 0);
    resources_filter(&out, &rs, RESOURCES_UNRESERVED, NULL);
    CHECK_STR(fmt(&out), "cpus:1; mem:4");
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_RESERVED, "role1");
    CHECK_STR(fmt(&out), "cpus(reservations: [(STATIC,role1)]):2");
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_RESERVED, NULL);
    CHECK_EQ(out.len, 3);
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_ALLOCATABLE_TO, "role1/sub");
    CHECK_STR(fmt(&out), "cpus(reservations: [(STATIC,role1)]):2; cpus:1; "
                         "mem(reservations: [(STATIC,role1/sub)]):3; mem:4");
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_ALLOCATABLE_TO, "role1");
    CHECK_STR(fmt(&out), "cpus(reservations: [(STATIC,role1)]):2; cpus:1; mem:4");
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_RESERVED_TO_SUBTREE, "role1");
    CHECK_STR(fmt(&out), "cpus(reservations: [(STATIC,role1)]):2; mem(reservations: [(STATIC,role1/sub)]):3");
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_NAMED, "mem");
    CHECK_STR(fmt(&out), "mem(reservations: [(STATIC,role1/sub)]):3; mem:4");
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_REVOCABLE, NULL);
    CHECK_EQ(out.len, 0);
    resources_filter(&out, &rs, RESOURCES_NON_REVOCABLE, NULL);
    CHECK_EQ(out.len, rs.len);
    resources_free(&out);

    resources_to_unreserved(&out, &rs);
    CHECK_STR(fmt(&out), "cpus:3; mem:7; ports:[1-2]");
    resources_free(&out);
    resources_quantities(&out, &rs);
    CHECK_STR(fmt(&out), "cpus:3; mem:7");
    resources_free(&out);
    CHECK_EQ(resources_scalar(&rs, "cpus"), 3000);
    CHECK_EQ(resources_scalar(&rs, "mem"), 7000);
    CHECK_EQ(resources_scalar(&rs, "gpus"), 0);
    CHECK_EQ(resources_scalar(&rs, "ports"), 0);

    resources_allocate(&rs, "role1");
    resources_filter(&out, &rs, RESOURCES_ALLOCATED_TO_SUBTREE, "role1");
    CHECK_EQ(out.len, rs.len);
    resources_free(&out);
    resources_filter(&out, &rs, RESOURCES_ALLOCATED_TO_SUBTREE, "role1/sub");
    CHECK_EQ(out.len, 0);
    resources_free(&rs);
    return 0;
}

static int test_push_pop(void)
{
    struct resources rs = {0};
    struct buf err = {0};
    CHECK_EQ(parse_into("cpus:2;mem(r1):3", &rs), 0);
    struct resource_reservation dyn = { RESERVATION_DYNAMIC, "r1/a", "ops", NULL, 0, false };
    CHECK_EQ(resources_push_reservation(&rs, &dyn, &err), 0);
    CHECK_STR(fmt(&rs), "cpus(reservations: [(DYNAMIC,r1/a,ops)]):2; "
                        "mem(reservations: [(STATIC,r1),(DYNAMIC,r1/a,ops)]):3");
    CHECK_EQ(resources_push_reservation(&rs, &dyn, &err), -1);
    CHECK_MEM(err.data, err.len, "Invalid refined reservation: role 'r1/a' is not a refinement of 'r1/a'");
    CHECK_STR(fmt(&rs), "cpus(reservations: [(DYNAMIC,r1/a,ops)]):2; "
                        "mem(reservations: [(STATIC,r1),(DYNAMIC,r1/a,ops)]):3");   /* unchanged */
    buf_reset(&err);
    struct resource_reservation st = { RESERVATION_STATIC, "r1/a/x", NULL, NULL, 0, false };
    CHECK_EQ(resources_push_reservation(&rs, &st, &err), -1);
    CHECK_MEM(err.data, err.len, "Invalid refined reservation: A refined reservation cannot be STATIC");
    buf_reset(&err);
    struct resource_reservation star = { RESERVATION_DYNAMIC, "*", NULL, NULL, 0, false };
    struct resources un = {0};
    CHECK_EQ(parse_into("cpus:1", &un), 0);
    CHECK_EQ(resources_push_reservation(&un, &star, &err), -1);
    CHECK_MEM(err.data, err.len, "Invalid reservation: role \"*\" cannot be reserved");
    CHECK_STR(fmt(&un), "cpus:1");
    struct resource_reservation sub = { RESERVATION_DYNAMIC, "r1/a/x", NULL, NULL, 0, false };
    CHECK_EQ(resources_push_reservation(&rs, &sub, NULL), 0);
    CHECK_STR(fmt(&rs), "cpus(reservations: [(DYNAMIC,r1/a,ops),(DYNAMIC,r1/a/x)]):2; "
                        "mem(reservations: [(STATIC,r1),(DYNAMIC,r1/a,ops),(DYNAMIC,r1/a/x)]):3");
    resources_pop_reservation(&rs);
    resources_pop_reservation(&rs);
    CHECK_STR(fmt(&rs), "cpus:2; mem(reservations: [(STATIC,r1)]):3");
    resources_pop_reservation(&rs);
    CHECK_STR(fmt(&rs), "cpus:2; mem:3");
    /* Pop can merge what the reservations kept apart. */
    struct resources two = {0};
    CHECK_EQ(parse_into("cpus(a):1;cpus:2", &two), 0);
    resources_pop_reservation(&two);
    CHECK_STR(fmt(&two), "cpus:3");
    resources_free(&two);
    resources_free(&un);
    resources_free(&rs);
    buf_free(&err);
    return 0;
}

static int test_shared_volumes(void)
{
    const char *vol = "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":64},\"shared\":{},"
                      "\"disk\":{\"persistence\":{\"id\":\"v1\"},\"volume\":{\"container_path\":\"d\",\"mode\":\"RW\"}}}";
    struct resources one = {0}, two = {0};
    CHECK_STR(decode_json(vol, &one), "disk[v1:d]<SHARED>:64<1>");
    decode_json(vol, &two);
    decode_json(vol, &two);
    CHECK_EQ(two.len, 1);
    CHECK_STR(fmt(&two), "disk[v1:d]<SHARED>:64<2>");
    CHECK(resources_contains(&two, &one));
    CHECK(!resources_contains(&one, &two));
    resources_subtract(&two, &one);
    CHECK_STR(fmt(&two), "disk[v1:d]<SHARED>:64<1>");
    CHECK(resources_equal(&two, &one));
    resources_subtract(&two, &one);
    CHECK_EQ(two.len, 0);

    /* A non-shared volume is used up by `contains`: two copies are not in one. */
    const char *pv = "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":64},"
                     "\"disk\":{\"persistence\":{\"id\":\"v2\"}}}";
    struct resources a = {0}, b = {0};
    decode_json(pv, &a);
    decode_json(pv, &b);
    decode_json(pv, &b);
    CHECK_EQ(b.len, 2);
    CHECK(resources_contains(&b, &a));
    CHECK(!resources_contains(&a, &b));
    /* A volume cannot be taken apart. */
    CHECK_STR(decode_json("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":32},"
                          "\"disk\":{\"persistence\":{\"id\":\"v2\"}}}", &b), "disk[v2]:32");
    resources_free(&b);
    decode_json("{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":32},"
                "\"disk\":{\"persistence\":{\"id\":\"v2\"}}}", &b);
    CHECK(!resources_contains(&a, &b));
    resources_subtract(&a, &b);
    CHECK_STR(fmt(&a), "disk[v2]:64");
    resources_free(&a);
    resources_free(&b);
    resources_free(&one);
    resources_free(&two);
    return 0;
}

/* MOUNT disks are exclusive: never merged, only subtracted whole. */
static int test_mount_disks(void)
{
    const char *m = "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":100},"
                    "\"disk\":{\"source\":{\"type\":\"MOUNT\",\"mount\":{\"root\":\"/m\"}}}}";
    const char *half = "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":50},"
                       "\"disk\":{\"source\":{\"type\":\"MOUNT\",\"mount\":{\"root\":\"/m\"}}}}";
    const char *path = "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":10},"
                       "\"disk\":{\"source\":{\"type\":\"PATH\",\"path\":{\"root\":\"/p\"}}}}";
    struct resources a = {0}, h = {0}, p = {0};
    decode_json(m, &a);
    decode_json(m, &a);
    CHECK_EQ(a.len, 2);
    decode_json(half, &h);
    CHECK(!resources_contains(&a, &h));
    decode_json(path, &p);
    decode_json(path, &p);
    CHECK_STR(fmt(&p), "disk[PATH:/p]:20");          /* PATH disks do merge */
    resources_subtract(&a, &h);
    CHECK_EQ(a.len, 2);
    resources_free(&h);
    decode_json(m, &h);
    resources_subtract(&a, &h);
    CHECK_EQ(a.len, 1);
    resources_free(&a);
    resources_free(&h);
    resources_free(&p);
    return 0;
}

/* Many ranges and items: validation stays fast and the limit holds. */
static int test_limits(void)
{
    struct buf pb = {0}, err = {0};
    struct resources rs = {0};
    size_t m;
    pbw_put_str(&pb, 1, "ports");
    pbw_put_uint(&pb, 2, 1);
    m = pbw_begin(&pb, 4);
    for (uint64_t i = RESOURCES_MAX_VALUES; i-- > 0;) {      /* descending, disjoint */
        size_t k = pbw_begin(&pb, 1);
        pbw_put_uint(&pb, 1, i * 3);
        pbw_put_uint(&pb, 2, i * 3 + 1);
        pbw_end(&pb, k);
    }
    pbw_end(&pb, m);
    CHECK_EQ(resources_decode(pb.data, pb.len, &rs, &err), 0);
    CHECK_EQ(rs.len, 1);
    CHECK_EQ(rs.v[0].nranges, RESOURCES_MAX_VALUES);
    CHECK_EQ(rs.v[0].ranges[0].begin, 0);
    resources_free(&rs);

    m = pbw_begin(&pb, 4);                                   /* one more range */
    size_t k = pbw_begin(&pb, 1);
    pbw_put_uint(&pb, 1, 1u << 30);
    pbw_put_uint(&pb, 2, 1u << 30);
    pbw_end(&pb, k);
    pbw_end(&pb, m);
    CHECK_EQ(resources_decode(pb.data, pb.len, &rs, &err), -1);
    CHECK_MEM(err.data, err.len, "Too many values in resource (more than 65536)");

    struct buf text = {0};
    buf_puts(&text, "bugs:{");
    for (int i = 0; i < 20000; i++) buf_printf(&text, "%si%d", i ? "," : "", i);
    buf_puts(&text, ",i7}");
    buf_reset(&err);
    CHECK_EQ(resources_parse(text.data, text.len, NULL, &rs, &err), -1);
    CHECK_MEM(err.data, err.len, "Invalid set resource: duplicated elements");
    buf_free(&text);
    buf_free(&pb);
    buf_free(&err);
    return 0;
}

static int test_format(void)
{
    struct resources rs = {0};
    CHECK_STR(fmt(&rs), "{}");
    CHECK_EQ(parse_into("cpus:1e15;mem:0.5;disk:123456.789", &rs), 0);
    CHECK_STR(fmt(&rs), "cpus:1e+15; mem:0.5; disk:123456.789");
    resources_free(&rs);
    struct buf small = { .max = 4 };
    CHECK_EQ(parse_into("cpus:1;mem:2", &rs), 0);
    CHECK_EQ(resources_format(&rs, &small), -1);
    CHECK_EQ(resources_encode(&rs, 3, RESOURCES_STORED, &small), -1);
    buf_free(&small);
    struct buf err = {0};
    CHECK_EQ(resources_validate_role("*", &err), 0);
    CHECK_EQ(resources_validate_role("a/b-c/d", &err), 0);
    CHECK_EQ(resources_validate_role("", &err), -1);
    CHECK_MEM(err.data, err.len, "Role names cannot be the empty string");
    resources_free(&rs);
    buf_free(&err);
    return 0;
}

int main(void)
{
    RUN(test_parse_valid);
    RUN(test_parse_errors);
    RUN(test_parse_json);
    RUN(test_parse_prefixes);
    RUN(test_attributes);
    RUN(test_stored_and_endpoint);
    RUN(test_dynamic_and_refined);
    RUN(test_roundtrip_bytes);
    RUN(test_disk_format);
    RUN(test_validation);
    RUN(test_decode_field_errors);
    RUN(test_decode_garbage);
    RUN(test_add_subtract);
    RUN(test_fixed_point);
    RUN(test_contains_equal);
    RUN(test_filters);
    RUN(test_push_pop);
    RUN(test_shared_volumes);
    RUN(test_mount_disks);
    RUN(test_limits);
    RUN(test_format);
    return REPORT();
}
