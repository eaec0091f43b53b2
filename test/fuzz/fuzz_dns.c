/* fuzz_dns.c -- fuzz the DNS answer parser (bytes from the network) and,
 * on the same input, the hosts-file and resolv.conf parsers. The answer is
 * checked against the question "www.example.com" with id 0x1234, for A
 * and AAAA. Build with libFuzzer, or with -DFUZZ_MAIN for a main() that
 * replays files (CI replays the corpus). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include "resolve.h"

int LLVMFuzzerTestOneInput(const uint8_t *d, size_t n)
{
    struct sockaddr_storage a[RESOLVE_MAX];
    for (int t = 0; t < 2; t++) {
        int k = resolve_dns_answer(d, n, 0x1234, "www.example.com", t ? 28 : 1, 53, a, RESOLVE_MAX);
        if (k > RESOLVE_MAX) abort();
        for (int i = 0; i < k; i++)
            if (a[i].ss_family != (t ? AF_INET6 : AF_INET)) abort();
    }
    int k = resolve_hosts((const char *)d, n, "www.example.com", 1, a, RESOLVE_MAX);
    if (k < 0 || k > RESOLVE_MAX) abort();
    struct resolve_conf c = {0};
    resolve_conf_parse(&c, (const char *)d, n);
    if (c.nns < 1 || c.nns > RESOLVE_MAX_NS || c.nsearch > RESOLVE_MAX_SEARCH) abort();
    for (int i = 0; i < c.nsearch; i++)
        if (strlen(c.search[i]) >= RESOLVE_NAME_MAX) abort();
    return 0;
}

#include "fuzz_main.h"
