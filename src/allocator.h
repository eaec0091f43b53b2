/* allocator.h -- offers, decline filters and the allocator (allocator.c).
 *
 * The scheduler API (scheduler.c) owns the events frameworks see; the
 * allocator decides what is offered to whom. Offers live on the master's
 * list (m->offers); the allocator creates them, scheduler.c removes them
 * (accept, decline, rescind) through sched_remove_offer. */
#ifndef ALLOCATOR_H
#define ALLOCATOR_H
#include <stdint.h>
#include "resources.h"

struct master;
struct framework;
struct agent;

struct offer {
    struct offer *next;
    uint64_t made_ms;            /* for --offer_timeout */
    char id[160];
    struct framework *f;
    struct agent *a;
    struct resources res;
};

/* A refuse filter: no offers of the agent to the framework until then. */
struct decline {
    struct decline *next;
    char agent_id[96];
    uint64_t until_ms;
};

void alloc_init(struct master *m);
void alloc_free(struct master *m);
/* DECLINE (or the unused part of ACCEPT) with filters.refuse_seconds. */
void alloc_decline(struct framework *f, const char *agent_id, double secs);
/* REVIVE: the framework's filters are cleared. */
void alloc_revive(struct framework *f);

/* scheduler.c: the OFFERS event for a new offer on the framework's stream;
 * an offer taken back (RESCIND to the framework when rescind is set). */
void sched_send_offer(struct master *m, struct offer *o);
void sched_remove_offer(struct master *m, struct offer *o, int rescind);

#endif
