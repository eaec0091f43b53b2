/* api.h -- POST /api/v1: Mesos' content negotiation, Call decoding and
 * validation, dispatch through a call table, Response encoding.
 *
 * Handlers see only protobuf: a JSON request is converted to Call bytes
 * first, and a handler's Response bytes are transcoded to JSON on the way
 * out when the client asked for JSON. */
#ifndef API_H
#define API_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "recordio.h"
#include "server.h"

struct api_ctx;
typedef void (*call_fn)(struct api_ctx *c);

#define CALL_READ   1     /* no side effects */
#define CALL_WRITE  2
#define CALL_STREAM 4     /* answers with an event stream */
#define CALL_LARGE  8     /* the answer can be big (the state) */

struct call {
    const char *name;     /* the Call.Type value name, e.g. "GET_HEALTH" */
    call_fn fn;
    int flags;
};

/* A constant answer kept by api_respond_keep (GET_HEALTH, GET_VERSION):
 * both encodings, in place (no allocation, nothing to free). */
#define API_CONST_SLOTS 2
struct api_const {
    int32_t type;              /* Call.Type; 0 = empty slot */
    uint16_t pb_len, json_len;
    uint8_t pb[256];
    char json[512];
};

/* What api.c learns about a Call.Type the first time it sees it: its
 * entry in the call table and its sub-message's tag (name lookups). */
#define API_TYPES 128
struct api_type {
    uint8_t known;             /* 0: not looked up yet */
    uint8_t call;              /* index in calls + 1; 0 = not implemented */
    uint16_t sub_tag;          /* the sub-message named after the type; 0 = none */
};

/* One /api/v1 endpoint: which protobuf messages it speaks and its calls. */
struct api {
    const char *what;          /* "Call" as in "Failed to parse body into Call protobuf" */
    const char *validate_what; /* "master::Call" in validation messages */
    int call_msg;              /* PBD_M_* of the Call */
    int call_type_enum;        /* PBD_E_* of Call.Type */
    int response_msg;          /* PBD_M_* of the Response */
    int event_msg;             /* PBD_M_* of the Event (streams) */
    const struct call *calls;
    size_t ncalls;
    void *state;               /* handed to handlers (struct master *) */
    int lazy_accept;           /* Accept is the handler's to check (scheduler API) */
    int no_sub_check;          /* the handler checks its sub-message itself */
    /* The agent's /api/v1 (OPERATOR_API 5 and 1.9): its order of checks,
     * its messages, application/recordio request and response streams
     * with Message-Content-Type / Message-Accept. */
    int agent;
    /* Call-specific validation once the Call decoded (agent): 0, or -1
     * with the reason (after "Failed to validate agent::Call: ") in err.
     * It replaces the generic "sub-message must be present" check. */
    int (*validate)(struct api_ctx *c, struct buf *err);
    /* Calls that may answer with a stream and the one that takes a
     * streamed request body (Call.Type numbers; agent). */
    int32_t stream_out_types[4];
    int32_t stream_in_type;
    struct api_const consts[API_CONST_SLOTS];   /* private: api_respond_keep's */
    struct api_type types[API_TYPES];           /* private: by Call.Type */
    uint32_t type_tag;                          /* private: Call.type's tag; 0 = not looked up */
};

struct api_ctx {
    struct api *api;
    struct request *r;
    void *state;
    int json;                  /* respond in JSON (else protobuf) */
    const uint8_t *call;       /* the Call's protobuf bytes */
    size_t call_len;
    int32_t type;              /* Call.type */
    const uint8_t *sub;        /* the call's own sub-message bytes, if present */
    size_t sub_len;
    struct buf call_buf;       /* owns the bytes when converted from JSON */
    /* agent only */
    int stream_accept;         /* Accept: application/recordio was chosen */
    int message_json;          /* ... and its records are JSON (Message-Accept) */
    int stream_in;             /* Content-Type: application/recordio */
    int in_json;               /* ... with JSON records (Message-Content-Type) */
    /* A streamed request body: the first record is the call that was
     * dispatched; each later record arrives here as Call protobuf bytes,
     * then (NULL, 0, NULL) at the end of the body. A record that does not
     * decode arrives as (NULL, 0, message). The handler set it, and owns
     * the ctx until it answers. */
    void (*on_input)(struct api_ctx *c, const uint8_t *call, size_t n, const char *err);
    void *input_arg;
    struct recordio rio;
    int dispatched;
    int *alive;                /* private: cleared when the ctx is freed */
};

/* The server_route_stream() predicate for an agent /api/v1: a body of
 * Content-Type application/recordio is taken as a stream. */
int api_wants_stream(struct request *r, void *arg);

/* The route handler for /api/v1; arg is a struct api *. */
void api_handle(struct request *r, void *arg);

/* Answers. Each finishes the call: the ctx must not be used afterwards. */
void api_respond(struct api_ctx *c, struct buf *response_pb);   /* 200 with the Response; takes the buf */
/* The same, for a Response that starts `off` bytes into the buf (an encoder
 * that wrote its headers backwards in front of the body). */
void api_respond_at(struct api_ctx *c, struct buf *response_pb, size_t off);
/* A JSON answer written by the handler itself, after `room` free bytes
 * (SERVER_HEAD_ROOM), continued in part2 from off2 (may be empty): 200,
 * application/json; takes both bufs. */
void api_respond_json_room2(struct api_ctx *c, struct buf *js, size_t room, struct buf *part2, size_t off2);
void api_empty(struct api_ctx *c, int status);                  /* 200/202, no body */
void api_error(struct api_ctx *c, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void api_done(struct api_ctx *c);                               /* free a ctx kept for a deferred answer */
/* Calls whose answer never changes while the process lives: the handler
 * first tries api_respond_const (1 = answered from what an earlier call
 * kept, the ctx is finished; 0 = build it), then answers with
 * api_respond_keep, which keeps both encodings when they fit a slot. */
int api_respond_const(struct api_ctx *c);
void api_respond_keep(struct api_ctx *c, struct buf *response_pb);

/* An agent streaming response (ATTACH_CONTAINER_OUTPUT and sessions):
 * starts the chunked answer with upstream's headers (Content-Type: the
 * negotiated Accept; with application/recordio also Message-Content-Type).
 * The ctx stays the caller's (api_done when no longer needed). Records are
 * JSON when api_records_json(c). */
void api_stream_begin(struct api_ctx *c);
int api_records_json(const struct api_ctx *c);

/* Encode one Event (protobuf bytes of api->event_msg) for a stream in the
 * negotiated encoding and send it as one RecordIO record. */
int api_stream_event(struct api *a, struct request *r, int json, const void *pb, size_t n);

#endif
