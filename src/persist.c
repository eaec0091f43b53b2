/* persist.c -- the write path of operator calls whose state lives in the
 * registry (quota, maintenance, agents' drain and deactivation): the
 * operations are queued as one registry record, and the in-memory state is
 * changed and the client answered only once that record is durable, as
 * op_update_weights does. A client that goes away meanwhile is forgotten
 * (on_close); the change is still applied. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"
#include "master.h"
#include "persist.h"
#include "registry.h"
#include "server.h"
#include "util.h"

struct persist_req {
    struct api_ctx *c;
    struct master *m;
    persist_apply_fn apply;
    void *data;
};

static void client_gone(struct request *r, void *arg)
{
    (void)r;
    struct persist_req *p = arg;
    api_done(p->c);
    p->c = NULL;
}

static void stored(void *arg, int status)
{
    struct persist_req *p = arg;
    if (p->c) p->c->r->on_close = NULL;
    if (status < 0) {
        master_registry_failed(p->m, status);
        if (p->c) api_error(p->c, 503, "Failed to update the registry: %s", strerror(-status));
    } else if (p->apply(p->m, p->data, p->c) == 0 && p->c) {
        api_empty(p->c, 200);
    }
    free(p->data);
    free(p);
}

int persist_call(struct api_ctx *c, const struct registry_op *ops, size_t n, persist_apply_fn apply, void *data)
{
    struct master *m = c->state;
    struct persist_req *p = xcalloc(1, sizeof *p);
    p->c = c;
    p->m = m;
    p->apply = apply;
    p->data = data;
    c->r->on_close = client_gone;
    c->r->on_close_arg = p;
    int rc = master_registry_apply_txn(m, ops, n, stored, p);
    if (rc < 0) {
        c->r->on_close = NULL;
        free(p->data);
        free(p);
        if (registry_failed(m->registry)) api_error(c, 503, "Failed to update the registry: %s", strerror(-rc));
        else api_error(c, 409, "Registry refused the change: %s", strerror(-rc));
    }
    return rc;
}
