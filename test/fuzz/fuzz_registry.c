/* fuzz_registry.c -- fuzz the registry file reader (src/registry.c): the
 * header, record framing and checksums, the torn-tail scan, replaying
 * Operation records (transactions included) and loading a
 * mesos.internal.Registry snapshot; a log that reads is also encoded as a
 * snapshot and loaded back. The same code runs on the master's files at
 * start-up.
 *
 * An input starting with byte 0x01 is not a file but pieces ([u8 length]
 * [bytes]...) that this target frames into a log, or (0x02) a snapshot, with
 * correct checksums (the layout of registry.h), so the fuzzer reaches the
 * Operation and Registry parsers instead of stopping at a CRC. Build with
 * libFuzzer, or with -DFUZZ_MAIN to replay files. */
#include <stdint.h>
#include <stddef.h>
#include <string.h>
#include <zlib.h>
#include "buf.h"
#include "registry.h"

static void le(uint8_t *p, uint64_t v, int n) { for (int i = 0; i < n; i++) p[i] = (uint8_t)(v >> (8 * i)); }

static void framed(struct buf *out, const uint8_t *d, size_t n, int snapshot)
{
    uint8_t h[REGISTRY_HEADER_LEN];
    memcpy(h, "MAPIREG\n", 8);
    le(h + 8, REGISTRY_FORMAT_VERSION, 4);
    le(h + 12, snapshot ? 1 : 2, 4);
    le(h + 16, 0, 8);
    le(h + 24, crc32(0, h, 24), 4);
    buf_append(out, h, sizeof h);
    for (size_t i = 0, batch = 1; i < n; batch++) {
        size_t len = snapshot ? n : d[i++];
        if (len > n - i) len = n - i;
        uint8_t r[REGISTRY_RECORD_HEAD];
        le(r, len, 4);
        le(r + 8, batch, 8);
        le(r + 16, 0, 4);
        le(r + 20, 1, 4);
        uLong c = crc32(0, r, 4);
        c = crc32(c, r + 8, 16);
        le(r + 4, crc32(c, d + i, (uInt)len), 4);
        buf_append(out, r, sizeof r);
        buf_append(out, d + i, len);
        i += len;
        if (snapshot) break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    char err[512];
    if (n > 0 && (d[0] == 1 || d[0] == 2)) {
        struct buf f = {0};
        framed(&f, d + 1, n - 1, d[0] == 2);
        (void)registry_parse_file(f.data, f.len, err, sizeof err);
        buf_free(&f);
        return 0;
    }
    (void)registry_parse_file(d, n, err, sizeof err);
    return 0;
}

#include "fuzz_main.h"
