/* fuzz_processio.c -- fuzz what the agent does with a streamed
 * ATTACH_CONTAINER_INPUT body: RecordIO records (split in two pieces at a
 * position from the first byte), each a Call in JSON or protobuf (the
 * second byte's low bit), converted and checked as the agent does.
 * Build with libFuzzer, or -DFUZZ_MAIN to replay files. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "processio.h"
#include "recordio.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 2) return 0;
    int json = d[1] & 1;
    const char *p = (const char *)d + 2;
    size_t len = n - 2, cut = len ? d[0] % (len + 1) : 0;
    struct recordio r = { .in = { .max = 1 << 20 } };
    const char *pieces[2] = { p, p + cut };
    size_t sizes[2] = { cut, len - cut };
    for (int i = 0; i < 2; i++) {
        if (recordio_feed(&r, pieces[i], sizes[i]) < 0) break;
        const char *rec;
        size_t rn;
        while (recordio_next(&r, &rec, &rn) == 1) {
            struct buf call = { .max = 1 << 20 }, err = { .max = 4096 };
            struct processio io;
            if (!json) (void)processio_input_record(rec, rn, &io);
            else if (pbjson_from_json(PBD_M_mesos_v1_agent_Call, rec, rn, &call, &err) == 0)
                (void)processio_input_record(call.data ? call.data : "", call.len, &io);
            (void)processio_parse(rec, rn, &io);
            buf_free(&call);
            buf_free(&err);
        }
    }
    recordio_free(&r);
    return 0;
}

#include "fuzz_main.h"
