/* resources.h -- Mesos resources: the agent's --resources and --attributes
 * flags, mesos.v1.Resource bytes, and the arithmetic of upstream's
 * Resources class (src/common/resources.cpp, values.cpp, attributes.cpp).
 *
 * A `struct resources` is a list of `struct resource`, kept the way upstream
 * keeps a Resources object: resources with the same identity (name, type,
 * reservation stack, allocation role, disk, provider, revocable, shared) are
 * merged into one, and empty ones are dropped. Scalars are Mesos' fixed point:
 * an int64 of thousandths, so 0.1 + 0.2 == 0.3 exactly.
 *
 * Ownership: a list owns every string and byte array reachable from it;
 * resources_free() releases them. A zero-filled struct resources is an empty
 * list. Functions that fill a list add to what is already there.
 *
 * Errors: functions that can fail return 0 or -1 and, when `err` is not NULL,
 * append the message to it in upstream's wording. Functions returning int
 * that only write to a buffer return -1 when that buffer hit its max. */
#ifndef RESOURCES_H
#define RESOURCES_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "buf.h"

/* Input limit: ranges or set items in one resource (parse and decode). */
#define RESOURCES_MAX_VALUES 65536

/* Value.Type numbers. TEXT exists only for attributes. */
enum { RESOURCE_SCALAR = 0, RESOURCE_RANGES = 1, RESOURCE_SET = 2, RESOURCE_TEXT = 3 };
/* Resource.ReservationInfo.Type numbers. */
enum { RESERVATION_UNKNOWN = 0, RESERVATION_STATIC = 1, RESERVATION_DYNAMIC = 2 };

struct resource_range { uint64_t begin, end; };

struct resource_reservation {
    int type;                  /* RESERVATION_STATIC or RESERVATION_DYNAMIC */
    char *role;
    char *principal;           /* NULL: unset */
    uint8_t *labels;           /* mesos.v1.Labels bytes, compared as upstream does */
    size_t labels_len;
    bool has_labels;
};

struct resource {
    char *name;
    int type;                               /* RESOURCE_SCALAR/RANGES/SET */
    int64_t scalar;                         /* SCALAR: thousandths (2.5 cpus = 2500) */
    struct resource_range *ranges;          /* RANGES: sorted, disjoint, coalesced */
    size_t nranges;
    char **items;                           /* SET: distinct, in first-seen order */
    size_t nitems;
    struct resource_reservation *reservations;  /* the stack: [0] first, last = current role */
    size_t nreservations;
    bool has_allocation;                    /* allocation_info present */
    char *allocation_role;                  /* its role; NULL when unset */
    bool has_disk, has_provider_id, revocable, shared;
    uint8_t *disk;                          /* Resource.DiskInfo bytes */
    size_t disk_len;
    uint8_t *provider_id;                   /* ResourceProviderID bytes */
    size_t provider_id_len;
    int64_t shared_count;                   /* shared: copies held (upstream sharedCount) */
    uint8_t *extra;                         /* unknown fields, re-emitted verbatim */
    size_t extra_len;
};

struct resources {
    struct resource *v;
    size_t len, cap;
};

void resources_free(struct resources *rs);                           /* leaves it empty */
void resources_copy(struct resources *dst, const struct resources *src);  /* dst = src */

/* Fixed point as upstream: llround(v * 1000); out-of-range values give
 * INT64_MIN (what llround yields on x86), which validation rejects. */
int64_t resources_fixed(double v);
double resources_double(int64_t fixed);      /* whole part + thousandths / 1000.0 */

/* ==== Flags ==== */

/* Parse the agent's --resources value, as Resources::parse(text, role): a JSON
 * array of Resource objects, or `name[(role)]:value;...` where value is a
 * scalar, [a-b,c-d] or {x,y}. default_role (NULL = "*") applies to entries
 * without a role; "*" means unreserved. Same-named entries are merged, zero
 * ones dropped; the result is validated as upstream does for the command line
 * (no persistent volumes, revocable or dynamic reservations, one type a name). */
int resources_parse(const char *s, size_t n, const char *default_role,
                    struct resources *out, struct buf *err);

/* Parse --attributes (`rack:r1;zone:2;ports:[1-10]`) and append each as a
 * field `tag` holding a mesos.v1.Attribute (AgentInfo.attributes is tag 5).
 * A number is SCALAR, [..] RANGES, anything else TEXT; {..} is rejected, as
 * upstream's Attributes::parse rejects SET. On -1 nothing is appended. */
int resources_parse_attributes(const char *s, size_t n, uint32_t tag,
                               struct buf *out, struct buf *err);

/* roles::validate: 0, or -1 with the reason. "*" is valid. */
int resources_validate_role(const char *role, struct buf *err);

/* ==== Protobuf ==== */

#define RESOURCES_STORED   0   /* post-refinement: `reservations` only */
#define RESOURCES_ENDPOINT 1   /* adds `role` ("*" when unreserved) and, for a
                                  single DYNAMIC reservation, legacy `reservation` */
#define RESOURCES_PRE_REFINEMENT 2  /* as ENDPOINT, and without `reservations` when
                                  there is at most one (offers to frameworks
                                  without RESERVATION_REFINEMENT) */

/* Append r as a bare mesos.v1.Resource message. */
int resources_encode_one(const struct resource *r, int format, struct buf *out);
/* Append every resource as a length-delimited field `tag`. */
int resources_encode(const struct resources *rs, uint32_t tag, int format, struct buf *out);

/* Decode one mesos.v1.Resource, in either format: validate it as
 * Resources::validate(Resource) does (bare message on error), convert it to
 * the post-refinement format and add it to out. */
int resources_decode(const void *p, size_t n, struct resources *out, struct buf *err);
/* Decode every field `tag` of message bytes (e.g. AgentInfo.resources = 3)
 * as above; errors read "Resource '<text>' is invalid: <why>", as
 * Resources::validate(RepeatedPtrField) words them. Nothing is added on -1. */
int resources_decode_field(const void *msg, size_t n, uint32_t tag,
                           struct resources *out, struct buf *err);

/* ==== Arithmetic (upstream Resources operators) ==== */

void resources_add(struct resources *a, const struct resources *b);      /* a += b */
void resources_add_one(struct resources *a, const struct resource *r);   /* r: valid */
void resources_subtract(struct resources *a, const struct resources *b); /* a -= b */
void resources_subtract_one(struct resources *a, const struct resource *r);
bool resources_contains(const struct resources *a, const struct resources *b); /* a ⊇ b */
bool resources_equal(const struct resources *a, const struct resources *b);

/* ==== Selection and transformation ==== */

enum resources_filter {
    RESOURCES_UNRESERVED,
    RESOURCES_RESERVED,              /* arg: role, or NULL for any */
    RESOURCES_ALLOCATABLE_TO,        /* arg: role; unreserved, its own or an ancestor's */
    RESOURCES_RESERVED_TO_SUBTREE,   /* arg: role; reserved to it or a descendant */
    RESOURCES_ALLOCATED_TO_SUBTREE,  /* arg: role */
    RESOURCES_REVOCABLE,
    RESOURCES_NON_REVOCABLE,
    RESOURCES_SHARED,
    RESOURCES_NON_SHARED,
    RESOURCES_PERSISTENT_VOLUMES,
    RESOURCES_NAMED,                 /* arg: name */
};
/* Copy the resources of src that match into dst (added without merging, as
 * upstream's filter() pushes them). dst must not be src. `arg` must be set
 * for the filters that name one; only RESOURCES_RESERVED accepts NULL. */
void resources_filter(struct resources *dst, const struct resources *src,
                      enum resources_filter what, const char *arg);

void resources_allocate(struct resources *rs, const char *role);  /* set allocation_info.role */
void resources_unallocate(struct resources *rs);
/* dst += src with every reservation removed (upstream toUnreserved()). */
void resources_to_unreserved(struct resources *dst, const struct resources *src);
/* Push a reservation onto every resource, or pop the last one; the list is
 * re-merged. Push fails, changing nothing, when the result would be invalid
 * (role "*", a STATIC refinement, or a role that does not refine the current
 * one). Pop leaves unreserved resources as they are. */
int resources_push_reservation(struct resources *rs, const struct resource_reservation *rsv,
                               struct buf *err);
void resources_pop_reservation(struct resources *rs);
/* dst += bare {name, SCALAR, value} of every scalar in src, merged by name
 * (upstream createStrippedScalarQuantity, used for quota and Role.resources). */
void resources_quantities(struct resources *dst, const struct resources *src);
/* Sum of the scalars called `name`, in thousandths (0 if none). */
int64_t resources_scalar(const struct resources *rs, const char *name);

/* ==== Text ==== */

/* Upstream operator<<: `cpus:4; mem:4096; ports:[31000-32000, 33000-33100]`,
 * `cpus(reservations: [(STATIC,role1)]):2`, `{}` when empty. */
int resources_format(const struct resources *rs, struct buf *out);
int resources_format_one(const struct resource *r, struct buf *out);

#endif
