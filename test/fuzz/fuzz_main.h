/* fuzz_main.h -- the replay main() every fuzz target shares. Include it at
 * the end of a target. Built with -DFUZZ_MAIN it reads each file named on
 * the command line (stdin when none) and runs LLVMFuzzerTestOneInput on an
 * exact-size copy, so ASan catches a read past the end; gcc builds it and
 * `make fuzz-replay` runs the corpus in CI. libFuzzer brings its own main. */
#ifdef FUZZ_MAIN
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int fuzz_replay(FILE *f, const char *name)
{
    size_t len = 0, cap = 1 << 12, got;
    char *buf = malloc(cap);
    if (!buf) return 1;
    while ((got = fread(buf + len, 1, cap - len, f)) > 0) {
        len += got;
        if (len < cap) continue;
        char *more = realloc(buf, cap * 2);
        if (!more) { free(buf); return 1; }
        buf = more;
        cap *= 2;
    }
    if (ferror(f)) { perror(name); free(buf); return 1; }
    char *exact = malloc(len ? len : 1);
    if (!exact) { free(buf); return 1; }
    memcpy(exact, buf, len);
    free(buf);
    LLVMFuzzerTestOneInput((const uint8_t *)exact, len);
    free(exact);
    return 0;
}

int main(int argc, char **argv)
{
    int bad = 0;
    if (argc < 2) return fuzz_replay(stdin, "stdin");
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) { perror(argv[i]); bad = 1; continue; }
        bad |= fuzz_replay(f, argv[i]);
        fclose(f);
    }
    return bad;
}
#endif
