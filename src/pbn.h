/* pbn.h -- glue between nanopb and our buffers.
 *
 * Debian's nanopb runtime has no PB_ENABLE_MALLOC, so strings, bytes and
 * repeated fields of the generated structs are callbacks. These helpers
 * cover the common cases: encode a C string, capture a field as a span of
 * the input (no copy), encode a struct into a struct buf. */
#ifndef PBN_H
#define PBN_H
#include <stdbool.h>
#include <stddef.h>
#include <pb.h>
#include <pb_decode.h>
#include <pb_encode.h>
#include "buf.h"

/* An encode callback writing the NUL-terminated string s (NULL: omitted). */
pb_callback_t pbn_str(const char *s);

/* A decode callback storing the field's bytes as a span of the input;
 * `span` must outlive the decode. For repeated fields the last one wins. */
struct pbn_span { const uint8_t *p; size_t n; bool set; };
pb_callback_t pbn_capture(struct pbn_span *span);

/* Encode `msg` (nanopb struct) and append the bytes to out. */
bool pbn_encode(struct buf *out, const pb_msgdesc_t *fields, const void *msg);
/* Encode as a length-delimited sub-message field `tag` of an outer message. */
bool pbn_encode_field(struct buf *out, uint32_t tag, const pb_msgdesc_t *fields, const void *msg);
/* Decode p[0..n) into msg (zeroed first, then callbacks the caller set up
 * in *msg are kept: pass keep_callbacks=true). */
bool pbn_decode(const void *p, size_t n, const pb_msgdesc_t *fields, void *msg);

#endif
