/* allocator.h -- offers, filters and the allocator (allocator.c).
 *
 * The scheduler API (scheduler.c) owns the events frameworks see; the
 * allocator decides what is offered to whom. Offers live on the master's
 * list (m->offers) and on their agent's list; the allocator creates them,
 * scheduler.c removes them (accept, decline, rescind) through
 * sched_remove_offer, which unlinks them with alloc_offer_unlink.
 *
 * Quantities: the allocator counts scalar resources in fixed point
 * (thousandths, as struct resources does) in vectors of ALLOC_DIMS names:
 * cpus, mem, disk and gpus first, then other scalar names as they appear
 * (agents' resources, quota configurations). Names past ALLOC_DIMS are
 * offered but neither shared nor limited (logged once). */
#ifndef ALLOCATOR_H
#define ALLOCATOR_H
#include <stdint.h>
#include "buf.h"
#include "resources.h"

struct master;
struct framework;
struct agent;

#define ALLOC_DIMS 16

struct avec { int64_t v[ALLOC_DIMS]; };

struct offer {
    struct offer *next;          /* m->offers */
    struct offer **pprev;        /* the pointer that points at this one */
    struct offer *anext;         /* the agent's offers */
    uint64_t made_ms;            /* for --offer_timeout */
    char id[160];
    struct framework *f;
    struct agent *a;
    char role[256];              /* the role the resources are allocated to */
    struct resources res;        /* allocated to `role` */
    struct avec vec, reserved;   /* its scalars; the reserved part of them */
};

/* A refuse filter: no offers of the agent to the framework in the role
 * (or, `inverse`, no inverse offers for the agent) until then. */
struct decline {
    struct decline *next;
    char agent_id[96];
    char role[256];
    int inverse;
    uint64_t until_ms;
};

/* One of a framework's roles (FrameworkInfo.roles, or the legacy role). */
struct fw_role {
    char name[256];
    int suppressed;              /* SUPPRESS / suppressed_roles */
    struct avec alloc;           /* tasks and offers in this role, this cycle */
    uint64_t count;              /* offers made to it, ever (DRF ties) */
};

void alloc_init(struct master *m);
void alloc_free(struct master *m);

/* An offer the allocator made, linked on both lists; and unlinked (the
 * caller frees it). */
void alloc_offer_unlink(struct master *m, struct offer *o);
/* The agent is gone: the allocator forgets what it cached about it. */
void alloc_agent_removed(struct master *m, struct agent *a);
/* The agent's outstanding offers, first one (o->anext for the rest). */
struct offer *alloc_agent_offers(struct master *m, struct agent *a);

/* DECLINE (or the unused part of ACCEPT) with filters.refuse_seconds, for
 * the offer's role; inverse offer answers filter inverse offers. */
void alloc_decline(struct framework *f, const char *agent_id, const char *role, double secs);
void alloc_decline_inverse(struct framework *f, const char *agent_id, double secs);
/* REVIVE: the roles (all when roles is NULL) are unsuppressed and their
 * filters cleared. */
void alloc_revive(struct framework *f, const char *const *roles, size_t n);
/* The agent's unavailability changed: frameworks must reassess, so their
 * inverse offer filters for it go (upstream updateUnavailability). */
void alloc_clear_inverse_filters(struct master *m, const char *agent_id);
/* The framework is gone: its filters are freed. */
void alloc_framework_removed(struct framework *f);

/* One allocation cycle now (benchmarks), and how long the last one took. */
void alloc_run(struct master *m);
double alloc_last_run_ms(struct master *m);

/* Metrics allocator/mesos/... as (name, value) pairs. */
void alloc_metrics(struct master *m, void (*put)(void *arg, const char *name, double v), void *arg);

/* ==== Roles (GET_ROLES, quota checks) ==================================== */

/* A snapshot of every known role: upstream's knownRoles() with what each
 * role subtree holds. Sorted by name. */
struct role_info {
    char *name;
    double weight;
    struct avec allocated, offered;        /* the role and its descendants */
    struct avec reserved;                  /* reservations to the subtree (agents' totals) */
    struct avec unallocated_reserved;      /* of those, neither used nor offered */
    struct framework **frameworks;         /* subscribed to exactly this role */
    size_t nframeworks;
};
struct role_snapshot {
    struct role_info *v;
    size_t n;
    struct avec total;                     /* the cluster's non-revocable scalars */
};
void alloc_roles(struct master *m, struct role_snapshot *out);
void alloc_roles_free(struct role_snapshot *s);
struct role_info *alloc_role_find(struct role_snapshot *s, const char *name);
/* The name of dimension i ("" past the last one in use), and the index of
 * a name (added when new; -1 when the table is full). */
const char *alloc_dim_name(struct master *m, int i);
int alloc_dim(struct master *m, const char *name);
/* Quota consumption of a role: allocated and offered plus unallocated
 * reservations (upstream consumedQuota() with offers, for limits). */
void alloc_consumed(const struct role_info *r, struct avec *out);

/* scheduler.c: the OFFERS event for a new offer on the framework's stream;
 * an offer taken back (RESCIND to the framework when rescind is set). */
void sched_send_offer(struct master *m, struct offer *o);
void sched_remove_offer(struct master *m, struct offer *o, int rescind);
/* The framework's role entry for `role`, or NULL. */
struct fw_role *sched_framework_role(struct framework *f, const char *role);

#endif
