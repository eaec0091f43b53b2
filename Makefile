# mesos_api -- one static binary: a Mesos-compatible master and agent.
# Targets: all test asan unit blackbox fuzz proto proto-check size bench clean

CC      ?= cc
PYTHON  := /usr/bin/python3
VERSION := 1.12.0
OPT     ?= -O2 -g
# The static binary (build/): hot paths at $(OPT), the rest at -Os; every
# function and object in its own section so --gc-sections drops what nothing
# calls; no .eh_frame for our code (C, no exceptions; -g keeps .debug_frame).
HOT     := json pbjson pbw pbn http server buf loop net wire recordio resources agents \
           allocator events
COLD_OPT ?= -Os -g
SECTIONS := -ffunction-sections -fdata-sections -fno-asynchronous-unwind-tables
CFLAGS  := $(OPT) -std=c11 -D_GNU_SOURCE -Wall -Wextra -Werror -MMD -MP -Isrc -Ivendor \
           -DMESOS_API_VERSION='"$(VERSION)"'
LDFLAGS ?=
GC      := -Wl,--gc-sections
LIBS    := -lprotobuf-nanopb -lz -lm
STATIC  := -static

PROTOS  := $(shell cd proto && find . -name '*.proto' | sed 's|^\./||' | sort)
PB_SRC  := $(patsubst %.proto,vendor/%.pb.c,$(PROTOS)) vendor/pbdesc.c
LIB_SRC := $(filter-out src/main.c,$(wildcard src/*.c))
SRC     := mesos_api.c $(LIB_SRC) $(PB_SRC)
OBJ     := $(SRC:%.c=build/%.o)
LIB_OBJ := $(filter-out build/mesos_api.o,$(OBJ))

UNIT    := $(patsubst test/%.c,%,$(wildcard test/test_*.c))
FUZZ    := $(patsubst test/fuzz/%.c,%,$(wildcard test/fuzz/fuzz_*.c))

all: mesos_api

deps:
	@tools/deps.sh

mesos_api: $(OBJ)
	@echo "  LD $@"
	@$(CC) $(STATIC) $(LDFLAGS) $(GC) -o $@ $^ $(LIBS)

# Build facts for GET_VERSION, fixed when version.o is compiled, which is
# whenever any other object changed.
BUILD_DEFS = -DBUILD_DATE='"$(shell date -u '+%Y-%m-%d %H:%M:%S')"' \
             -DBUILD_TIME=$(shell date -u +%s) \
             -DBUILD_USER='"$(shell id -un 2>/dev/null || echo unknown)"' \
             -DBUILD_GIT_SHA='"$(shell git rev-parse HEAD 2>/dev/null)"'
build/src/version.o: $(filter-out build/src/version.o,$(OBJ))
build/src/version.o build-asan/src/version.o: EXTRA = $(BUILD_DEFS)

build/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "  CC $<"
	@$(CC) $(CFLAGS) $(SIZEFLAGS) $(EXTRA) -c -o $@ $<
# Only the default build: `make OPT=...` (profiling, sanitizers) gets OPT everywhere.
ifeq ($(origin OPT),file)
build/%.o: SIZEFLAGS = $(COLD_OPT) $(SECTIONS)
$(HOT:%=build/src/%.o): SIZEFLAGS = $(OPT) $(SECTIONS)
endif

# ---- generated code -------------------------------------------------------
# vendor/ is committed; `make proto` regenerates it from proto/, and the
# proto-check test fails when the two disagree.
proto:
	@tools/deps.sh proto
	tools/genproto.sh vendor

proto-check:
	@tools/deps.sh proto
	@rm -rf build/proto-check && mkdir -p build/proto-check
	@tools/genproto.sh build/proto-check >/dev/null
	@if diff -r -x '*.o' -x '*.d' vendor build/proto-check >/dev/null; then \
	  echo "proto-check: vendor/ matches proto/"; echo "1 passed, 0 failed"; \
	else diff -r vendor build/proto-check | head -20; \
	  echo "proto-check: vendor/ is out of date: run make proto"; echo "0 passed, 1 failed"; exit 1; fi

# ---- tests ----------------------------------------------------------------
# `make test` = unit tests + black-box tests, then both again under ASan/UBSan.
test: proto-check unit bench-tools blackbox cluster fuzz-replay valgrind asan

build/test/%: test/%.c $(LIB_OBJ) | deps
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS) -Itest -o $@ $< $(LIB_OBJ) $(LIBS)

unit: $(UNIT:%=build/test/%)
	@set -e; for t in $^; do echo "== $$t"; $$t; done

# The unit tests under valgrind (memcheck): errors and definite leaks fail.
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite
# valgrind cannot see inside a static glibc, so the server runs under it
# from a dynamically linked twin of the same objects.
build/mesos_api-dyn: $(OBJ)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)
valgrind: $(UNIT:%=build/test/%) build/mesos_api-dyn
	@command -v valgrind >/dev/null || apt-get install -y -qq valgrind >/dev/null
	@set -e; for t in $(UNIT:%=build/test/%); do echo "== $$t (valgrind)"; $(VALGRIND) $$t; done
	$(PYTHON) tools/valgrind_smoke.py "$(VALGRIND)" build/mesos_api-dyn

blackbox: mesos_api
	$(PYTHON) test/blackbox/run.py ./mesos_api

cluster: mesos_api
	$(PYTHON) test/cluster/run.py ./mesos_api
	$(PYTHON) test/cluster/agent_tasks.py ./mesos_api
	$(PYTHON) test/cluster/scheduler.py ./mesos_api
	$(PYTHON) test/cluster/roles.py ./mesos_api
	$(PYTHON) test/cluster/maintenance.py ./mesos_api
	$(PYTHON) test/cluster/resops.py ./mesos_api
	$(PYTHON) test/cluster/agent_api.py ./mesos_api
	$(PYTHON) test/cluster/registry.py ./mesos_api
	$(PYTHON) test/cluster/events.py ./mesos_api
	$(PYTHON) test/cluster/state_large.py ./mesos_api

asan:
	$(MAKE) BUILD=asan OPT='-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all' \
	    STATIC= asan-run

# The sanitizer build lives in build-asan/ (dynamic: ASan cannot be static).
ifeq ($(BUILD),asan)
build-asan/%.o: %.c | deps
	@mkdir -p $(dir $@)
	@echo "  CC (asan) $<"
	@$(CC) $(CFLAGS) $(EXTRA) -c -o $@ $<
ASAN_LIB_OBJ := $(LIB_OBJ:build/%=build-asan/%)
build-asan/mesos_api: $(OBJ:build/%=build-asan/%)
	$(CC) $(CFLAGS) -o $@ $^ $(LIBS)
build-asan/test/%: test/%.c $(ASAN_LIB_OBJ)
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS) -Itest -o $@ $< $(ASAN_LIB_OBJ) $(LIBS)
asan-run: build-asan/mesos_api $(UNIT:%=build-asan/test/%)
	@set -e; for t in $(UNIT:%=build-asan/test/%); do echo "== $$t (asan)"; $$t; done
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/blackbox/run.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/run.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/agent_tasks.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/scheduler.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/roles.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/maintenance.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/resops.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/agent_api.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 REGISTRY_STORM_SECONDS=10 $(PYTHON) test/cluster/registry.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/events.py build-asan/mesos_api
	ASAN_OPTIONS=detect_leaks=1 $(PYTHON) test/cluster/state_large.py build-asan/mesos_api
endif

# Fuzz targets: built with gcc to replay the corpus in `make test`; with
# clang and libFuzzer by `make fuzz` (FUZZ_SECONDS each).
FUZZ_SECONDS ?= 60
build/fuzz/%: test/fuzz/%.c $(LIB_OBJ) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -DFUZZ_MAIN -o $@ $< $(LIB_OBJ) $(LIBS)
fuzz-replay: $(FUZZ:%=build/fuzz/%)
	@set -e; n=0; for f in $(FUZZ); do c=test/fuzz/corpus/$${f#fuzz_}; \
	  build/fuzz/$$f $$c/* >/dev/null && n=$$((n+1)); done; \
	  echo "fuzz-replay: $$n targets replayed their corpus"; echo "$$n passed, 0 failed"
fuzz:
	@command -v clang >/dev/null || apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
	@mkdir -p build/libfuzzer
	@set -e; for f in $(FUZZ); do \
	  clang -std=c11 -D_GNU_SOURCE -O1 -g -Isrc -Ivendor -fsanitize=fuzzer,address,undefined \
	    -o build/libfuzzer/$$f test/fuzz/$$f.c $(LIB_SRC) $(PB_SRC) $(LIBS); \
	  mkdir -p build/libfuzzer/corpus-$$f; \
	  build/libfuzzer/$$f -max_total_time=$(FUZZ_SECONDS) build/libfuzzer/corpus-$$f test/fuzz/corpus/$${f#fuzz_}; done

# ---- footprint --------------------------------------------------------------
size: mesos_api
	@tools/size.sh ./mesos_api

# `make bench` (not part of `make test`): builds the tools in bench/, installs
# wrk and nginx-light when missing, prints one table and writes it to
# BENCHMARKS.md. BENCH_ARGS=--quick leaves out the 20000/40000-agent runs.
bench: mesos_api bench-tools
	$(PYTHON) bench/run.py $(BENCH_ARGS)

# The tools compile as part of `make test`, so a change they depend on
# cannot break `make bench` unnoticed.
bench-tools: build/bench/allocator_bench build/bench/registry_bench
	$(MAKE) -C bench
	@echo "bench-tools: built"; echo "1 passed, 0 failed"

# The allocator alone, with stand-ins for the rest of the master.
ALLOC_BENCH_OBJ := $(addprefix build/src/,allocator.o resources.o buf.o util.o loop.o log.o flags.o pbw.o json.o pbjson.o pbn.o) build/vendor/pbdesc.o
build/bench/allocator_bench: bench/allocator_bench.c $(ALLOC_BENCH_OBJ) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -o $@ $< $(ALLOC_BENCH_OBJ) $(LIBS)
bench-allocator: build/bench/allocator_bench
	build/bench/allocator_bench
# The registry's writes per second (group commit) and recovery time.
build/bench/registry_bench: bench/registry_bench.c $(LIB_OBJ) | deps
	@mkdir -p $(dir $@)
	@echo "  LD $@"
	@$(CC) $(CFLAGS) -o $@ $< $(LIB_OBJ) $(LIBS)
bench-registry: build/bench/registry_bench
	build/bench/registry_bench

clean:
	rm -rf build build-asan mesos_api
	$(MAKE) -C bench clean

.PHONY: all deps proto proto-check test unit valgrind blackbox cluster asan asan-run fuzz fuzz-replay size bench bench-tools bench-allocator bench-registry clean
-include $(OBJ:.o=.d) $(OBJ:build/%.o=build-asan/%.d)
