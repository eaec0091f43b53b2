/* events.c -- the operator event stream: SUBSCRIBE on the master's /api/v1
 * and the nine mesos.v1.master.Event types.
 *
 * A subscriber gets SUBSCRIBED (the whole state, as GET_STATE) and one
 * HEARTBEAT at once, then every change as it happens and a HEARTBEAT every
 * interval. The snapshot is written and the subscriber registered in the same
 * loop turn, so nothing falls between the snapshot and the first change.
 *
 * The state modules call one function per event at the point where the
 * master's state changes (the places are those of src/master/master.cpp, see
 * each function). An event is built as protobuf once, converted to JSON at
 * most once, framed as a RecordIO record once per encoding, and the same bytes
 * are written to every subscriber: the cost of an event does not grow with the
 * number of subscribers beyond the copy into each connection. Nothing is built
 * while nobody listens. A subscriber whose connection queues more than
 * --max_stream_buffer_size is cut off by the server (server_stream_write
 * fails) and forgotten here; the master never waits for a reader. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "log.h"
#include "master.h"
#include "pbdesc.h"
#include "pbjson.h"
#include "pbw.h"
#include "util.h"

#define CT_JSON  "application/json"
#define CT_PROTO "application/x-protobuf"
#define DEFAULT_HEARTBEAT_MS 15000      /* upstream's DEFAULT_HEARTBEAT_INTERVAL */

/* mesos.v1.master.Event.Type; the payload field of each is its number + 1. */
enum { EV_SUBSCRIBED = 1, EV_TASK_ADDED = 2, EV_TASK_UPDATED = 3, EV_AGENT_ADDED = 4, EV_AGENT_REMOVED = 5,
       EV_FRAMEWORK_ADDED = 6, EV_FRAMEWORK_UPDATED = 7, EV_FRAMEWORK_REMOVED = 8, EV_HEARTBEAT = 9 };

/* TaskStatus.Reason values that upstream always forwards to subscribers. */
#define REASON_TASK_CHECK_STATUS_UPDATED 28
#define REASON_TASK_HEALTH_CHECK_STATUS_UPDATED 29

struct esub {                   /* one SUBSCRIBE stream */
    struct esub *prev, *next;   /* oldest first */
    struct events *ev;
    struct request *r;
    int json;
    int writing, closed;        /* on_close while we write: freed by the writer */
    char id[37];                /* for the log, as upstream's stream id */
    struct loop_timer heartbeat;
};

struct events {
    struct master *m;
    struct esub *head, *tail;
    size_t n;
    size_t max;                 /* --max_operator_event_stream_subscribers */
    uint64_t heartbeat_ms;
    struct buf heartbeat[2];    /* the HEARTBEAT record: [0] protobuf, [1] JSON */
};

/* ==== Subscribers ======================================================= */

static void sub_free(struct esub *s)
{
    struct events *ev = s->ev;
    if (s->prev) s->prev->next = s->next; else ev->head = s->next;
    if (s->next) s->next->prev = s->prev; else ev->tail = s->prev;
    ev->n--;
    loop_timer_stop(ev->m->loop, &s->heartbeat);
    LOG("Removed subscriber %s from the list of active subscribers", s->id);
    free(s);
}

static void sub_closed(struct request *r, void *arg)
{
    (void)r;
    struct esub *s = arg;
    if (s->writing) s->closed = 1;
    else sub_free(s);
}

/* Frame an encoded event as one RecordIO record. */
static void frame(struct buf *rec, const void *p, size_t n)
{
    buf_printf(rec, "%zu\n", n);
    buf_append(rec, p, n);
}

/* Write one framed record. Returns 0, or -1 when the subscriber is gone
 * (too slow, or its peer left): it has been freed then. */
static int sub_write(struct esub *s, const struct buf *rec)
{
    s->writing = 1;
    int rc = server_stream_write(s->r, rec->data, rec->len);
    s->writing = 0;
    if (rc < 0 || s->closed) {
        if (rc < 0) LOG_WARN("Operator event stream %s closed: reader gone or too slow", s->id);
        sub_free(s);
        return -1;
    }
    return 0;
}

static void heartbeat_cb(struct loop *l, struct loop_timer *t)
{
    struct esub *s = container_of(t, struct esub, heartbeat);
    struct events *ev = s->ev;
    if (sub_write(s, &ev->heartbeat[s->json]) == 0) loop_timer_start(l, t, ev->heartbeat_ms);
}

/* Send an Event (protobuf bytes) to every subscriber: each encoding is
 * built once, and only when some subscriber wants it. */
static void broadcast(struct master *m, const struct buf *pb)
{
    struct events *ev = m->events;
    struct buf rec[2] = { {0}, {0} };
    int built[2] = {0, 0};      /* 1 built, -1 failed */
    for (struct esub *s = ev->head, *next; s; s = next) {
        next = s->next;
        int j = s->json;
        if (!built[j]) {
            built[j] = 1;
            if (!j) frame(&rec[0], pb->data, pb->len);
            else {
                struct buf js = {0};
                if (pbjson_to_json(PBD_M_mesos_v1_master_Event, pb->data, pb->len, &js) < 0) {
                    LOG_ERR("Failed to encode an operator event as JSON");
                    built[j] = -1;
                } else frame(&rec[1], js.data, js.len);
                buf_free(&js);
            }
        }
        if (built[j] > 0) sub_write(s, &rec[j]);
    }
    buf_free(&rec[0]);
    buf_free(&rec[1]);
}

/* Is anybody listening? Events are built only then, as upstream does. */
static int listening(struct master *m)
{
    return m->events && m->events->head;
}

/* ==== SUBSCRIBE ========================================================= */

void op_subscribe(struct api_ctx *c)
{
    struct master *m = c->state;
    struct events *ev = m->events;
    struct request *r = c->r;
    int json = c->json;
    server_stream_begin(r, NULL, json ? CT_JSON : CT_PROTO);
    api_done(c);

    /* SUBSCRIBED {get_state, heartbeat_interval_seconds}, then one HEARTBEAT.
     * Nothing else runs on the loop between this snapshot and the
     * registration below. */
    struct buf pb = {0}, rec = {0};
    pbw_put_uint(&pb, 1, EV_SUBSCRIBED);
    size_t k = pbw_begin(&pb, 2);
    size_t gs = pbw_begin(&pb, 1);
    master_encode_state(m, &pb);
    pbw_end(&pb, gs);
    pbw_put_double(&pb, 2, (double)ev->heartbeat_ms / 1000.0);
    pbw_end(&pb, k);
    int enc = 0;
    if (json) {
        struct buf js = {0};
        enc = pbjson_to_json(PBD_M_mesos_v1_master_Event, pb.data, pb.len, &js);
        if (enc == 0) frame(&rec, js.data, js.len);
        buf_free(&js);
    } else frame(&rec, pb.data, pb.len);
    buf_free(&pb);
    if (enc < 0) {
        LOG_ERR("Failed to encode the state for an operator event stream as JSON");
        buf_free(&rec);
        server_stream_end(r);
        return;
    }
    /* A failed write means the server closed the connection: the peer left,
     * or the state does not fit --max_stream_buffer_size. */
    int rc = server_stream_write(r, rec.data, rec.len);
    buf_free(&rec);
    if (rc == 0) rc = server_stream_write(r, ev->heartbeat[json].data, ev->heartbeat[json].len);
    if (rc < 0) {
        LOG_WARN("Operator event stream closed while sending the state");
        return;
    }

    /* A full set loses its oldest stream, as upstream's bounded map does. */
    while (ev->head && ev->n >= ev->max) {
        struct esub *old = ev->head;
        LOG("Reached the maximum number of operator event stream subscribers (%zu) so the oldest "
            "connection (%s) will be closed", ev->max, old->id);
        struct request *or = old->r;
        or->on_close = NULL;
        sub_free(old);
        server_stream_end(or);
    }
    struct esub *s = xcalloc(1, sizeof *s);
    s->ev = ev;
    s->r = r;
    s->json = json;
    uuid_text(s->id);
    s->prev = ev->tail;
    if (ev->tail) ev->tail->next = s; else ev->head = s;
    ev->tail = s;
    ev->n++;
    r->on_close = sub_closed;
    r->on_close_arg = s;
    loop_timer_init(&s->heartbeat, heartbeat_cb);
    loop_timer_start(m->loop, &s->heartbeat, ev->heartbeat_ms);
    LOG("Added subscriber %s to the list of active subscribers", s->id);
}

size_t events_subscribers(struct master *m)
{
    return m->events ? m->events->n : 0;
}

/* ==== Tasks ============================================================= */

/* A Task as field `tag`: the master's bytes with state and statuses, the
 * statuses without their data (upstream clears it, MESOS-1746). */
static void put_task(struct buf *pb, uint32_t tag, const struct mtask *t)
{
    size_t k = pbw_begin(pb, tag);
    buf_append(pb, t->base.data, t->base.len);
    pbw_put_uint(pb, 6, (uint64_t)t->state);
    struct pbw_reader r;
    struct pbw_field f;
    pbw_reader_init(&r, t->statuses.data, t->statuses.len);
    while (pbw_next(&r, &f) == 1) {
        if (f.tag != 8 || f.wt != PBW_LEN) continue;
        size_t sk = pbw_begin(pb, 8);
        pbw_copy_except(pb, f.p, f.n, 3);
        pbw_end(pb, sk);
    }
    pbw_end(pb, k);
}

/* Framework::addTask in upstream: on launch, and for tasks the master learns
 * from an agent's (re-)registration. */
void events_task_added(struct master *m, const struct mtask *t)
{
    if (!listening(m)) return;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, EV_TASK_ADDED);
    size_t k = pbw_begin(&pb, 3);
    put_task(&pb, 1, t);
    pbw_end(&pb, k);
    broadcast(m, &pb);
    buf_free(&pb);
}

/* The state of the last status the task holds, or -1. */
static int last_status_state(const struct mtask *t)
{
    struct pbw_reader r;
    struct pbw_field f, s;
    int state = -1;
    pbw_reader_init(&r, t->statuses.data, t->statuses.len);
    while (pbw_next(&r, &f) == 1)
        if (f.tag == 8 && f.wt == PBW_LEN) state = pbw_find(f.p, f.n, 2, &s) == 1 ? (int)s.v : -1;
    return state;
}

/* Master::updateTask: sent when the status's state differs from the state of
 * the last status the task holds (a re-sent state is not news), and always
 * for check and health-check updates. */
void events_task_updated(struct master *m, const struct mtask *t, const uint8_t *status, size_t n, int state)
{
    if (!listening(m)) return;
    struct pbw_field f;
    int st = pbw_find(status, n, 2, &f) == 1 ? (int)f.v : -1;
    int reason = pbw_find(status, n, 10, &f) == 1 ? (int)f.v : -1;
    if (st == last_status_state(t) && reason != REASON_TASK_CHECK_STATUS_UPDATED &&
        reason != REASON_TASK_HEALTH_CHECK_STATUS_UPDATED)
        return;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, EV_TASK_UPDATED);
    size_t k = pbw_begin(&pb, 4);
    pbw_put_id(&pb, 1, t->framework_id);
    pbw_put_bytes(&pb, 2, status, n);
    pbw_put_uint(&pb, 3, (uint64_t)state);
    pbw_end(&pb, k);
    broadcast(m, &pb);
    buf_free(&pb);
}

void events_master_status(struct buf *st, const struct mtask *t, const char *agent_id, int state, int reason,
                          const char *message, double unreachable_time)
{
    struct pbw_field ex;
    pbw_put_id(st, 1, t->task_id);
    pbw_put_uint(st, 2, (uint64_t)state);
    if (message) pbw_put_str(st, 4, message);
    pbw_put_uint(st, 9, 0);                              /* SOURCE_MASTER */
    if (reason >= 0) pbw_put_uint(st, 10, (uint64_t)reason);
    if (agent_id && agent_id[0]) pbw_put_id(st, 5, agent_id);
    if (pbw_find(t->base.data, t->base.len, 4, &ex) == 1 && ex.wt == PBW_LEN)
        pbw_put_bytes(st, 7, ex.p, ex.n);                /* executor_id */
    pbw_put_double(st, 6, now_secs());
    if (unreachable_time > 0) pbw_put_time(st, 14, unreachable_time);
}

/* ==== Agents ============================================================ */

/* Master::addSlave: a first registration, or a re-registration of an agent
 * the master did not hold as registered (unreachable, or before a master
 * restart). The Agent is GET_AGENTS' own. */
void events_agent_added(struct master *m, struct agent *a)
{
    if (!listening(m)) return;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, EV_AGENT_ADDED);
    size_t k = pbw_begin(&pb, 5);
    agents_encode_agent(m, a, &pb);                      /* AgentAdded.agent = 1 */
    pbw_end(&pb, k);
    broadcast(m, &pb);
    buf_free(&pb);
}

/* Master::_removeSlave: an agent removed outright (it unregistered, its
 * machine went DOWN). Not for an unreachable or gone agent: upstream's
 * __removeSlave sends only the tasks' TASK_UPDATED events then. */
void events_agent_removed(struct master *m, const char *agent_id)
{
    if (!listening(m)) return;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, EV_AGENT_REMOVED);
    size_t k = pbw_begin(&pb, 6);
    pbw_put_id(&pb, 1, agent_id);
    pbw_end(&pb, k);
    broadcast(m, &pb);
    buf_free(&pb);
}

/* ==== Frameworks ======================================================== */

/* GetFrameworks.Framework as upstream's events carry it: info, active,
 * connected, recovered and the three times (always present, 0 when never);
 * no offers and no resources. */
static void put_framework(struct buf *pb, const struct framework *f)
{
    size_t k = pbw_begin(pb, 1);
    pbw_put_bytes(pb, 1, f->info.data, f->info.len);
    pbw_put_uint(pb, 2, f->stream != NULL);              /* active */
    pbw_put_uint(pb, 3, f->stream != NULL);              /* connected */
    pbw_put_time(pb, 4, f->registered_time);
    pbw_put_time(pb, 5, f->reregistered_time);
    pbw_put_time(pb, 6, f->unregistered_time);
    pbw_put_uint(pb, 11, 0);                             /* recovered */
    pbw_end(pb, k);
}

static void framework_event(struct master *m, int type, const struct framework *f)
{
    if (!listening(m)) return;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, (uint64_t)type);
    size_t k = pbw_begin(&pb, (uint32_t)type + 1);
    if (type == EV_FRAMEWORK_REMOVED) pbw_put_bytes(&pb, 1, f->info.data, f->info.len);
    else put_framework(&pb, f);
    pbw_end(&pb, k);
    broadcast(m, &pb);
    buf_free(&pb);
}

/* A new framework subscribed (Master::subscribe, after SUBSCRIBED went out). */
void events_framework_added(struct master *m, const struct framework *f)
{
    framework_event(m, EV_FRAMEWORK_ADDED, f);
}

/* Master::sendFrameworkUpdates: a known framework re-subscribed (reconnect
 * or failover), or UPDATE_FRAMEWORK changed its FrameworkInfo. A disconnect
 * is no event. */
void events_framework_updated(struct master *m, const struct framework *f)
{
    framework_event(m, EV_FRAMEWORK_UPDATED, f);
}

/* Master::removeFramework, after its tasks' TASK_UPDATED (TASK_KILLED). */
void events_framework_removed(struct master *m, const struct framework *f)
{
    framework_event(m, EV_FRAMEWORK_REMOVED, f);
}

/* ==== Set-up ============================================================ */

void events_init(struct master *m)
{
    struct events *ev = xcalloc(1, sizeof *ev);
    ev->m = m;
    ev->heartbeat_ms = DEFAULT_HEARTBEAT_MS;
    struct flag *f = flags_find(m->flags, m->nflags, "operator_event_heartbeat_interval");
    if (f && f->present && f->i > 0) ev->heartbeat_ms = (uint64_t)f->i / 1000000 ? (uint64_t)f->i / 1000000 : 1;
    f = flags_find(m->flags, m->nflags, "max_operator_event_stream_subscribers");
    ev->max = f && f->present && f->i > 0 ? (size_t)f->i : 1;
    static const uint8_t hb[] = { 0x08, EV_HEARTBEAT };
    struct buf js = {0};
    frame(&ev->heartbeat[0], hb, sizeof hb);
    if (pbjson_to_json(PBD_M_mesos_v1_master_Event, hb, sizeof hb, &js) == 0) frame(&ev->heartbeat[1], js.data, js.len);
    buf_free(&js);
    m->events = ev;
}

void events_free(struct master *m)
{
    struct events *ev = m->events;
    if (!ev) return;
    m->events = NULL;
    while (ev->head) {
        struct esub *s = ev->head;
        s->r->on_close = NULL;
        ev->head = s->next;
        loop_timer_stop(m->loop, &s->heartbeat);
        free(s);
    }
    buf_free(&ev->heartbeat[0]);
    buf_free(&ev->heartbeat[1]);
    free(ev);
}
