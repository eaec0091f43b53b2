/* sched_calls.c -- the scheduler calls around executors and operations:
 * MESSAGE, SHUTDOWN, REQUEST, ACKNOWLEDGE_OPERATION_STATUS and
 * RECONCILE_OPERATIONS, and the executor's messages on their way back.
 *
 * As upstream (src/master/master.cpp message/shutdown/request and
 * src/master/validation.cpp), each call is validated before the framework
 * is looked up, answers 202 and then acts best effort: a message for an
 * agent the master does not know is dropped with a warning. A framework's
 * data travels to the executor as FrameworkToExecutorMessage through the
 * agent; the executor's MESSAGE call comes back as
 * ExecutorToFrameworkMessage and reaches the framework as a MESSAGE event.
 * REQUEST is accepted and ignored, as upstream's allocator ignores it. */
#include <stdio.h>
#include <string.h>
#include "log.h"
#include "master.h"
#include "pbw.h"
#include "util.h"

/* scheduler::Call.Type numbers and their sub-message tags. */
enum { C_SHUTDOWN = 7, C_MESSAGE = 10, C_REQUEST = 11, C_ACK_OPERATION = 15, C_RECONCILE_OPERATIONS = 16 };
enum { EV_MESSAGE = 5 };

int sched_calls_handles(int type)
{
    return type == C_SHUTDOWN || type == C_MESSAGE || type == C_REQUEST || type == C_ACK_OPERATION ||
           type == C_RECONCILE_OPERATIONS;
}

int sched_calls_validate(struct api_ctx *c, const uint8_t *p, size_t n)
{
    static const struct { int type; uint32_t tag; const char *name; } subs[] = {
        { C_SHUTDOWN, 7, "shutdown" }, { C_MESSAGE, 10, "message" }, { C_REQUEST, 11, "request" },
        { C_ACK_OPERATION, 17, "acknowledge_operation_status" },
        { C_RECONCILE_OPERATIONS, 18, "reconcile_operations" },
    };
    struct pbw_field f, u;
    for (size_t i = 0; i < sizeof subs / sizeof *subs; i++) {
        if (subs[i].type != c->type) continue;
        const char *why = NULL;
        if (pbw_find(p, n, subs[i].tag, &f) != 1 || f.wt != PBW_LEN) {
            api_error(c, 400, "Failed to validate scheduler::Call: Expecting '%s' to be present", subs[i].name);
            return -1;
        }
        /* ACKNOWLEDGE_OPERATION_STATUS: a UUID (16 bytes) and the agent id. */
        if (c->type == C_ACK_OPERATION && (pbw_find(f.p, f.n, 3, &u) != 1 || u.n != 16)) why = "Not a valid UUID";
        else if (c->type == C_ACK_OPERATION && pbw_find(f.p, f.n, 1, &u) != 1)
            why = "Expecting 'agent_id' to be present";
        if (why) {
            api_error(c, 400, "Failed to validate scheduler::Call: %s", why);
            return -1;
        }
    }
    /* RECONCILE_OPERATIONS is the one call besides SUBSCRIBE whose Accept
     * upstream negotiates, right after validation. */
    if (c->type == C_RECONCILE_OPERATIONS && !request_accepts(c->r, "Accept", "application/json") &&
        !request_accepts(c->r, "Accept", "application/x-protobuf")) {
        api_error(c, 406, "Expecting 'Accept' to allow 'application/x-protobuf' or 'application/json'");
        return -1;
    }
    return 0;
}

/* Call.message (10) {agent_id 1, executor_id 2, data 3} ->
 * FrameworkToExecutorMessage {slave_id 1, framework_id 2, executor_id 3, data 4}. */
static void message(struct master *m, struct framework *f, const uint8_t *p, size_t n)
{
    struct pbw_field x, ex, data;
    char aid[96] = "";
    if (pbw_find(p, n, 10, &x) != 1) return;
    pbw_get_id(x.p, x.n, 1, aid, sizeof aid);
    struct agent *a = agents_find(m, aid, strlen(aid));
    if (!a) {
        LOG_WARN("Cannot send framework message for framework %s to agent %s because agent is not registered",
                 f->id, aid);
        return;
    }
    LOG("Processing MESSAGE call from framework %s to agent %s", f->id, a->id);
    struct buf msg = {0};
    pbw_put_id(&msg, 1, a->id);
    pbw_put_id(&msg, 2, f->id);
    if (pbw_find(x.p, x.n, 2, &ex) == 1 && ex.wt == PBW_LEN) pbw_put_bytes(&msg, 3, ex.p, ex.n);
    if (pbw_find(x.p, x.n, 3, &data) == 1 && data.wt == PBW_LEN) pbw_put_bytes(&msg, 4, data.p, data.n);
    else pbw_put_bytes(&msg, 4, "", 0);
    wire_send(m->wire, &a->pid, "mesos.internal.FrameworkToExecutorMessage", msg.data, msg.len);
    buf_free(&msg);
}

/* Call.shutdown (7) {executor_id 1, agent_id 2} ->
 * ShutdownExecutorMessage {executor_id 1, framework_id 2}. */
static void shutdown_executor(struct master *m, struct framework *f, const uint8_t *p, size_t n)
{
    struct pbw_field x, ex;
    char aid[96] = "", exid[256] = "";
    if (pbw_find(p, n, 7, &x) != 1) return;
    pbw_get_id(x.p, x.n, 2, aid, sizeof aid);
    pbw_get_id(x.p, x.n, 1, exid, sizeof exid);
    struct agent *a = agents_find(m, aid, strlen(aid));
    if (!a) {
        LOG_WARN("Unable to shutdown executor '%s' of framework %s of unknown agent %s", exid, f->id, aid);
        return;
    }
    LOG("Processing SHUTDOWN call for executor '%s' of framework %s on agent %s", exid, f->id, a->id);
    struct buf msg = {0};
    if (pbw_find(x.p, x.n, 1, &ex) == 1 && ex.wt == PBW_LEN) pbw_put_bytes(&msg, 1, ex.p, ex.n);
    pbw_put_id(&msg, 2, f->id);
    wire_send(m->wire, &a->pid, "mesos.internal.ShutdownExecutorMessage", msg.data, msg.len);
    buf_free(&msg);
}

void sched_calls_handle(struct api_ctx *c, struct framework *f, const uint8_t *p, size_t n)
{
    struct master *m = c->state;
    switch (c->type) {
    case C_MESSAGE:
        api_empty(c, 202);
        message(m, f, p, n);
        return;
    case C_SHUTDOWN:
        api_empty(c, 202);
        shutdown_executor(m, f, p, n);
        return;
    case C_REQUEST:
        LOG("Processing REQUEST call for framework %s (ignored, as upstream's allocator does)", f->id);
        api_empty(c, 202);
        return;
    case C_ACK_OPERATION:
        api_empty(c, 202);
        ops_acknowledge(m, f, p, n);
        return;
    case C_RECONCILE_OPERATIONS:
        api_empty(c, 202);
        ops_reconcile(m, f, p, n);
        return;
    default:
        api_empty(c, 202);
    }
}

/* ExecutorToFrameworkMessage {slave_id 1, framework_id 2, executor_id 3,
 * data 4} -> Event.MESSAGE (6) {agent_id 1, executor_id 2, data 3}. */
int sched_calls_on_message(struct master *m, const struct upid *from, const char *name, const uint8_t *p, size_t n)
{
    (void)from;
    if (strcmp(name, "mesos.internal.ExecutorToFrameworkMessage") != 0) return 0;
    char aid[96] = "", fw[160] = "", ex[256] = "";
    pbw_get_id(p, n, 1, aid, sizeof aid);
    pbw_get_id(p, n, 2, fw, sizeof fw);
    pbw_get_id(p, n, 3, ex, sizeof ex);
    if (!agents_find(m, aid, strlen(aid))) {
        LOG_WARN("Ignoring executor message from executor '%s' of framework %s on unknown agent %s", ex, fw, aid);
        return 1;
    }
    struct framework *f = sched_find(m, fw);
    if (!f || !f->stream) {
        LOG_WARN("Not forwarding executor message for executor '%s' of framework %s because the framework is %s",
                 ex, fw, f ? "disconnected" : "unknown");
        return 1;
    }
    struct pbw_field data;
    struct buf ev = {0};
    pbw_put_uint(&ev, 1, EV_MESSAGE);
    size_t k = pbw_begin(&ev, 6);
    pbw_put_id(&ev, 1, aid);
    pbw_put_id(&ev, 2, ex);
    if (pbw_find(p, n, 4, &data) == 1 && data.wt == PBW_LEN) pbw_put_bytes(&ev, 3, data.p, data.n);
    else pbw_put_bytes(&ev, 3, "", 0);
    pbw_end(&ev, k);
    sched_send_event(f, &ev);
    buf_free(&ev);
    return 1;
}
