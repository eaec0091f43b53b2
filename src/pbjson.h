/* pbjson.h -- protobuf <-> JSON exactly as Mesos maps them, table-driven.
 *
 * One converter for every message: it walks the descriptor tables that
 * tools/gen_desc.py writes from proto/ (vendor/pbdesc.h). The rules are
 * stout's (OPERATOR_API.md section 4): proto field names, declaration order,
 * enums by name, bytes as base64, 64-bit integers as exact numbers, explicit
 * [default = ...] values written when unset, unknown fields ignored. */
#ifndef PBJSON_H
#define PBJSON_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "pbdesc.h"

/* Transcode the protobuf bytes of message `msg` (a PBD_M_* index) to JSON,
 * appended to out. Returns 0, or -1 when the bytes are malformed or out hit
 * its max. */
int pbjson_to_json(int msg, const void *p, size_t n, struct buf *out);
/* Room to reserve for the JSON of n protobuf bytes: Mesos' answers come
 * out at about 2.2 times their protobuf size (names, quotes, enums). */
#define PBJSON_SIZE_GUESS(n) ((n) * 9 / 4)
/* A mesos.v1.Task, as pbjson_to_json writes it where it is nested `depth`
 * messages deep (for the depth limit), by a faster route for the usual
 * shape. Returns 0 or -1. */
int pbjson_task_to_json(const void *p, size_t n, struct buf *out, int depth);

#define PBJSON_ESYNTAX  (-1)   /* not JSON: "Failed to parse body into JSON: <err>" */
#define PBJSON_ECONVERT (-2)   /* JSON, not the message: "Failed to convert JSON into <M> protobuf: <err>" */
#define PBJSON_ELIMIT   (-3)   /* out hit its max */

/* Convert JSON text to the protobuf bytes of message `msg`, appended to out.
 * On failure err receives the message (without the caller's prefix). Required
 * fields are checked after conversion, as protobuf::parse does. */
int pbjson_from_json(int msg, const char *s, size_t n, struct buf *out, struct buf *err);

/* Protobuf input check: the bytes must parse as message `msg` (framing, and
 * every length-delimited field of a message type recursively) with all
 * required fields present. Returns 0, or -1 with the missing-field list
 * ("a.b, c") or "malformed" in err. */
int pbjson_check(int msg, const void *p, size_t n, struct buf *err);

/* Look up an enum value's name (NULL if unknown) and a name's number. */
const char *pbd_enum_name(int e, int32_t number);
int pbd_enum_number(int e, const char *name, size_t len, int32_t *number);

#endif
