/* fuzz_recordio.c -- fuzz the streamed-response reader and the RecordIO
 * decoder that the executor (and later clients) run on bytes from a peer.
 * The input is fed in two pieces split at a position taken from its first
 * byte, so resumption is exercised too. Build with libFuzzer, or with
 * -DFUZZ_MAIN for a main() that replays files (CI replays the corpus). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "recordio.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    size_t cut = 1 + (n > 1 ? d[0] % (n - 1) : 0);
    struct hresp h = {0};
    struct buf body = { .max = 1 << 20 };
    struct recordio r = {0};
    const char *p = (const char *)d + 1;
    size_t len = n - 1, first = cut - 1 < len ? cut - 1 : len;
    const char *pieces[2] = { p, p + first };
    size_t sizes[2] = { first, len - first };
    for (int i = 0; i < 2; i++) {
        if (hresp_feed(&h, pieces[i], sizes[i], &body) < 0) break;
        if (body.len && recordio_feed(&r, body.data, body.len) < 0) break;
        buf_reset(&body);
        const char *rec;
        size_t rn;
        while (recordio_next(&r, &rec, &rn) == 1) {
            /* read both ends of the record: an out-of-bounds span faults */
            volatile unsigned char sink = rn ? (unsigned char)(rec[0] ^ rec[rn - 1]) : 0;
            (void)sink;
        }
    }
    hresp_free(&h);
    buf_free(&body);
    recordio_free(&r);
    return 0;
}

#include "fuzz_main.h"
