/* maintenance.h -- maintenance schedules, machine modes and inverse offers
 * (maintenance.c), as upstream's src/master/maintenance.cpp and the parts
 * of master.cpp and http.cpp that drive them.
 *
 * An agent's machine is {hostname of its AgentInfo, IP of its pid}; a
 * schedule entry matches it when both fields are present and equal
 * (hostnames case-insensitively), as upstream's MachineID equality. */
#ifndef MAINTENANCE_H
#define MAINTENANCE_H
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

struct master;
struct agent;
struct framework;
struct machine;
struct api_ctx;

/* ==== State changes (one function each; the registry hooks here) ==== */

/* Replace the schedule (validated Schedule bytes): new machines become
 * DRAINING, dropped ones UP; every scheduled machine's unavailability is
 * (re)set, its offers and inverse offers rescinded. */
void maint_set_schedule(struct master *m, const uint8_t *schedule, size_t n);
/* START_MAINTENANCE / STOP_MAINTENANCE for one machine (MachineID bytes). */
void maint_machine_down(struct master *m, const uint8_t *id, size_t n);
void maint_machine_up(struct master *m, const uint8_t *id, size_t n);

/* ==== Queries ==== */

/* The agent's machine when it is scheduled for maintenance (DRAINING with
 * an unavailability), else NULL. */
struct machine *maint_agent_machine(struct master *m, struct agent *a);
/* Is the machine {hostname, ip} DOWN? (registrations are refused) */
int maint_machine_is_down(struct master *m, const char *hostname, size_t hn, const char *ip);
/* An agent's machine in the first window of the schedule? (DRAIN_AGENT);
 * writes its JSON to out. */
int maint_agent_scheduled(struct master *m, struct agent *a, char *out, size_t n);

/* ==== Inverse offers (the allocator makes them; frameworks answer) ==== */

int maint_inverse_outstanding(struct master *m, struct framework *f, struct agent *a);
void maint_send_inverse_offer(struct master *m, struct framework *f, struct agent *a);
/* --offer_timeout for inverse offers. */
void maint_inverse_timeout(struct master *m, uint64_t limit_ms, uint64_t now_ms);
/* ACCEPT_INVERSE_OFFERS / DECLINE_INVERSE_OFFERS sub-message. */
void maint_inverse_answer(struct master *m, struct framework *f, const uint8_t *p, size_t n, int accept);
/* The agent or framework is gone (or disconnected): its inverse offers go,
 * rescinded to the framework when `rescind`. */
void maint_agent_removed(struct master *m, struct agent *a);
void maint_framework_removed(struct master *m, struct framework *f, int rescind);
void maint_free(struct master *m);

/* Operator calls. */
void op_get_maintenance_schedule(struct api_ctx *c);
void op_update_maintenance_schedule(struct api_ctx *c);
void op_get_maintenance_status(struct api_ctx *c);
void op_start_maintenance(struct api_ctx *c);
void op_stop_maintenance(struct api_ctx *c);


#endif
