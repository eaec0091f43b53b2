/* resource_ops.h -- offer operations that change resources: RESERVE,
 * UNRESERVE, CREATE, DESTROY, GROW_VOLUME and SHRINK_VOLUME, as upstream's
 * getResourceConversions (src/common/resources_utils.cpp) turns them into
 * conversions and validation::operation (src/master/validation.cpp) checks
 * them. The master and the agent share this: both apply an operation to an
 * agent's total the same way.
 *
 * An operation is decoded from mesos.v1.Offer.Operation bytes into a
 * struct rop, with its resources validated and upgraded to the
 * post-refinement format (upstream validateAndUpgradeResources). Texts of
 * errors are upstream's. Every function that fails returns -1 and appends
 * the message to err. */
#ifndef RESOURCE_OPS_H
#define RESOURCE_OPS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"
#include "resources.h"

/* Offer.Operation.Type numbers. */
enum { ROP_UNKNOWN = 0, ROP_LAUNCH = 1, ROP_RESERVE = 2, ROP_UNRESERVE = 3, ROP_CREATE = 4,
       ROP_DESTROY = 5, ROP_LAUNCH_GROUP = 6, ROP_GROW_VOLUME = 11, ROP_SHRINK_VOLUME = 12,
       ROP_CREATE_DISK = 13, ROP_DESTROY_DISK = 14 };

struct rop {
    int type;
    char id[256];                /* Offer.Operation.id; empty: none */
    struct resources res;        /* reserve/unreserve resources, create/destroy volumes,
                                    grow/shrink volume (one) */
    struct resources source;     /* reserve.source; grow_volume.addition (one) */
    int64_t subtract;            /* shrink_volume.subtract, thousandths */
    /* Reserve and unreserve work per given resource: the list as given
     * (not merged), for upstream's per-resource checks and conversions. */
    struct resources *each;
    size_t neach;
};

/* "RESERVE" ... for a type number ("UNKNOWN" otherwise). */
const char *rop_type_name(int type);

/* Decode Offer.Operation bytes. Fails with upstream's texts: a missing
 * sub-message ("A RESERVE offer operation must have the
 * Offer.Operation.reserve field set.") or invalid resources. Types other
 * than the six above decode with their type only. */
int rop_decode(const void *p, size_t n, struct rop *op, struct buf *err);
void rop_free(struct rop *op);
/* Offer.Operation bytes of op (resources in the stored format). */
void rop_encode(const struct rop *op, struct buf *out);

/* Set allocation_info.role on every resource of op that has none
 * (upstream injectAllocationInfo), or drop it everywhere. */
void rop_allocate(struct rop *op, const char *role);
void rop_unallocate(struct rop *op);

/* The conversions of an operation, in upstream's order. */
struct rconv {
    struct resources consumed, converted;
    bool check_destroyed;        /* DESTROY: the result must not hold `consumed` */
};
int rop_conversions(const struct rop *op, struct rconv **out, size_t *n, struct buf *err);
void rconv_free(struct rconv *c, size_t n);
/* All consumed resources (upstream getConsumedResources). */
int rop_consumed(const struct rop *op, struct resources *out, struct buf *err);
/* rs = rs with each conversion applied; on failure rs is unchanged and err
 * reads "<rs> does not contain <consumed>". */
int rconv_apply(struct resources *rs, const struct rconv *c, size_t n, struct buf *err);
/* Both at once: the operation applied to rs. */
int rop_apply(struct resources *rs, const struct rop *op, struct buf *err);

/* What validation needs to know about the agent and the caller. */
struct rop_ctx {
    const char *principal;               /* reserving principal; NULL: none */
    bool hierarchical_role, reservation_refinement, resize_volume;   /* agent capabilities */
    bool framework;                      /* through the scheduler API */
    const char *const *roles;            /* the framework's roles */
    size_t nroles;
    const char *framework_id;
    bool shared_resources;               /* the framework has SHARED_RESOURCES */
    const struct resources *checkpointed;  /* the agent's; CREATE and DESTROY */
    const struct resources *used;          /* in use by tasks; DESTROY */
};
/* validation::operation::validate for op's type. */
int rop_validate(const struct rop *op, const struct rop_ctx *ctx, struct buf *err);

/* Resources that an agent checkpoints: dynamically reserved ones and
 * persistent volumes (upstream needCheckpointing). */
void rop_checkpointed(const struct resources *total, struct resources *out);
/* upstream applyCheckpointedResources: the agent's total from its static
 * resources and its checkpointed ones. */
int rop_apply_checkpointed(const struct resources *base, const struct resources *ckpt,
                           struct resources *out, struct buf *err);

/* Small predicates on one resource. */
bool rop_is_persistent_volume(const struct resource *r);
bool rop_is_dynamically_reserved(const struct resource *r);
const char *rop_reservation_role(const struct resource *r);   /* "*" when unreserved */
/* The persistence id (NUL-terminated, cut to cap) of a persistent volume, or "". */
void rop_persistence_id(const struct resource *r, char *out, size_t cap);
/* The container path of a volume's Volume (DiskInfo.volume), or "". */
void rop_container_path(const struct resource *r, char *out, size_t cap);
/* r without persistence and volume (or without disk info when it has no
 * source), and not shared: what a volume is made from. */
void rop_strip_volume(struct resource *r);

#endif
