/* spawnproc.c -- posix_spawn with the few things our children need (spawnproc.h). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "buf.h"
#include "spawnproc.h"

extern char **environ;

static size_t name_len(const char *kv)
{
    const char *eq = strchr(kv, '=');
    return eq ? (size_t)(eq - kv) : strlen(kv);
}

char **spawn_environ(char *const *env)
{
    size_t ne = 0, nx = 0;
    while (environ && environ[ne]) ne++;
    while (env && env[nx]) nx++;
    char **out = xcalloc(ne + nx + 1, sizeof *out);
    size_t k = 0;
    for (size_t i = 0; i < ne; i++) {
        size_t l = name_len(environ[i]);
        int replaced = 0;
        for (size_t j = 0; j < nx && !replaced; j++)
            replaced = name_len(env[j]) == l && memcmp(env[j], environ[i], l) == 0;
        if (!replaced) out[k++] = environ[i];
    }
    /* Later duplicates within env win, as repeated setenv() calls would. */
    for (size_t j = 0; j < nx; j++) {
        size_t l = name_len(env[j]);
        int later = 0;
        for (size_t m = j + 1; m < nx && !later; m++) later = name_len(env[m]) == l && memcmp(env[m], env[j], l) == 0;
        if (!later) out[k++] = env[j];
    }
    out[k] = NULL;
    return out;
}

int spawn_which(const char *file, char *const *envp, char *out, size_t n)
{
    const char *path = "/usr/local/bin:/usr/bin:/bin";     /* execvp's default, roughly */
    for (char *const *e = envp; e && *e; e++)
        if (strncmp(*e, "PATH=", 5) == 0) path = *e + 5;
    if (!file[0]) return ENOENT;
    int err = ENOENT;
    for (const char *p = path;; p++) {
        const char *end = strchr(p, ':');
        size_t dl = end ? (size_t)(end - p) : strlen(p);
        const char *dir = dl ? p : ".";              /* an empty entry is the current directory */
        if ((size_t)snprintf(out, n, "%.*s/%s", (int)(dl ? dl : 1), dir, file) < n) {
            struct stat st;
            if (stat(out, &st) == 0 && S_ISREG(st.st_mode)) {
                if (access(out, X_OK) == 0) return 0;
                err = EACCES;
            }
        }
        if (!end) break;
        p = end;
    }
    return err;
}

pid_t spawn_process(const char *file, char *const argv[], const struct spawn_opts *o)
{
    static const struct spawn_opts none = {0};
    if (!o) o = &none;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t at;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc) return -rc;
    rc = posix_spawnattr_init(&at);
    if (rc) { posix_spawn_file_actions_destroy(&fa); return -rc; }
    short flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK;
    if (o->new_session) flags |= POSIX_SPAWN_SETSID;
    else if (o->new_group) flags |= POSIX_SPAWN_SETPGROUP;      /* pgroup 0: its own */
    sigset_t all, empty;
    sigfillset(&all);
    sigdelset(&all, SIGKILL);
    sigdelset(&all, SIGSTOP);
    sigemptyset(&empty);
    rc = posix_spawnattr_setflags(&at, flags);
    if (!rc) rc = posix_spawnattr_setsigdefault(&at, &all);
    if (!rc) rc = posix_spawnattr_setsigmask(&at, &empty);
    if (!rc && o->new_group && !o->new_session) rc = posix_spawnattr_setpgroup(&at, 0);
    if (!rc && o->in) rc = posix_spawn_file_actions_addopen(&fa, 0, o->in, O_RDONLY, 0);
    if (!rc && o->out) rc = posix_spawn_file_actions_addopen(&fa, 1, o->out, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (!rc && o->err) rc = posix_spawn_file_actions_addopen(&fa, 2, o->err, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (!rc && o->cwd) rc = posix_spawn_file_actions_addchdir_np(&fa, o->cwd);
    char **envp = spawn_environ(o->env);
    pid_t pid = -1;
    if (!rc) {
        char found[4096];
        if (o->path_search && !strchr(file, '/')) {
            rc = spawn_which(file, envp, found, sizeof found);
            file = found;
        }
        if (!rc) rc = posix_spawn(&pid, file, &fa, &at, argv, envp);
    }
    free(envp);
    posix_spawnattr_destroy(&at);
    posix_spawn_file_actions_destroy(&fa);
    return rc ? -rc : pid;
}
