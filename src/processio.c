/* processio.c -- ProcessIO records (see processio.h). */
#include <string.h>
#include "pbw.h"
#include "processio.h"

static int parse_control(const uint8_t *p, size_t n, struct processio *io)
{
    struct pbw_reader r;
    struct pbw_field f, g, h;
    pbw_reader_init(&r, p, n);
    int rc;
    while ((rc = pbw_next(&r, &f)) == 1) {
        if (f.tag == 1 && f.wt == PBW_VARINT) io->control_type = f.v <= 2 ? (int)f.v : -1;
        else if (f.tag == 2 && f.wt == PBW_LEN) {                 /* TTYInfo */
            io->has_tty_info = 1;
            if (pbw_valid(f.p, f.n) < 0) return -1;
            if (pbw_find(f.p, f.n, 1, &g) == 1 && g.wt == PBW_LEN) {   /* window_size */
                if (pbw_valid(g.p, g.n) < 0) return -1;
                io->has_window_size = 1;
                if (pbw_find(g.p, g.n, 1, &h) == 1 && h.wt == PBW_VARINT) io->rows = (uint32_t)h.v;
                if (pbw_find(g.p, g.n, 2, &h) == 1 && h.wt == PBW_VARINT) io->columns = (uint32_t)h.v;
            }
        } else if (f.tag == 3 && f.wt == PBW_LEN) {               /* Heartbeat */
            io->has_heartbeat = 1;
            if (pbw_valid(f.p, f.n) < 0) return -1;
            if (pbw_find(f.p, f.n, 1, &g) == 1 && g.wt == PBW_LEN) {
                if (pbw_find(g.p, g.n, 1, &h) == 1 && h.wt == PBW_VARINT) io->heartbeat_ns = (int64_t)h.v;
            }
        }
    }
    return rc;
}

int processio_parse(const void *p, size_t n, struct processio *io)
{
    memset(io, 0, sizeof *io);
    /* -1: absent (an enum value proto2 does not know is an unknown field) */
    io->type = io->data_type = io->control_type = -1;
    struct pbw_reader r;
    struct pbw_field f, g;
    pbw_reader_init(&r, p, n);
    int rc;
    while ((rc = pbw_next(&r, &f)) == 1) {
        if (f.tag == 1 && f.wt == PBW_VARINT) io->type = f.v <= 2 ? (int)f.v : -1;
        else if (f.tag == 2 && f.wt == PBW_LEN) {                 /* Data */
            struct pbw_reader dr;
            io->has_data = 1;
            pbw_reader_init(&dr, f.p, f.n);
            int drc;
            while ((drc = pbw_next(&dr, &g)) == 1) {
                if (g.tag == 1 && g.wt == PBW_VARINT) io->data_type = g.v <= 3 ? (int)g.v : -1;
                else if (g.tag == 2 && g.wt == PBW_LEN) { io->has_bytes = 1; io->bytes = g.p; io->nbytes = g.n; }
            }
            if (drc < 0) return -1;
        } else if (f.tag == 3 && f.wt == PBW_LEN) {
            io->has_control = 1;
            if (parse_control(f.p, f.n, io) < 0) return -1;
        }
    }
    return rc < 0 ? -1 : 0;
}

/* AttachContainerInput {type 1, container_id 2, process_io 3}, in Call
 * field 10; the checks of the switchboard's validate(). */
const char *processio_input_record(const void *call, size_t n, struct processio *io)
{
    struct pbw_field t, aci, f, pio;
    memset(io, 0, sizeof *io);
    if (pbw_valid(call, n) < 0) return "Failed to parse body into a protobuf object";
    if (pbw_find(call, n, 1, &t) != 1 || t.wt != PBW_VARINT) return "Failed to validate agent::Call: Expecting 'type' to be present";
    if (t.v != 18) return "Failed to validate agent::Call: Expecting 'type' to be ATTACH_CONTAINER_INPUT";
    if (pbw_find(call, n, 10, &aci) != 1 || aci.wt != PBW_LEN || pbw_valid(aci.p, aci.n) < 0)
        return "Failed to validate agent::Call: Expecting 'attach_container_input' to be present";
    if (pbw_find(aci.p, aci.n, 1, &f) != 1 || f.wt != PBW_VARINT)
        return "Failed to validate agent::Call: Expecting 'attach_container_input.type' to be present";
    if (f.v == 0) return "Expecting 'attach_container_input.type' to be 'PROCESS_IO' instead of: 'UNKNOWN'";
    if (f.v == 1) return "Expecting 'attach_container_input.type' to be 'PROCESS_IO' instead of: 'CONTAINER_ID'";
    if (f.v != 2) return "Failed to validate agent::Call: 'attach_container_input.type' is unknown";
    if (pbw_find(aci.p, aci.n, 3, &pio) != 1 || pio.wt != PBW_LEN)
        return "Expecting 'attach_container_input.process_io' to be present";
    if (processio_parse(pio.p, pio.n, io) < 0) return "Failed to parse body into a protobuf object";
    switch (io->type) {
    case -1: return "Expecting 'process_io.type' to be present";
    case 0: return "'process_io.type' is unknown";
    case PIO_CONTROL:
        if (!io->has_control) return "Expecting 'process_io.control' to be present";
        if (io->control_type == -1) return "Expecting 'process_io.control.type' to be present";
        if (io->control_type == 0) return "'process_io.control.type' is unknown";
        if (io->control_type == PIO_TTY_INFO) {
            if (!io->has_tty_info) return "Expecting 'process_io.control.tty_info' to be present";
            if (!io->has_window_size) return "Expecting 'tty_info.window_size' to be present";
            return NULL;
        }
        if (io->control_type == PIO_HEARTBEAT) {
            if (!io->has_heartbeat) return "Expecting 'process_io.control.heartbeat' to be present";
            return NULL;
        }
        return "'process_io.control.type' is unknown";
    case PIO_DATA:
        if (!io->has_data) return "Expecting 'process_io.data' to be present";
        if (io->data_type == -1) return "Expecting 'process_io.data.type' to be present";
        if (io->data_type != PIO_STDIN) return "Expecting 'process_io.data.type' to be 'STDIN'";
        if (!io->has_bytes) return "Expecting 'process_io.data.data' to be present";
        return NULL;
    default:
        return "Expecting 'process_io.type' to be present";
    }
}

int processio_encode_data(struct buf *out, int data_type, const void *p, size_t n)
{
    int rc = pbw_put_uint(out, 1, PIO_DATA);
    size_t k = pbw_begin(out, 2);
    rc |= pbw_put_uint(out, 1, (uint64_t)data_type);
    rc |= pbw_put_bytes(out, 2, p, n);
    rc |= pbw_end(out, k);
    return rc ? -1 : 0;
}

int processio_encode_heartbeat(struct buf *out, int64_t interval_ns)
{
    int rc = pbw_put_uint(out, 1, PIO_CONTROL);
    size_t k = pbw_begin(out, 3);
    rc |= pbw_put_uint(out, 1, PIO_HEARTBEAT);
    size_t h = pbw_begin(out, 3);
    size_t d = pbw_begin(out, 1);
    rc |= pbw_put_uint(out, 1, (uint64_t)interval_ns);
    rc |= pbw_end(out, d);
    rc |= pbw_end(out, h);
    rc |= pbw_end(out, k);
    return rc ? -1 : 0;
}
