/* flags.c -- command-line and environment flags (see flags.h). */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "buf.h"
#include "flags.h"

struct unit { const char *name; int64_t ns; };
static const struct unit dur_units[] = {
    { "weeks", 7LL * 24 * 3600 * 1000000000LL }, { "days", 24LL * 3600 * 1000000000LL },
    { "hrs", 3600LL * 1000000000LL }, { "mins", 60LL * 1000000000LL },
    { "secs", 1000000000LL }, { "ms", 1000000LL }, { "us", 1000LL }, { "ns", 1 },
};
static const struct unit byte_units[] = {
    { "TB", 1LL << 40 }, { "GB", 1LL << 30 }, { "MB", 1LL << 20 }, { "KB", 1LL << 10 }, { "B", 1 },
};

static int parse_unit(const char *s, const struct unit *u, size_t nu, int64_t *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno || v < 0 || !isfinite(v)) return -1;
    for (size_t i = 0; i < nu; i++)
        if (strcmp(end, u[i].name) == 0) {
            double x = v * (double)u[i].ns;
            if (x >= 9.2e18) return -1;
            *out = (int64_t)llround(x);
            return 0;
        }
    return -1;
}

static void format_unit(int64_t v, const struct unit *u, size_t nu, char *out, size_t n)
{
    for (size_t i = 0; i < nu; i++)
        if (v != 0 && v % u[i].ns == 0) {
            snprintf(out, n, "%lld%s", (long long)(v / u[i].ns), u[i].name);
            return;
        }
    snprintf(out, n, "0%s", u[nu - 1].name);
}

int parse_duration(const char *s, int64_t *ns) { return parse_unit(s, dur_units, 8, ns); }
void format_duration(int64_t ns, char *out, size_t n)
{
    if (ns == 0) { snprintf(out, n, "0ns"); return; }
    format_unit(ns, dur_units, 8, out, n);
}
int parse_bytes(const char *s, int64_t *b) { return parse_unit(s, byte_units, 5, b); }
void format_bytes(int64_t b, char *out, size_t n) { format_unit(b, byte_units, 5, out, n); }

struct flag *flags_find(struct flag *t, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i].name, name) == 0 || (t[i].alias && strcmp(t[i].alias, name) == 0)) return &t[i];
    return NULL;
}

static int set_value(struct flag *f, const char *used, const char *v, char *err, size_t errlen)
{
    int64_t x;
    char *end;
    switch (f->type) {
    case FLAG_BOOL:
        if (strcmp(v, "true") == 0 || strcmp(v, "1") == 0) f->i = 1;
        else if (strcmp(v, "false") == 0 || strcmp(v, "0") == 0) f->i = 0;
        else goto bad;
        break;
    case FLAG_INT:
        errno = 0;
        x = strtoll(v, &end, 10);
        if (end == v || *end || errno) goto bad;
        f->i = x;
        break;
    case FLAG_DOUBLE:
        errno = 0;
        f->d = strtod(v, &end);
        if (end == v || *end || errno) goto bad;
        break;
    case FLAG_DURATION:
        if (parse_duration(v, &x) < 0) goto bad;
        f->i = x;
        break;
    case FLAG_BYTES:
        if (parse_bytes(v, &x) < 0) goto bad;
        f->i = x;
        break;
    default:
        break;
    }
    free(f->str);
    f->str = xstrdup(v);
    f->present = 1;
    f->used_name = used;
    return 0;
bad:
    snprintf(err, errlen, "Failed to load flag '%s': Failed to load value '%s'", used, v);
    return -1;
}

int flags_parse(struct flag *t, size_t n, int argc, char **argv, int first, int *help,
                char *err, size_t errlen)
{
    *help = 0;
    for (size_t i = 0; i < n; i++) {
        t[i].used_name = t[i].name;
        if (t[i].dflt && set_value(&t[i], t[i].name, t[i].dflt, err, errlen) < 0) return -1;
    }
    /* Environment first, so the command line overrides it. */
    extern char **environ;
    for (char **e = environ; *e; e++) {
        if (strncmp(*e, "MESOS_", 6) != 0) continue;
        const char *eq = strchr(*e, '=');
        if (!eq) continue;
        char name[128];
        size_t len = (size_t)(eq - *e) - 6;
        if (len == 0 || len >= sizeof name) continue;
        for (size_t k = 0; k < len; k++) name[k] = (char)tolower((unsigned char)(*e)[6 + k]);
        name[len] = 0;
        struct flag *f = flags_find(t, n, name);
        if (!f) continue;    /* Mesos ignores MESOS_* variables it does not know */
        if (set_value(f, strcmp(f->name, name) == 0 ? f->name : f->alias, eq + 1, err, errlen) < 0) return -1;
        f->given = 1;
    }
    for (int a = first; a < argc; a++) {
        const char *arg = argv[a];
        if (strncmp(arg, "--", 2) != 0) {
            snprintf(err, errlen, "Failed to load unknown flag '%s'", arg);
            return -1;
        }
        arg += 2;
        const char *eq = strchr(arg, '=');
        char name[128];
        size_t len = eq ? (size_t)(eq - arg) : strlen(arg);
        if (len >= sizeof name) len = sizeof name - 1;
        memcpy(name, arg, len);
        name[len] = 0;
        if (strcmp(name, "help") == 0) { *help = 1; continue; }
        struct flag *f = flags_find(t, n, name);
        const char *value = eq ? eq + 1 : NULL;
        if (!f && !eq && strncmp(name, "no-", 3) == 0) {
            f = flags_find(t, n, name + 3);
            if (f && f->type == FLAG_BOOL) value = "false";
            else f = NULL;
            memmove(name, name + 3, strlen(name + 3) + 1);
        }
        if (!f) {
            snprintf(err, errlen, "Failed to load unknown flag '%s'", name);
            return -1;
        }
        if (!value) {
            if (f->type != FLAG_BOOL) {
                snprintf(err, errlen, "Failed to load non-boolean flag '%s': Missing value", name);
                return -1;
            }
            value = "true";
        }
        if (set_value(f, strcmp(f->name, name) == 0 ? f->name : f->alias, value, err, errlen) < 0) return -1;
        f->given = 1;
    }
    return 0;
}

void flags_format(const struct flag *f, char *out, size_t n)
{
    switch (f->type) {
    case FLAG_BOOL: snprintf(out, n, "%s", f->i ? "true" : "false"); break;
    case FLAG_DURATION: format_duration(f->i, out, n); break;
    case FLAG_BYTES: format_bytes(f->i, out, n); break;
    default: snprintf(out, n, "%s", f->str ? f->str : ""); break;
    }
}

void flags_usage(const struct flag *t, size_t n, const char *cmd)
{
    printf("Usage: mesos_api %s [options]\n\n", cmd);
    for (size_t i = 0; i < n; i++) {
        char line[160];
        snprintf(line, sizeof line, "  --%s%s", t[i].name, t[i].type == FLAG_BOOL ? "" : "=VALUE");
        printf("%-40s %s", line, t[i].help ? t[i].help : "");
        if (t[i].dflt) printf(" (default: %s)", t[i].dflt);
        if (t[i].alias) printf(" [alias --%s]", t[i].alias);
        printf("\n");
    }
    printf("\nEvery flag can also be set as MESOS_<FLAG> in the environment.\n");
}
