/* fuzz_pbjson.c -- fuzz the protobuf <-> JSON converter.
 *
 * The first byte picks a message type and a direction: JSON text -> Call
 * bytes (and back to JSON, which must succeed for anything we produced), or
 * raw bytes -> JSON, as a stored or received message would be transcoded.
 * Build with libFuzzer (LLVMFuzzerTestOneInput), or with -DFUZZ_MAIN for a
 * main() that replays files, so gcc builds it and CI replays the corpus. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "pbjson.h"

static const int targets[] = {
    PBD_M_mesos_v1_master_Call, PBD_M_mesos_v1_master_Response, PBD_M_mesos_v1_master_Event,
    PBD_M_mesos_v1_scheduler_Call, PBD_M_mesos_v1_TaskInfo, PBD_M_mesos_v1_quota_QuotaConfig,
    PBD_M_mesos_v1_agent_Call, PBD_M_mesos_v1_Resource,
};

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    if (n < 1) return 0;
    int msg = targets[(d[0] >> 1) % (sizeof targets / sizeof *targets)];
    struct buf out = { .max = 1 << 24 }, err = { .max = 1 << 16 }, js = { .max = 1 << 26 };
    if (d[0] & 1) {
        if (pbjson_from_json(msg, (const char *)d + 1, n - 1, &out, &err) == 0) {
            /* what we produced must be valid and transcode back */
            if (pbjson_to_json(msg, out.data, out.len, &js) != 0) abort();
        }
    } else {
        (void)pbjson_to_json(msg, d + 1, n - 1, &js);
        (void)pbjson_check(msg, d + 1, n - 1, &err);
    }
    buf_free(&out);
    buf_free(&err);
    buf_free(&js);
    return 0;
}

#include "fuzz_main.h"
