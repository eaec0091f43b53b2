/* maintenance.c -- maintenance schedules, machine modes and inverse offers:
 * the operator calls GET_/UPDATE_MAINTENANCE_SCHEDULE, GET_MAINTENANCE_STATUS,
 * START_/STOP_MAINTENANCE, and the inverse offers frameworks get for agents
 * on machines about to go down (upstream src/master/maintenance.cpp and the
 * maintenance parts of master.cpp and http.cpp; texts as theirs).
 *
 * A machine enters the schedule DRAINING; START_MAINTENANCE takes it DOWN
 * (its agents are told to shut down and removed, and may not register while
 * it is DOWN); STOP_MAINTENANCE brings it UP again and out of the schedule.
 * State changes go through the maint_set_* / maint_machine_* functions only,
 * so the registry can persist each one where it happens. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "allocator.h"
#include "json.h"
#include "log.h"
#include "maintenance.h"
#include "master.h"
#include "mesos/v1/master/master.pb.h"
#include "pbw.h"
#include "persist.h"
#include "registry.h"
#include "util.h"

enum { MODE_UP = 1, MODE_DRAINING = 2, MODE_DOWN = 3 };

/* ==== Machine ids ======================================================= */

struct mid {
    char hostname[256], ip[64];
    int has_hostname, has_ip;
};

static void mid_read(const uint8_t *p, size_t n, struct mid *id)
{
    struct pbw_field f;
    memset(id, 0, sizeof *id);
    if (pbw_find(p, n, 1, &f) == 1 && f.wt == PBW_LEN) {
        id->has_hostname = 1;
        snprintf(id->hostname, sizeof id->hostname, "%.*s", (int)f.n, (const char *)f.p);
    }
    if (pbw_find(p, n, 2, &f) == 1 && f.wt == PBW_LEN) {
        id->has_ip = 1;
        snprintf(id->ip, sizeof id->ip, "%.*s", (int)f.n, (const char *)f.p);
    }
}

/* Upstream's MachineID equality: same fields present, hostnames equal
 * ignoring case, IPs equal. */
static int mid_equal(const struct mid *a, const char *hostname, int hh, const char *ip, int hi)
{
    return a->has_hostname == hh && strcasecmp(a->hostname, hostname) == 0 && a->has_ip == hi && strcmp(a->ip, ip) == 0;
}

static int machine_is(const struct machine *mc, const struct mid *id)
{
    return mid_equal(id, mc->hostname, mc->has_hostname, mc->ip, mc->has_ip);
}

/* stringify(JSON::protobuf(id)): {"hostname":"h","ip":"1.2.3.4"}. */
static void mid_json(const struct mid *id, char *out, size_t n)
{
    struct buf b = {0};
    buf_putc(&b, '{');
    if (id->has_hostname) {
        buf_puts(&b, "\"hostname\":");
        json_write_string(&b, id->hostname, strlen(id->hostname));
    }
    if (id->has_ip) {
        buf_puts(&b, id->has_hostname ? ",\"ip\":" : "\"ip\":");
        json_write_string(&b, id->ip, strlen(id->ip));
    }
    buf_putc(&b, '}');
    snprintf(out, n, "%.*s", (int)b.len, b.data);
    buf_free(&b);
}

static void put_mid(struct buf *b, uint32_t tag, const struct machine *mc)
{
    size_t k = pbw_begin(b, tag);
    if (mc->has_hostname) pbw_put_str(b, 1, mc->hostname);
    if (mc->has_ip) pbw_put_str(b, 2, mc->ip);
    pbw_end(b, k);
}

/* upstream validation::machine: 0, or -1 with the reason. */
static int mid_validate(const struct mid *id, char *err, size_t n)
{
    if (!id->hostname[0] && !id->ip[0]) {
        snprintf(err, n, "Both 'hostname' and 'ip' for a machine are empty");
        return -1;
    }
    struct in_addr a;
    if (id->ip[0] && inet_pton(AF_INET, id->ip, &a) != 1) {
        snprintf(err, n, "Failed to parse IPv4: %s", id->ip);
        return -1;
    }
    return 0;
}

/* The agent's machine id: its hostname and the IP of its pid. */
static void agent_mid(struct agent *a, struct mid *id)
{
    struct pbw_field h;
    memset(id, 0, sizeof *id);
    id->has_hostname = id->has_ip = 1;
    if (pbw_find(a->info.data, a->info.len, 1, &h) == 1 && h.wt == PBW_LEN)
        snprintf(id->hostname, sizeof id->hostname, "%.*s", (int)h.n, (const char *)h.p);
    snprintf(id->ip, sizeof id->ip, "%.63s", a->pid.host);
}

static struct machine *find_machine(struct master *m, const struct mid *id)
{
    for (struct machine *mc = m->machines; mc; mc = mc->next)
        if (machine_is(mc, id)) return mc;
    return NULL;
}

static int on_machine(struct agent *a, const struct machine *mc)
{
    struct mid id;
    agent_mid(a, &id);
    return machine_is(mc, &id);
}

struct machine *maint_agent_machine(struct master *m, struct agent *a)
{
    if (!m->machines) return NULL;
    struct mid id;
    agent_mid(a, &id);
    struct machine *mc = find_machine(m, &id);
    return mc && mc->mode == MODE_DRAINING && mc->unavailability.len ? mc : NULL;
}

int maint_machine_is_down(struct master *m, const char *hostname, size_t hn, const char *ip)
{
    char h[256];
    snprintf(h, sizeof h, "%.*s", (int)(hn < 255 ? hn : 255), hostname);
    for (struct machine *mc = m->machines; mc; mc = mc->next)
        if (mc->mode == MODE_DOWN && mc->has_hostname && mc->has_ip && strcasecmp(mc->hostname, h) == 0 &&
            strcmp(mc->ip, ip) == 0)
            return 1;
    return 0;
}

int maint_agent_scheduled(struct master *m, struct agent *a, char *out, size_t n)
{
    struct mid me, id;
    agent_mid(a, &me);
    struct pbw_reader wr, ir;
    struct pbw_field w, x;
    pbw_reader_init(&wr, m->schedule.data, m->schedule.len);
    while (pbw_next(&wr, &w) == 1) {
        if (w.tag != 1 || w.wt != PBW_LEN) continue;
        pbw_reader_init(&ir, w.p, w.n);
        while (pbw_next(&ir, &x) == 1) {
            if (x.tag != 1 || x.wt != PBW_LEN) continue;
            mid_read(x.p, x.n, &id);
            if (!mid_equal(&id, me.hostname, 1, me.ip, 1)) continue;
            snprintf(out, n, "%s (%s)", id.hostname, id.ip);   /* operator<<(MachineID) */
            return 1;
        }
    }
    return 0;
}

/* ==== Inverse offers ==================================================== */

static void io_rescind(struct master *m, struct inverse_offer *io, int rescind)
{
    struct inverse_offer **pp = &m->inverse_offers;
    while (*pp && *pp != io) pp = &(*pp)->next;
    if (!*pp) return;
    *pp = io->next;
    if (rescind) {
        struct buf ev = {0};
        pbw_put_uint(&ev, 1, 10);                        /* RESCIND_INVERSE_OFFER */
        size_t k = pbw_begin(&ev, 10);
        pbw_put_id(&ev, 1, io->id);
        pbw_end(&ev, k);
        sched_send_event(io->f, &ev);
        buf_free(&ev);
    }
    free(io);
}

int maint_inverse_outstanding(struct master *m, struct framework *f, struct agent *a)
{
    for (struct inverse_offer *io = m->inverse_offers; io; io = io->next)
        if (io->f == f && io->a == a) return 1;
    return 0;
}

void maint_send_inverse_offer(struct master *m, struct framework *f, struct agent *a)
{
    struct machine *mc = maint_agent_machine(m, a);
    if (!mc) return;
    struct inverse_offer *io = xcalloc(1, sizeof *io);
    snprintf(io->id, sizeof io->id, "%s-O%llu", m->id, (unsigned long long)m->next_offer++);
    io->f = f;
    io->a = a;
    io->made_ms = loop_clock_ms();
    io->next = m->inverse_offers;
    m->inverse_offers = io;

    struct buf ev = {0};
    pbw_put_uint(&ev, 1, 9);                             /* INVERSE_OFFERS */
    size_t k = pbw_begin(&ev, 9);
    size_t o = pbw_begin(&ev, 1);
    pbw_put_id(&ev, 1, io->id);
    size_t u = pbw_begin(&ev, 2);                        /* url */
    pbw_put_str(&ev, 1, "http");
    size_t ad = pbw_begin(&ev, 2);
    struct pbw_field hn;
    if (pbw_find(a->info.data, a->info.len, 1, &hn) == 1) pbw_put_bytes(&ev, 1, hn.p, hn.n);
    pbw_put_str(&ev, 2, a->pid.host);
    pbw_put_int32(&ev, 3, a->pid.port);
    pbw_end(&ev, ad);
    pbw_put_str(&ev, 3, "/slave(1)");
    pbw_end(&ev, u);
    pbw_put_id(&ev, 3, f->id);
    pbw_put_id(&ev, 4, a->id);
    pbw_put_bytes(&ev, 5, mc->unavailability.data, mc->unavailability.len);
    pbw_end(&ev, o);
    pbw_end(&ev, k);
    LOG("Sending inverse offer %s for agent %s to framework %s", io->id, a->id, f->id);
    sched_send_event(f, &ev);
    buf_free(&ev);
}

void maint_inverse_timeout(struct master *m, uint64_t limit_ms, uint64_t now_ms)
{
    for (struct inverse_offer *io = m->inverse_offers, *next; io; io = next) {
        next = io->next;
        if (now_ms - io->made_ms >= limit_ms) io_rescind(m, io, 1);
    }
}

static struct io_status *find_status(struct master *m, const char *agent_id, const char *fw)
{
    for (struct io_status *s = m->io_statuses; s; s = s->next)
        if (strcmp(s->agent_id, agent_id) == 0 && strcmp(s->framework_id, fw) == 0) return s;
    return NULL;
}

void maint_inverse_answer(struct master *m, struct framework *f, const uint8_t *p, size_t n, int accept)
{
    double refuse = 5;
    struct pbw_field fl, rs, x, v;
    if (pbw_find(p, n, 2, &fl) == 1 && pbw_find(fl.p, fl.n, 1, &rs) == 1 && rs.wt == PBW_I64) memcpy(&refuse, &rs.v, 8);
    if (refuse < 0) refuse = 5;
    struct pbw_reader r;
    int any = 0;
    pbw_reader_init(&r, p, n);
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 1 || x.wt != PBW_LEN || pbw_find(x.p, x.n, 1, &v) != 1) continue;
        any = 1;
        struct inverse_offer *io = m->inverse_offers;
        while (io && !(strlen(io->id) == v.n && memcmp(io->id, v.p, v.n) == 0)) io = io->next;
        if (!io || io->f != f) {
            LOG_WARN("Ignoring %s of inverse offer %.*s since it is no longer valid", accept ? "accept" : "decline",
                     (int)v.n, (const char *)v.p);
            continue;
        }
        /* The answer is the machine's status for this framework (shown by
         * GET_MAINTENANCE_STATUS), and filters inverse offers for a while. */
        struct io_status *s = find_status(m, io->a->id, f->id);
        if (!s) {
            s = xcalloc(1, sizeof *s);
            snprintf(s->agent_id, sizeof s->agent_id, "%s", io->a->id);
            snprintf(s->framework_id, sizeof s->framework_id, "%s", f->id);
            s->next = m->io_statuses;
            m->io_statuses = s;
        }
        s->status = accept ? 2 : 3;
        s->time = now_secs();
        alloc_decline_inverse(f, io->a->id, refuse);
        LOG("Framework %s %s inverse offer %s for agent %s", f->id, accept ? "accepted" : "declined", io->id, io->a->id);
        io_rescind(m, io, 0);
    }
    if (!any) LOG_WARN("%s call of framework %s: No inverse offers specified",
                       accept ? "ACCEPT_INVERSE_OFFERS" : "DECLINE_INVERSE_OFFERS", f->id);
}

static void forget_statuses(struct master *m, const char *agent_id, const char *fw)
{
    for (struct io_status **pp = &m->io_statuses; *pp;) {
        struct io_status *s = *pp;
        if ((!agent_id || strcmp(s->agent_id, agent_id) == 0) && (!fw || strcmp(s->framework_id, fw) == 0)) {
            *pp = s->next;
            free(s);
        } else {
            pp = &s->next;
        }
    }
}

void maint_agent_removed(struct master *m, struct agent *a)
{
    for (struct inverse_offer *io = m->inverse_offers, *next; io; io = next) {
        next = io->next;
        if (io->a == a) io_rescind(m, io, 1);
    }
    forget_statuses(m, a->id, NULL);
}

void maint_framework_removed(struct master *m, struct framework *f, int rescind)
{
    for (struct inverse_offer *io = m->inverse_offers, *next; io; io = next) {
        next = io->next;
        if (io->f == f) io_rescind(m, io, rescind);
    }
}

/* The machine's unavailability changed (or went): the offers and inverse
 * offers of its agents are taken back and their answers forgotten, so
 * frameworks hear about the new window (upstream updateUnavailability). */
static void set_unavailability(struct master *m, struct machine *mc, const uint8_t *u, size_t n)
{
    buf_reset(&mc->unavailability);
    if (u) buf_append(&mc->unavailability, u, n);
    for (struct agent *a = m->agents; a; a = a->next) {
        if (!on_machine(a, mc)) continue;
        while (alloc_agent_offers(m, a)) sched_remove_offer(m, alloc_agent_offers(m, a), 1);
        for (struct inverse_offer *io = m->inverse_offers, *next; io; io = next) {
            next = io->next;
            if (io->a == a) io_rescind(m, io, 1);
        }
        forget_statuses(m, a->id, NULL);
        alloc_clear_inverse_filters(m, a->id);
    }
    sched_trigger(m);
}

static void machine_free(struct machine *mc)
{
    buf_free(&mc->unavailability);
    free(mc);
}

void maint_free(struct master *m)
{
    while (m->inverse_offers) io_rescind(m, m->inverse_offers, 0);
    forget_statuses(m, NULL, NULL);
    while (m->machines) {
        struct machine *mc = m->machines;
        m->machines = mc->next;
        machine_free(mc);
    }
    buf_free(&m->schedule);
}

/* ==== State changes ===================================================== */

/* Calls fn for every (machine id, unavailability) of a Schedule. */
static void each_machine(const uint8_t *s, size_t n, void (*fn)(void *arg, const uint8_t *id, size_t idn,
                                                                  const uint8_t *u, size_t un), void *arg)
{
    struct pbw_reader wr, ir;
    struct pbw_field w, x, u;
    pbw_reader_init(&wr, s, n);
    while (pbw_next(&wr, &w) == 1) {
        if (w.tag != 1 || w.wt != PBW_LEN) continue;
        int hu = pbw_find(w.p, w.n, 2, &u) == 1;
        pbw_reader_init(&ir, w.p, w.n);
        while (pbw_next(&ir, &x) == 1)
            if (x.tag == 1 && x.wt == PBW_LEN) fn(arg, x.p, x.n, hu ? u.p : NULL, hu ? u.n : 0);
    }
}

struct sched_ctx { struct master *m; const struct machine *mc; int found; const uint8_t *u; size_t un; };

static void find_in(void *arg, const uint8_t *id, size_t idn, const uint8_t *u, size_t un)
{
    struct sched_ctx *c = arg;
    struct mid x;
    mid_read(id, idn, &x);
    if (!c->found && machine_is(c->mc, &x)) {
        c->found = 1;
        c->u = u;
        c->un = un;
    }
}

static void add_new(void *arg, const uint8_t *id, size_t idn, const uint8_t *u, size_t un)
{
    struct sched_ctx *c = arg;
    struct mid x;
    mid_read(id, idn, &x);
    if (find_machine(c->m, &x)) return;
    struct machine *mc = xcalloc(1, sizeof *mc);
    snprintf(mc->hostname, sizeof mc->hostname, "%s", x.hostname);
    snprintf(mc->ip, sizeof mc->ip, "%s", x.ip);
    mc->has_hostname = x.has_hostname;
    mc->has_ip = x.has_ip;
    mc->mode = MODE_DRAINING;
    mc->next = c->m->machines;
    c->m->machines = mc;
    LOG("Machine %s%s%s is DRAINING", mc->hostname, mc->has_ip ? " " : "", mc->ip);
    set_unavailability(c->m, mc, u, un);
}

void maint_set_schedule(struct master *m, const uint8_t *s, size_t n)
{
    /* Machines already known: a new unavailability, or UP when dropped. */
    for (struct machine **pp = &m->machines; *pp;) {
        struct machine *mc = *pp;
        struct sched_ctx c = { m, mc, 0, NULL, 0 };
        each_machine(s, n, find_in, &c);
        if (c.found) {
            set_unavailability(m, mc, c.u, c.un);
            pp = &mc->next;
            continue;
        }
        LOG("Machine %s%s%s is UP (removed from the schedule)", mc->hostname, mc->has_ip ? " " : "", mc->ip);
        set_unavailability(m, mc, NULL, 0);
        *pp = mc->next;
        machine_free(mc);
    }
    struct sched_ctx c = { m, NULL, 0, NULL, 0 };
    each_machine(s, n, add_new, &c);
    buf_reset(&m->schedule);
    buf_append(&m->schedule, s, n);
}

void maint_machine_down(struct master *m, const uint8_t *id, size_t n)
{
    struct mid x;
    mid_read(id, n, &x);
    struct machine *mc = find_machine(m, &x);
    if (!mc) return;
    /* Every agent on it is told to shut down and removed at once, so its
     * tasks are lost even if the agent misses the message. */
    for (struct agent *a = m->agents, *next; a; a = next) {
        next = a->next;
        if (!on_machine(a, mc)) continue;
        agents_shutdown(m, &a->pid, "Operator initiated 'Machine DOWN'");
        agents_remove(m, a, AGENT_REMOVED_BY_OPERATOR, "Operator initiated 'Machine DOWN'");
    }
    mc->mode = MODE_DOWN;
    LOG("Machine %s%s%s is DOWN", mc->hostname, mc->has_ip ? " " : "", mc->ip);
}

/* The schedule without machine x; windows left empty are dropped. */
static void drop_from(struct buf *sched, const struct mid *x)
{
    struct buf out = {0};
    struct pbw_reader wr, ir;
    struct pbw_field w, f;
    pbw_reader_init(&wr, sched->data, sched->len);
    while (pbw_next(&wr, &w) == 1) {
        if (w.tag != 1 || w.wt != PBW_LEN) { buf_append(&out, w.start, (size_t)(wr.p - w.start)); continue; }
        struct buf win = {0};
        int left = 0;
        pbw_reader_init(&ir, w.p, w.n);
        while (pbw_next(&ir, &f) == 1) {
            if (f.tag == 1 && f.wt == PBW_LEN) {
                struct mid y;
                mid_read(f.p, f.n, &y);
                if (mid_equal(&y, x->hostname, x->has_hostname, x->ip, x->has_ip)) continue;
                left++;
            }
            buf_append(&win, f.start, (size_t)(ir.p - f.start));
        }
        if (left) pbw_put_bytes(&out, 1, win.data, win.len);
        buf_free(&win);
    }
    buf_free(sched);
    *sched = out;
}

static void drop_from_schedule(struct master *m, const struct mid *x) { drop_from(&m->schedule, x); }

void maint_machine_up(struct master *m, const uint8_t *id, size_t n)
{
    struct mid x;
    mid_read(id, n, &x);
    for (struct machine **pp = &m->machines; *pp; pp = &(*pp)->next)
        if (machine_is(*pp, &x)) {
            struct machine *mc = *pp;
            *pp = mc->next;
            LOG("Machine %s%s%s is UP", mc->hostname, mc->has_ip ? " " : "", mc->ip);
            machine_free(mc);
            break;
        }
    drop_from_schedule(m, &x);
}

/* ==== Operator calls ==================================================== */

void op_get_maintenance_schedule(struct api_ctx *c)
{
    struct master *m = c->state;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, mesos_v1_master_Response_Type_GET_MAINTENANCE_SCHEDULE);
    size_t k = pbw_begin(&pb, 18);
    pbw_put_bytes(&pb, 1, m->schedule.data, m->schedule.len);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

void op_get_maintenance_status(struct api_ctx *c)
{
    struct master *m = c->state;
    struct buf pb = {0};
    pbw_put_uint(&pb, 1, mesos_v1_master_Response_Type_GET_MAINTENANCE_STATUS);
    size_t k = pbw_begin(&pb, 17);
    size_t st = pbw_begin(&pb, 1);
    for (struct machine *mc = m->machines; mc; mc = mc->next) {
        if (mc->mode != MODE_DRAINING) continue;
        size_t d = pbw_begin(&pb, 1);
        put_mid(&pb, 1, mc);
        for (struct agent *a = m->agents; a; a = a->next) {
            if (!on_machine(a, mc)) continue;
            for (struct io_status *s = m->io_statuses; s; s = s->next) {
                if (strcmp(s->agent_id, a->id) != 0) continue;
                size_t e = pbw_begin(&pb, 2);
                pbw_put_uint(&pb, 1, (uint64_t)s->status);
                pbw_put_id(&pb, 2, s->framework_id);
                pbw_put_time(&pb, 3, s->time);
                pbw_end(&pb, e);
            }
        }
        pbw_end(&pb, d);
    }
    for (struct machine *mc = m->machines; mc; mc = mc->next)
        if (mc->mode == MODE_DOWN) put_mid(&pb, 2, mc);
    pbw_end(&pb, st);
    pbw_end(&pb, k);
    api_respond(c, &pb);
}

/* ==== Persistence ====================================================== */

/* The bytes a durable change applies: a Schedule, or the machines of a
 * START/STOP_MAINTENANCE call. */
struct maint_change { size_t len; uint8_t v[]; };

static struct maint_change *change_of(const uint8_t *p, size_t n)
{
    struct maint_change *c = xcalloc(1, sizeof *c + n + 1);
    c->len = n;
    if (n) memcpy(c->v, p, n);
    return c;
}

static int schedule_stored(struct master *m, void *data, struct api_ctx *c)
{
    (void)c;
    struct maint_change *ch = data;
    maint_set_schedule(m, ch->v, ch->len);
    return 0;
}

static int machines_stored(struct master *m, void *data, struct api_ctx *c, int down)
{
    (void)c;
    struct maint_change *ch = data;
    struct pbw_reader r;
    struct pbw_field x;
    pbw_reader_init(&r, ch->v, ch->len);
    while (pbw_next(&r, &x) == 1)
        if (x.tag == 1 && x.wt == PBW_LEN) {
            if (down) maint_machine_down(m, x.p, x.n);
            else maint_machine_up(m, x.p, x.n);
        }
    return 0;
}

static int down_stored(struct master *m, void *data, struct api_ctx *c) { return machines_stored(m, data, c, 1); }
static int up_stored(struct master *m, void *data, struct api_ctx *c) { return machines_stored(m, data, c, 0); }

/* The registry keeps the schedule and the MachineInfo {id 1, mode 2} of
 * each DOWN machine; the others are DRAINING while scheduled. */
void maint_recover(struct master *m)
{
    const struct buf *s = registry_schedule(m->registry);
    if (!s) return;
    maint_set_schedule(m, (const uint8_t *)s->data, s->len);
    size_t down = 0;
    for (const struct registry_entry *e = registry_first(m->registry, REGISTRY_MACHINES); e; e = registry_next(e)) {
        struct pbw_field id, mode;
        if (pbw_find(e->val.data, e->val.len, 1, &id) == 1 && id.wt == PBW_LEN &&
            pbw_find(e->val.data, e->val.len, 2, &mode) == 1 && mode.v == MODE_DOWN) {
            maint_machine_down(m, id.p, id.n);
            down++;
        }
    }
    LOG("Recovered the maintenance schedule (%zu machines DOWN) from the registry", down);
}

void op_update_maintenance_schedule(struct api_ctx *c)
{
    struct master *m = c->state;
    struct pbw_field s, w, x, u, d, ns;
    char err[700] = "";
    const uint8_t *sp = (const uint8_t *)"";
    size_t sn = 0;
    if (pbw_find(c->sub, c->sub_len, 1, &s) == 1 && s.wt == PBW_LEN) { sp = s.p; sn = s.n; }
    /* Every window has machines and a non-negative duration; every machine
     * is valid and appears once. */
    struct mid *seen = NULL;
    size_t nseen = 0;
    struct pbw_reader wr, ir;
    pbw_reader_init(&wr, sp, sn);
    while (!err[0] && pbw_next(&wr, &w) == 1) {
        if (w.tag != 1 || w.wt != PBW_LEN) continue;
        int nm = 0;
        pbw_reader_init(&ir, w.p, w.n);
        while (pbw_next(&ir, &x) == 1) nm += x.tag == 1;
        if (!nm) { snprintf(err, sizeof err, "List of machines in the maintenance window is empty"); break; }
        if (pbw_find(w.p, w.n, 2, &u) == 1 && pbw_find(u.p, u.n, 2, &d) == 1 && pbw_find(d.p, d.n, 1, &ns) == 1 &&
            (int64_t)ns.v < 0) {
            snprintf(err, sizeof err, "Unavailability 'duration' is negative");
            break;
        }
        pbw_reader_init(&ir, w.p, w.n);
        while (!err[0] && pbw_next(&ir, &x) == 1) {
            if (x.tag != 1 || x.wt != PBW_LEN) continue;
            struct mid id;
            mid_read(x.p, x.n, &id);
            if (mid_validate(&id, err, sizeof err) < 0) break;
            for (size_t i = 0; i < nseen; i++)
                if (mid_equal(&seen[i], id.hostname, id.has_hostname, id.ip, id.has_ip)) {
                    char js[600];
                    mid_json(&id, js, sizeof js);
                    snprintf(err, sizeof err, "Machine '%s' appears more than once in the schedule", js);
                    break;
                }
            seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
            seen[nseen++] = id;
        }
    }
    /* A machine that is DOWN must stay in the schedule. */
    for (struct machine *mc = m->machines; mc && !err[0]; mc = mc->next) {
        if (mc->mode != MODE_DOWN) continue;
        int kept = 0;
        for (size_t i = 0; i < nseen && !kept; i++) kept = machine_is(mc, &seen[i]);
        if (!kept) {
            struct mid id = { .has_hostname = mc->has_hostname, .has_ip = mc->has_ip };
            snprintf(id.hostname, sizeof id.hostname, "%s", mc->hostname);
            snprintf(id.ip, sizeof id.ip, "%s", mc->ip);
            char js[600];
            mid_json(&id, js, sizeof js);
            snprintf(err, sizeof err, "Machine '%s' is deactivated and cannot be removed from the schedule", js);
        }
    }
    free(seen);
    if (err[0]) {
        api_error(c, 400, "%s", err);
        return;
    }
    /* Stored, then applied and answered once durable. */
    struct maint_change *mc = change_of(sp, sn);
    struct registry_op op = { REGISTRY_UPDATE_SCHEDULE, NULL, sp, sn };
    persist_call(c, &op, 1, schedule_stored, mc);
}

/* upstream validation::machines for START/STOP: 0 or -1 with err. */
static int check_machines(const uint8_t *p, size_t n, char *err, size_t errn)
{
    struct pbw_reader r;
    struct pbw_field x;
    struct mid *seen = NULL;
    size_t nseen = 0;
    int rc = 0;
    pbw_reader_init(&r, p, n);
    while (rc == 0 && pbw_next(&r, &x) == 1) {
        if (x.tag != 1 || x.wt != PBW_LEN) continue;
        struct mid id;
        mid_read(x.p, x.n, &id);
        if (mid_validate(&id, err, errn) < 0) { rc = -1; break; }
        for (size_t i = 0; i < nseen; i++)
            if (mid_equal(&seen[i], id.hostname, id.has_hostname, id.ip, id.has_ip)) {
                char js[600];
                mid_json(&id, js, sizeof js);
                snprintf(err, errn, "Machine '%s' appears more than once in the schedule", js);
                rc = -1;
                break;
            }
        seen = xrealloc(seen, (nseen + 1) * sizeof *seen);
        seen[nseen++] = id;
    }
    if (rc == 0 && !nseen) {
        snprintf(err, errn, "List of machines is empty");
        rc = -1;
    }
    free(seen);
    return rc;
}

static void start_stop(struct api_ctx *c, int down)
{
    struct master *m = c->state;
    char err[700];
    if (check_machines(c->sub, c->sub_len, err, sizeof err) < 0) {
        api_error(c, 400, "%s", err);
        return;
    }
    struct pbw_reader r;
    struct pbw_field x;
    pbw_reader_init(&r, c->sub, c->sub_len);
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 1 || x.wt != PBW_LEN) continue;
        struct mid id;
        mid_read(x.p, x.n, &id);
        char js[600];
        mid_json(&id, js, sizeof js);
        struct machine *mc = find_machine(m, &id);
        if (!mc) {
            api_error(c, 400, "Machine '%s' is not part of a maintenance schedule", js);
            return;
        }
        if (down && mc->mode != MODE_DRAINING) {
            api_error(c, 400, "Machine '%s' is not in DRAINING mode and cannot be brought down", js);
            return;
        }
        if (!down && mc->mode != MODE_DOWN) {
            api_error(c, 400, "Machine '%s' is not in DOWN mode and cannot be brought up", js);
            return;
        }
    }
    /* One record: every machine DOWN (its MachineInfo), or every machine UP
     * (forgotten) with the schedule that no longer has it. */
    size_t n = 0, nagents = 0;
    pbw_reader_init(&r, c->sub, c->sub_len);
    while (pbw_next(&r, &x) == 1) n += x.tag == 1 && x.wt == PBW_LEN;
    if (down)
        for (struct agent *a = m->agents; a; a = a->next) nagents++;
    struct registry_op *ops = xcalloc(n + nagents + 1, sizeof *ops);
    char (*keys)[1024] = xcalloc(n + 1, sizeof *keys);
    struct buf *infos = xcalloc(n + 1, sizeof *infos);
    struct buf sched = {0};
    buf_append(&sched, m->schedule.data, m->schedule.len);
    size_t k = 0, nremove = 0;
    pbw_reader_init(&r, c->sub, c->sub_len);
    while (pbw_next(&r, &x) == 1) {
        if (x.tag != 1 || x.wt != PBW_LEN) continue;
        if (down) {
            pbw_put_bytes(&infos[k], 1, x.p, x.n);
            pbw_put_uint(&infos[k], 2, MODE_DOWN);
            ops[k] = (struct registry_op){ REGISTRY_SET_MACHINE, NULL, infos[k].data, infos[k].len };
            /* Its agents leave the registry in the same record; their
             * removal then finds nothing left to write. */
            struct mid id;
            mid_read(x.p, x.n, &id);
            struct machine *mc = find_machine(m, &id);
            for (struct agent *a = m->agents; a && mc; a = a->next)
                if (!a->removing && on_machine(a, mc)) ops[n + nremove++] = (struct registry_op){ REGISTRY_REMOVE_AGENT, a->id, NULL, 0 };
        } else {
            struct mid id;
            mid_read(x.p, x.n, &id);
            drop_from(&sched, &id);
            registry_machine_key(x.p, x.n, keys[k], sizeof keys[k]);
            ops[k] = (struct registry_op){ REGISTRY_REMOVE_MACHINE, keys[k], NULL, 0 };
        }
        k++;
    }
    if (!down) ops[k++] = (struct registry_op){ REGISTRY_UPDATE_SCHEDULE, NULL, sched.data ? sched.data : "", sched.len };
    for (size_t i = 0; i < nremove; i++) ops[k++] = ops[n + i];
    persist_call(c, ops, k, down ? down_stored : up_stored, change_of(c->sub, c->sub_len));
    for (size_t i = 0; i <= n; i++) buf_free(&infos[i]);
    free(infos);
    free(keys);
    free(ops);
    buf_free(&sched);
}

void op_start_maintenance(struct api_ctx *c) { start_stop(c, 1); }
void op_stop_maintenance(struct api_ctx *c) { start_stop(c, 0); }
