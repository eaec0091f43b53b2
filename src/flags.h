/* flags.h -- mesos-style command-line flags: --name=value, --name (true),
 * --no-name (false), and MESOS_<NAME> in the environment (the command line
 * wins). Each flag keeps its parsed value and prints itself back the way
 * Mesos does for GET_FLAGS ("15secs", "true", "4KB").
 *
 * A flag table is a static array of struct flag that the caller owns; the
 * parser fills in the values. */
#ifndef FLAGS_H
#define FLAGS_H
#include <stddef.h>
#include <stdint.h>

enum flag_type { FLAG_STRING, FLAG_BOOL, FLAG_INT, FLAG_DOUBLE, FLAG_DURATION, FLAG_BYTES };

struct flag {
    const char *name;
    const char *alias;          /* deprecated spelling, or NULL */
    int type;                   /* enum flag_type */
    const char *dflt;           /* default text, or NULL: unset unless given */
    const char *help;
    /* filled by flags_parse */
    int present;                /* has a value (given or defaulted) */
    int given;                  /* on the command line or in the environment */
    const char *used_name;      /* name or alias, as given */
    char *str;                  /* the text as given (or the default) */
    int64_t i;                  /* INT, BOOL (0/1), DURATION (ns), BYTES */
    double d;                   /* DOUBLE */
};

/* Parse argv[first..argc) and the environment (MESOS_<NAME>, upper case).
 * Returns 0, or -1 with a message in err: unknown flags, bad values,
 * positional arguments. "--help" sets *help. */
int flags_parse(struct flag *t, size_t n, int argc, char **argv, int first, int *help,
                char *err, size_t errlen);
struct flag *flags_find(struct flag *t, size_t n, const char *name);
/* The value as Mesos prints it. */
void flags_format(const struct flag *f, char *out, size_t n);
void flags_usage(const struct flag *t, size_t n, const char *cmd);

/* Mesos durations: "<number><unit>", unit ns|us|ms|secs|mins|hrs|days|weeks.
 * A number may have a fraction ("1.5secs"). Returns 0 or -1. */
int parse_duration(const char *s, int64_t *ns);
/* Largest unit that keeps the number whole: 15000000000 -> "15secs". */
void format_duration(int64_t ns, char *out, size_t n);
int parse_bytes(const char *s, int64_t *bytes);   /* "4KB", "10MB", "512B" */
void format_bytes(int64_t bytes, char *out, size_t n);

#endif
