/* test_resource_ops.c -- unit tests of src/resource_ops.c: offer operations
 * decoded from JSON, their conversions applied to an agent's total, the
 * agent's checkpointed resources and their re-application, and the
 * validation texts of upstream's validation::operation. */
#include <stdlib.h>
#include "test.h"
#include "buf.h"
#include "pbjson.h"
#include "pbw.h"
#include "resource_ops.h"
#include "resources.h"

static const char *fmt(const struct resources *rs)
{
    static char out[8192];
    struct buf b = {0};
    resources_format(rs, &b);
    snprintf(out, sizeof out, "%.*s", (int)b.len, b.data ? b.data : "");
    buf_free(&b);
    return out;
}

/* Resources from a JSON array of Resource objects (either format). */
static int rs_json(const char *array, struct resources *out)
{
    struct buf js = {0}, pb = {0}, err = {0};
    buf_printf(&js, "{\"resources\":%s}", array);
    int rc = pbjson_from_json(PBD_M_mesos_v1_Offer_Operation_Unreserve, js.data, js.len, &pb, &err);
    if (rc == 0) rc = resources_decode_field(pb.data, pb.len, 1, out, &err);
    if (rc) printf("rs_json: %.*s\n", (int)err.len, err.data);
    buf_free(&js);
    buf_free(&pb);
    buf_free(&err);
    return rc;
}

/* An Offer.Operation from JSON; returns rop_decode's result, err filled. */
static int op_json(const char *json, struct rop *op, struct buf *err)
{
    struct buf pb = {0};
    int rc = pbjson_from_json(PBD_M_mesos_v1_Offer_Operation, json, strlen(json), &pb, err);
    if (rc == 0) rc = rop_decode(pb.data, pb.len, op, err);
    else memset(op, 0, sizeof *op);
    buf_free(&pb);
    return rc;
}

#define CPUS_R1 "{\"name\":\"cpus\",\"type\":\"SCALAR\",\"scalar\":{\"value\":1},\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\"}]}"
#define DISK_R1(v) "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":" v "},\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\"}]}"
#define VOL(v, id) "{\"name\":\"disk\",\"type\":\"SCALAR\",\"scalar\":{\"value\":" v "},\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\"}]," \
    "\"disk\":{\"persistence\":{\"id\":\"" id "\"},\"volume\":{\"container_path\":\"d\",\"mode\":\"RW\"}}}"

static int apply(struct resources *total, const char *json, struct buf *err)
{
    struct rop op;
    int rc = op_json(json, &op, err);
    if (rc == 0) rc = rop_apply(total, &op, err);
    rop_free(&op);
    return rc;
}

static int test_reserve_unreserve(void)
{
    struct resources total = {0};
    struct buf err = {0};
    CHECK(resources_parse("cpus:4;disk:100", 15, NULL, &total, NULL) == 0);
    CHECK(apply(&total, "{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[" CPUS_R1 "]}}", &err) == 0);
    CHECK_STR(fmt(&total), "cpus:3; disk:100; cpus(reservations: [(DYNAMIC,r1)]):1");
    /* too much: the total is unchanged and the text is upstream's */
    CHECK(apply(&total, "{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                        "\"scalar\":{\"value\":5},\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r1\"}]}]}}", &err) < 0);
    CHECK_MEM(err.data, err.len, "cpus:3; disk:100; cpus(reservations: [(DYNAMIC,r1)]):1 does not contain cpus:5");
    CHECK_STR(fmt(&total), "cpus:3; disk:100; cpus(reservations: [(DYNAMIC,r1)]):1");
    buf_reset(&err);
    CHECK(apply(&total, "{\"type\":\"UNRESERVE\",\"unreserve\":{\"resources\":[" CPUS_R1 "]}}", &err) == 0);
    CHECK_STR(fmt(&total), "cpus:4; disk:100");
    /* a pre-refinement reservation (role + reservation) upgrades to the same */
    CHECK(apply(&total, "{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                        "\"scalar\":{\"value\":2},\"role\":\"r1\",\"reservation\":{}}]}}", &err) == 0);
    CHECK_STR(fmt(&total), "cpus:2; disk:100; cpus(reservations: [(DYNAMIC,r1)]):2");
    resources_free(&total);
    buf_free(&err);
    return 0;
}

static int test_volumes_and_checkpoint(void)
{
    struct resources total = {0}, base = {0}, ck = {0}, again = {0};
    struct buf err = {0};
    CHECK(resources_parse("disk:100", 8, NULL, &base, NULL) == 0);
    resources_copy(&total, &base);
    CHECK(apply(&total, "{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[" DISK_R1("60") "]}}", &err) == 0);
    CHECK(apply(&total, "{\"type\":\"CREATE\",\"create\":{\"volumes\":[" VOL("20", "v1") "]}}", &err) == 0);
    CHECK_STR(fmt(&total), "disk:40; disk(reservations: [(DYNAMIC,r1)]):40; disk(reservations: [(DYNAMIC,r1)])[v1:d]:20");
    CHECK(apply(&total, "{\"type\":\"GROW_VOLUME\",\"grow_volume\":{\"volume\":" VOL("20", "v1") ",\"addition\":"
                        DISK_R1("15") "}}", &err) == 0);
    CHECK_STR(fmt(&total), "disk:40; disk(reservations: [(DYNAMIC,r1)]):25; disk(reservations: [(DYNAMIC,r1)])[v1:d]:35");
    CHECK(apply(&total, "{\"type\":\"SHRINK_VOLUME\",\"shrink_volume\":{\"volume\":" VOL("35", "v1") ","
                        "\"subtract\":{\"value\":5}}}", &err) == 0);
    CHECK_STR(fmt(&total), "disk:40; disk(reservations: [(DYNAMIC,r1)]):30; disk(reservations: [(DYNAMIC,r1)])[v1:d]:30");
    /* What the agent checkpoints, applied to its static resources, is the total. */
    rop_checkpointed(&total, &ck);
    CHECK_STR(fmt(&ck), "disk(reservations: [(DYNAMIC,r1)]):30; disk(reservations: [(DYNAMIC,r1)])[v1:d]:30");
    CHECK(rop_apply_checkpointed(&base, &ck, &again, &err) == 0);
    CHECK(resources_equal(&again, &total));
    /* ...and must fit them. */
    struct resources small = {0}, none = {0};
    CHECK(resources_parse("disk:10", 7, NULL, &small, NULL) == 0);
    buf_reset(&err);
    CHECK(rop_apply_checkpointed(&small, &ck, &none, &err) < 0);
    CHECK_MEM(err.data, err.len, "Incompatible agent resources: disk:10 does not contain disk:30");
    CHECK(apply(&total, "{\"type\":\"DESTROY\",\"destroy\":{\"volumes\":[" VOL("30", "v1") "]}}", &err) == 0);
    CHECK_STR(fmt(&total), "disk:40; disk(reservations: [(DYNAMIC,r1)]):60");
    resources_free(&total);
    resources_free(&base);
    resources_free(&ck);
    resources_free(&again);
    resources_free(&small);
    buf_free(&err);
    return 0;
}

/* validate op (JSON) against ctx; returns the message ("" when valid). */
static const char *validate(const char *json, const struct rop_ctx *ctx)
{
    static char out[4096];
    struct rop op;
    struct buf err = {0};
    if (op_json(json, &op, &err) < 0) snprintf(out, sizeof out, "DECODE: %.*s", (int)err.len, err.data);
    else if (rop_validate(&op, ctx, &err) < 0) snprintf(out, sizeof out, "%.*s", (int)err.len, err.data);
    else out[0] = 0;
    rop_free(&op);
    buf_free(&err);
    return out;
}

static int test_validation(void)
{
    struct resources ck = {0}, used = {0};
    CHECK(rs_json("[" VOL("10", "v1") "]", &ck) == 0);
    struct rop_ctx op = { .hierarchical_role = true, .reservation_refinement = true, .checkpointed = &ck, .used = &used };
    CHECK_STR(validate("{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[" CPUS_R1 "]}}", &op), "");
    CHECK_STR(validate("{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                       "\"scalar\":{\"value\":1}}]}}", &op),
              "Resource cpus:1 is not dynamically reserved");
    CHECK_STR(validate("{\"type\":\"RESERVE\"}", &op),
              "DECODE: A RESERVE offer operation must have the Offer.Operation.reserve field set.");
    CHECK_STR(validate("{\"type\":\"UNRESERVE\",\"unreserve\":{\"resources\":[" VOL("10", "v1") "]}}", &op),
              "A dynamically reserved persistent volume disk(reservations: [(DYNAMIC,r1)])[v1:d]:10 cannot be "
              "unreserved directly. Please destroy the persistent volume first then unreserve the resource");
    CHECK_STR(validate("{\"type\":\"CREATE\",\"create\":{\"volumes\":[" VOL("5", "v1") "]}}", &op),
              "Persistence ID 'v1' is not unique");
    CHECK_STR(validate("{\"type\":\"CREATE\",\"create\":{\"volumes\":[" DISK_R1("5") "]}}", &op),
              "Not a persistent volume: Resource disk(reservations: [(DYNAMIC,r1)]):5 does not have DiskInfo");
    CHECK_STR(validate("{\"type\":\"DESTROY\",\"destroy\":{\"volumes\":[" VOL("5", "zz") "]}}", &op),
              "Persistent volumes not found");
    CHECK_STR(validate("{\"type\":\"DESTROY\",\"destroy\":{\"volumes\":[" VOL("10", "v1") "]}}", &op), "");
    CHECK_STR(validate("{\"type\":\"SHRINK_VOLUME\",\"shrink_volume\":{\"volume\":" VOL("10", "v1") ","
                       "\"subtract\":{\"value\":10}}}", &op),
              "Value of 'ShrinkVolume.subtract' must be smaller than the size of 'ShrinkVolume.volume'");
    CHECK_STR(validate("{\"type\":\"GROW_VOLUME\",\"grow_volume\":{\"volume\":" VOL("10", "v1") ",\"addition\":"
                       DISK_R1("1") "}}", &op),
              "Volume disk(reservations: [(DYNAMIC,r1)])[v1:d]:10 cannot be grown on an agent without "
              "RESIZE_VOLUME capability");
    /* Through a framework: the allocation role must be the reservation's, and the framework's. */
    const char *roles[] = { "r1" };
    struct rop_ctx fw = op;
    fw.framework = true;
    fw.roles = roles;
    fw.nroles = 1;
    struct rop r;
    struct buf err = {0};
    CHECK(op_json("{\"type\":\"RESERVE\",\"reserve\":{\"resources\":[{\"name\":\"cpus\",\"type\":\"SCALAR\","
                  "\"scalar\":{\"value\":1},\"reservations\":[{\"type\":\"DYNAMIC\",\"role\":\"r2\"}]}]}}", &r, &err) == 0);
    rop_allocate(&r, "r1");
    CHECK(rop_validate(&r, &fw, &err) < 0);
    CHECK_MEM(err.data, err.len, "A reserve operation was attempted for a resource with role 'r2', but the resource "
                                 "was allocated to role 'r1'");
    rop_free(&r);
    buf_free(&err);
    resources_free(&ck);
    return 0;
}

int main(void)
{
    RUN(test_reserve_unreserve);
    RUN(test_volumes_and_checkpoint);
    RUN(test_validation);
    return REPORT();
}
