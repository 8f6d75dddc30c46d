# ecsbox: build, test, demo, bench. Every library through pkg-config.
PREFIX ?= /usr/local
BUILD ?= build
CC ?= cc
PKG_CONFIG ?= pkg-config
PYTHON ?= /usr/bin/python3

DEPS_STAMP := $(BUILD)/.deps-ok

CFLAGS_BASE := -std=gnu11 -D_GNU_SOURCE -Iinclude -Wall -Wextra -Werror -Wshadow -Wformat=2 \
	-Wno-unused-parameter -Wno-format-truncation -fstack-protector-strong
ifeq ($(FUZZ),1)
# libFuzzer targets (make fuzz): clang, coverage for the fuzzer, ASan+UBSan.
CC := clang
CFLAGS_BASE += -Wno-unknown-warning-option
OPTFLAGS := -O1 -g -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDASAN := -fsanitize=address,undefined
else ifeq ($(ASAN),1)
OPTFLAGS := -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
LDASAN := -fsanitize=address,undefined
else
OPTFLAGS := -O2 -g -D_FORTIFY_SOURCE=2
LDASAN :=
endif
CFLAGS ?=
CFLAGS += $(CFLAGS_BASE) $(OPTFLAGS)
LDFLAGS += $(LDASAN) -Wl,--as-needed

pc = $(shell $(PKG_CONFIG) --cflags --libs $(1) 2>/dev/null)
pc_cflags = $(shell $(PKG_CONFIG) --cflags $(1) 2>/dev/null)
pc_libs = $(shell $(PKG_CONFIG) --libs $(1) 2>/dev/null)

LIB_PKGS := jansson sqlite3 libcrypto
NETD_PKGS := $(LIB_PKGS) libmnl libnftnl libnl-3.0 libnl-route-3.0 libcap libsystemd ldns libcurl
SCHED_PKGS := $(LIB_PKGS) libmicrohttpd libcap libsystemd libcurl libarchive libzstd libxml-2.0
MON_PKGS := $(LIB_PKGS) libcap
CLI_PKGS := $(LIB_PKGS) libcurl
ALL_PKGS := $(sort $(NETD_PKGS) $(SCHED_PKGS) $(CLI_PKGS) cmocka)

# Each component is its folder and every subfolder below it (netd/kernel/, scheduler/ecs/, ...);
# scheduler/monitor/ is a binary of its own.
srcs_under = $(shell find $(1) -name '*.c' $(2) | LC_ALL=C sort)
LIB_SRC := $(call srcs_under,lib)
NETD_SRC := $(filter-out netd/main.c,$(call srcs_under,netd))
SCHED_SRC := $(filter-out scheduler/main.c,$(call srcs_under,scheduler,-not -path 'scheduler/monitor/*'))
MON_SRC := $(filter-out scheduler/monitor/main.c,$(call srcs_under,scheduler/monitor))
CLI_SRC := $(filter-out cli/main.c,$(call srcs_under,cli))
UNIT_SRC := $(wildcard tests/unit/*_test.c)
BENCH_SRC := $(wildcard tests/bench/*_bench.c)
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_SECONDS ?= 60

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

BINS := $(BUILD)/ecsbox-netd
ifneq ($(wildcard cli/main.c),)
BINS += $(BUILD)/ecsbox
endif
ifneq ($(wildcard scheduler/main.c),)
BINS += $(BUILD)/ecsboxd
endif
ifneq ($(wildcard scheduler/monitor/main.c),)
BINS += $(BUILD)/ecsbox-monitor
endif
# Tools for the tests and benchmarks (tests/tools/NAME.c, linked like a sched_ unit test).
TOOLS := $(BUILD)/tools/ecsbox-pull
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRC))

.PHONY: all deps check unit integration demo bench install clean asan fuzz fuzz-bins chaos
all: $(BINS) $(TOOLS)

# Installs missing Debian packages (idempotent); the stamp is refreshed when the script changes.
deps: $(DEPS_STAMP)
$(DEPS_STAMP): scripts/install-deps.sh
	@bash scripts/install-deps.sh
	@mkdir -p $(BUILD) && touch $@

# -MMD: each object also depends on the headers it includes (build/obj/**/*.d).
$(BUILD)/obj/%.o: %.c $(wildcard include/ecsbox/*.h) | $(DEPS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP $(call pc_cflags,$(ALL_PKGS)) -c $< -o $@
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)

$(BUILD)/libecsbox.a: $(call obj,$(LIB_SRC))
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libnetd.a: $(call obj,$(NETD_SRC)) $(call obj,lib/err.c)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libsched.a: $(call obj,$(SCHED_SRC)) $(call obj,lib/err.c)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libmonitor.a: $(call obj,$(MON_SRC)) $(call obj,lib/err.c)
	@rm -f $@; ar rcs $@ $^
$(BUILD)/libcli.a: $(call obj,$(CLI_SRC)) $(call obj,lib/err.c)
	@rm -f $@; ar rcs $@ $^

$(BUILD)/ecsbox-netd: $(call obj,netd/main.c) $(BUILD)/libnetd.a $(BUILD)/libecsbox.a
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(NETD_PKGS))
$(BUILD)/ecsboxd: $(call obj,scheduler/main.c) $(BUILD)/libsched.a $(BUILD)/libecsbox.a
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(SCHED_PKGS))
$(BUILD)/ecsbox-monitor: $(call obj,scheduler/monitor/main.c) $(BUILD)/libmonitor.a $(BUILD)/libecsbox.a
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(MON_PKGS))
$(BUILD)/ecsbox: $(call obj,cli/main.c) $(BUILD)/libcli.a $(BUILD)/libecsbox.a
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(CLI_PKGS))

# A unit test links lib/ plus the component its name starts with:
# netd_*_test.c -> netd/, sched_* -> scheduler/, mon_* -> scheduler/monitor/, cli_* -> cli/.
comp_archive = $(if $(filter netd_%,$(1)),$(BUILD)/libnetd.a,$(if $(filter sched_%,$(1)),$(BUILD)/libsched.a,$(if $(filter mon_%,$(1)),$(BUILD)/libmonitor.a,$(if $(filter cli_%,$(1)),$(BUILD)/libcli.a,))))
comp_pkgs = $(if $(filter netd_%,$(1)),$(NETD_PKGS),$(if $(filter sched_%,$(1)),$(SCHED_PKGS),$(if $(filter mon_%,$(1)),$(MON_PKGS),$(if $(filter cli_%,$(1)),$(CLI_PKGS),$(LIB_PKGS)))))
.PRECIOUS: $(BUILD)/obj/%.o
.SECONDEXPANSION:
$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $$(call comp_archive,$$*) $(BUILD)/libecsbox.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(call comp_pkgs,$*) cmocka)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(BUILD)/libsched.a $(BUILD)/libecsbox.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(SCHED_PKGS))

$(BUILD)/bench/%: $(BUILD)/obj/tests/bench/%.o $$(call comp_archive,$$*) $(BUILD)/libecsbox.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(call pc_libs,$(call comp_pkgs,$*))

# A fuzz target fuzz_NAME.c links lib/ plus the component NAME starts with (as the unit tests do).
fuzz_comp = $(patsubst fuzz_%,%,$(1))
$(BUILD)/fuzz/%: $(BUILD)/obj/tests/fuzz/%.o $$(call comp_archive,$$(call fuzz_comp,$$*)) $(BUILD)/libecsbox.a
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -fsanitize=fuzzer -o $@ $^ $(call pc_libs,$(call comp_pkgs,$(call fuzz_comp,$*)))

fuzz-bins: $(FUZZ_BINS)

unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

# The integration tests run the binaries of $(BUILD) (the sandbox reads ECSBOX_BUILD).
INTEGRATION_TESTS ?= tests/integration
PYTEST_ARGS ?=
integration: all
	ECSBOX_BUILD=$(abspath $(BUILD)) $(PYTHON) -m pytest -v $(PYTEST_ARGS) $(INTEGRATION_TESTS)

# make check: every unit and integration test, then the unit tests and a chosen part of the
# integration tests again under ASan+UBSan (the daemons' front doors: the APIs, the VPC resolver, the
# metadata endpoint; netd's kernel layer, the CLI, the registry client).
ASAN_INTEGRATION_TESTS := tests/integration/test_auth.py tests/integration/test_netd.py \
	tests/integration/test_sg.py tests/integration/test_netd_bridge.py tests/integration/test_ecsboxd.py \
	tests/integration/test_registry.py tests/integration/test_nlb.py tests/integration/test_dns.py \
	tests/integration/test_query_ec2.py tests/integration/test_task_metadata.py tests/integration/test_exec.py
check: deps all unit integration
	$(MAKE) BUILD=build-asan ASAN=1 all unit integration INTEGRATION_TESTS="$(ASAN_INTEGRATION_TESTS)"

# Everything under ASan+UBSan.
asan:
	$(MAKE) BUILD=build-asan ASAN=1 all unit integration

# Every libFuzzer target (or those of FUZZ_TARGETS, names without fuzz_) for FUZZ_SECONDS each, from the
# seeds in tests/fuzz/corpus/NAME, built in FUZZ_BUILD.
FUZZ_BUILD ?= build-fuzz
FUZZ_TARGETS ?=
fuzz: deps
	$(MAKE) BUILD=$(FUZZ_BUILD) FUZZ=1 fuzz-bins
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_TARGETS)

# kill -9 of netd, ecsboxd or a monitor during an API churn, invariants after each restart (not in check).
CHAOS_ROUNDS ?= 100
chaos: deps all
	$(PYTHON) tests/chaos/chaos.py $(CHAOS_ROUNDS) $(CHAOS_SEED)

demo: deps all
	bash scripts/demo.sh

bench: deps all $(BENCH_BINS)
	BUILD=$(BUILD) bash scripts/bench.sh

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin
	install -m 0755 $(BUILD)/ecsbox $(DESTDIR)$(PREFIX)/bin/
	install -m 0755 $(filter-out $(BUILD)/ecsbox,$(BINS)) $(DESTDIR)$(PREFIX)/sbin/

clean:
	rm -rf build build-asan build-fuzz $(FUZZ_BUILD)
