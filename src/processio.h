/* processio.h -- mesos.v1.agent.ProcessIO: the records of a container's
 * input and output streams (ATTACH_CONTAINER_INPUT/OUTPUT), read and
 * written with pbw. The input is untrusted: the parser never allocates,
 * points into the caller's bytes, and checks what upstream's I/O
 * switchboard checks (src/slave/containerizer/mesos/io/switchboard.cpp). */
#ifndef PROCESSIO_H
#define PROCESSIO_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

enum { PIO_DATA = 1, PIO_CONTROL = 2 };                       /* ProcessIO.Type */
enum { PIO_STDIN = 1, PIO_STDOUT = 2, PIO_STDERR = 3 };       /* ProcessIO.Data.Type */
enum { PIO_TTY_INFO = 1, PIO_HEARTBEAT = 2 };                 /* ProcessIO.Control.Type */

struct processio {
    int type;                 /* -1 when absent (or a number proto2 does not know) */
    int data_type;            /* DATA: -1 when absent */
    int has_data, has_bytes;  /* DATA: the Data message, and its bytes field */
    const uint8_t *bytes;     /* into the parsed buffer */
    size_t nbytes;
    int has_control, control_type;   /* control_type -1 when absent */
    int has_tty_info, has_window_size;
    uint32_t rows, columns;
    int has_heartbeat;
    int64_t heartbeat_ns;     /* interval, when given */
};

/* Parse ProcessIO bytes. Returns 0, or -1 on malformed protobuf (out is
 * then partly filled). */
int processio_parse(const void *p, size_t n, struct processio *out);

/* One record of an ATTACH_CONTAINER_INPUT stream after the first: the
 * Call protobuf bytes. Returns NULL with *io filled, or the message of a
 * 400 answer (upstream's texts). */
const char *processio_input_record(const void *call, size_t n, struct processio *io);

/* Append a ProcessIO message: DATA of type STDOUT/STDERR, or a CONTROL
 * HEARTBEAT with its interval. Return 0, or -1 at the buffer's max. */
int processio_encode_data(struct buf *out, int data_type, const void *p, size_t n);
int processio_encode_heartbeat(struct buf *out, int64_t interval_ns);

#endif
