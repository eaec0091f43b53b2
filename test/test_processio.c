/* test_processio.c -- ProcessIO records: parsing, the input-stream checks
 * (upstream's switchboard texts), encoding, and a RecordIO stream of input
 * calls fed split at every offset. */
#include <stdlib.h>
#include "test.h"
#include "buf.h"
#include "pbw.h"
#include "processio.h"
#include "recordio.h"

/* An ATTACH_CONTAINER_INPUT Call with PROCESS_IO holding `pio`. */
static void input_call(struct buf *b, int aci_type, const struct buf *pio)
{
    pbw_put_uint(b, 1, 18);
    size_t k = pbw_begin(b, 10);
    if (aci_type >= 0) pbw_put_uint(b, 1, (uint64_t)aci_type);
    if (pio) pbw_put_bytes(b, 3, pio->data, pio->len);
    pbw_end(b, k);
}

static void stdin_pio(struct buf *b, const char *data, int with_type, int data_type)
{
    pbw_put_uint(b, 1, 1);                     /* DATA */
    size_t k = pbw_begin(b, 2);
    if (with_type) pbw_put_uint(b, 1, (uint64_t)data_type);
    if (data) pbw_put_bytes(b, 2, data, strlen(data));
    pbw_end(b, k);
}

static int test_data_round_trip(void)
{
    struct buf b = {0};
    CHECK(processio_encode_data(&b, PIO_STDERR, "oops\n", 5) == 0);
    struct processio io;
    CHECK(processio_parse(b.data, b.len, &io) == 0);
    CHECK_EQ(io.type, PIO_DATA);
    CHECK_EQ(io.data_type, PIO_STDERR);
    CHECK(io.has_bytes);
    CHECK_MEM(io.bytes, io.nbytes, "oops\n");
    buf_reset(&b);
    CHECK(processio_encode_heartbeat(&b, 30000000000LL) == 0);
    CHECK(processio_parse(b.data, b.len, &io) == 0);
    CHECK_EQ(io.type, PIO_CONTROL);
    CHECK_EQ(io.control_type, PIO_HEARTBEAT);
    CHECK(io.has_heartbeat);
    CHECK_EQ(io.heartbeat_ns, 30000000000LL);
    /* every strict prefix is malformed or a shorter valid message: no crash, no overread */
    for (size_t i = 0; i < b.len; i++) {
        char *copy = malloc(i ? i : 1);
        memcpy(copy, b.data, i);
        (void)processio_parse(copy, i, &io);
        free(copy);
    }
    buf_free(&b);
    return 0;
}

static int test_input_checks(void)
{
    struct { int aci_type; int pio_kind; const char *want; int line; } cases[] = {
        { 2, 1, NULL, __LINE__ },                                 /* STDIN "hi" */
        { 2, 2, NULL, __LINE__ },                                 /* STDIN "" (EOF) */
        { 1, 1, "Expecting 'attach_container_input.type' to be 'PROCESS_IO' instead of: 'CONTAINER_ID'", __LINE__ },
        { 0, 1, "Expecting 'attach_container_input.type' to be 'PROCESS_IO' instead of: 'UNKNOWN'", __LINE__ },
        { 2, 0, "Expecting 'attach_container_input.process_io' to be present", __LINE__ },
        { 2, 3, "Expecting 'process_io.data.type' to be 'STDIN'", __LINE__ },
        { 2, 4, "Expecting 'process_io.data.data' to be present", __LINE__ },
        { 2, 5, "Expecting 'process_io.data.type' to be present", __LINE__ },
        { 2, 6, "Expecting 'tty_info.window_size' to be present", __LINE__ },
        { 2, 7, NULL, __LINE__ },                                 /* TTY_INFO 24x80 */
        { 2, 8, "Expecting 'process_io.control.heartbeat' to be present", __LINE__ },
        { 2, 9, "Expecting 'process_io.type' to be present", __LINE__ },
        { 2, 10, "'process_io.type' is unknown", __LINE__ },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        struct buf pio = {0}, call = {0};
        switch (cases[i].pio_kind) {
        case 1: stdin_pio(&pio, "hi", 1, PIO_STDIN); break;
        case 2: stdin_pio(&pio, "", 1, PIO_STDIN); break;
        case 3: stdin_pio(&pio, "x", 1, PIO_STDOUT); break;
        case 4: stdin_pio(&pio, NULL, 1, PIO_STDIN); break;
        case 5: stdin_pio(&pio, "x", 0, 0); break;
        case 6: case 7: {
            pbw_put_uint(&pio, 1, 2);
            size_t c = pbw_begin(&pio, 3);
            pbw_put_uint(&pio, 1, PIO_TTY_INFO);
            size_t t = pbw_begin(&pio, 2);
            if (cases[i].pio_kind == 7) {
                size_t w = pbw_begin(&pio, 1);
                pbw_put_uint(&pio, 1, 24);
                pbw_put_uint(&pio, 2, 80);
                pbw_end(&pio, w);
            }
            pbw_end(&pio, t);
            pbw_end(&pio, c);
            break;
        }
        case 8: {
            pbw_put_uint(&pio, 1, 2);
            size_t c = pbw_begin(&pio, 3);
            pbw_put_uint(&pio, 1, PIO_HEARTBEAT);
            pbw_end(&pio, c);
            break;
        }
        case 9: pbw_put_uint(&pio, 1, 7); break;                  /* a type proto2 does not know */
        case 10: pbw_put_uint(&pio, 1, 0); break;                 /* UNKNOWN */
        }
        input_call(&call, cases[i].aci_type, cases[i].pio_kind ? &pio : NULL);
        struct processio io;
        const char *got = processio_input_record(call.data, call.len, &io);
        if ((got == NULL) != (cases[i].want == NULL) || (got && strcmp(got, cases[i].want) != 0)) {
            printf("FAIL case at line %d: got \"%s\"\n", cases[i].line, got ? got : "(ok)");
            buf_free(&pio);
            buf_free(&call);
            return 1;
        }
        if (cases[i].pio_kind == 7) { CHECK_EQ(io.rows, 24); CHECK_EQ(io.columns, 80); }
        buf_free(&pio);
        buf_free(&call);
    }
    /* not an input call at all */
    struct processio io;
    CHECK_STR(processio_input_record("\x08\x01", 2, &io), "Failed to validate agent::Call: Expecting 'type' to be ATTACH_CONTAINER_INPUT");
    CHECK_STR(processio_input_record("\xff", 1, &io), "Failed to parse body into a protobuf object");
    return 0;
}

/* Three input records as RecordIO, fed in two pieces split at every offset. */
static int test_stream_split_everywhere(void)
{
    struct buf stream = {0};
    const char *texts[] = { "first\n", "", "third" };
    for (int i = 0; i < 3; i++) {
        struct buf pio = {0}, call = {0};
        stdin_pio(&pio, texts[i], 1, PIO_STDIN);
        input_call(&call, 2, &pio);
        buf_printf(&stream, "%zu\n", call.len);
        buf_append(&stream, call.data, call.len);
        buf_free(&pio);
        buf_free(&call);
    }
    for (size_t cut = 0; cut <= stream.len; cut++) {
        struct recordio r = {0};
        int seen = 0;
        const size_t sizes[2] = { cut, stream.len - cut };
        const char *parts[2] = { stream.data, stream.data + cut };
        for (int k = 0; k < 2; k++) {
            CHECK(recordio_feed(&r, parts[k], sizes[k]) == 0);
            const char *rec;
            size_t rn;
            int rc;
            while ((rc = recordio_next(&r, &rec, &rn)) == 1) {
                struct processio io;
                CHECK(processio_input_record(rec, rn, &io) == NULL);
                CHECK(seen < 3);
                CHECK_MEM(io.bytes, io.nbytes, texts[seen]);
                seen++;
            }
            CHECK(rc == 0);
        }
        CHECK_EQ(seen, 3);
        recordio_free(&r);
    }
    buf_free(&stream);
    return 0;
}

int main(void)
{
    RUN(test_data_round_trip);
    RUN(test_input_checks);
    RUN(test_stream_split_everywhere);
    return REPORT();
}
