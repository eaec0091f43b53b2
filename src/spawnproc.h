/* spawnproc.h -- start a child process that only execs, without copying the
 * parent's memory (posix_spawn: clone with CLONE_VM|CLONE_VFORK).
 *
 * fork() of a busy agent copies its page tables, and the exec that follows
 * tears the copy down again: on this kind of VM that is most of the cost of
 * starting an executor. Here the child borrows the parent's memory until it
 * execs; the parent waits only for that. Whatever the child needs before
 * exec (session, process group, files, directory, signals, environment)
 * is described up front in struct spawn_opts. */
#ifndef SPAWNPROC_H
#define SPAWNPROC_H
#include <stddef.h>
#include <sys/types.h>

struct spawn_opts {
    const char *cwd;             /* chdir before exec, or NULL */
    const char *in;              /* opened read-only as fd 0, or NULL to inherit */
    const char *out, *err;       /* opened as fd 1 / fd 2 (create, append), or NULL to inherit */
    int new_session;             /* setsid(): also its own process group */
    int new_group;               /* setpgid(0, 0) */
    int path_search;             /* look `file` up in PATH as execvp does (PATH of the new environment) */
    char *const *env;            /* "NAME=value" entries added to (or replacing in) our environment; NULL-terminated, or NULL */
};

/* Start `file` with argv. Signals are reset to their defaults in the child
 * (SIGPIPE too, which the servers ignore) and none is blocked. Returns the
 * child's pid, or -errno when it could not be started (exec failed: ENOENT,
 * EACCES, ENOEXEC...; chdir or an open failed). */
pid_t spawn_process(const char *file, char *const argv[], const struct spawn_opts *o);

/* The first executable regular file named `file` in the PATH of envp (as
 * execvp searches it) into out. Returns 0, or ENOENT / EACCES. */
int spawn_which(const char *file, char *const *envp, char *out, size_t n);

/* Our environment with `env` merged in, as a NULL-terminated array for
 * exec (entries point into environ and env; free only the array). */
char **spawn_environ(char *const *env);

#endif
