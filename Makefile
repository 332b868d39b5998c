# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# flowprobe: build the XDP datapath, its skeleton, the daemon, the tests.
#
#   make            build ./flowprobe (installs Debian packages if missing)
#   make test       build and run every test; last line "N passed, N failed"
#   make demo       two-host lab in network namespaces, NetFlow into nfcapd
#   make demo-fleet two routers into a local ClickHouse: one alarm on merged evidence
#   make deps       install the Debian packages of deps/build.txt, deps/test.txt
#   make vmlinux    regenerate vmlinux/vmlinux.h from this kernel's BTF
#   make bench      the performance table (ratios against same-run baselines)
#   make fuzz       libFuzzer harnesses and the packet fuzzer, FUZZ_SECONDS each
#   make test-sanitize  the unit tests built with ASan, LSan and UBSan
#   make soak       the probe under steady churning load for SOAK_SECONDS
#   make corpus     replay ../shared/corpus (2 jobs): resets by verdict and
#                   signal, BitTorrent against nDPI, parse errors, failures,
#                   compared with tests/corpus/baseline.json
#   make corpus-baseline  the same, and rewrite that baseline
#   make corpus-labels    relabel the corpus's BitTorrent flows with ndpiReader
#   make install    binary, dashboard files, systemd unit (PREFIX, DESTDIR)
#   V=1             show every command line in full
#
# The flow mirrors libbpf-bootstrap: clang -target bpf -> .bpf.o (DWARF
# stripped, BTF kept) -> bpftool gen skeleton -> .skel.h included by the
# daemon.

VERSION    := 0.2.0
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
CLANG      ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL    ?= bpftool
CC         ?= cc
PYTHON     ?= /usr/bin/python3
OUT        := build
ARCH       := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# Debian packages: deps/build.txt and deps/test.txt, one "package  # why"
# line each. `make deps` installs both lists. `make` installs the build
# list, and `make test`, `make demo` and `make bench` both, when
# deps/missing.sh finds something missing (it names what, first).
DEPS_BUILD := $(strip $(shell sed -e 's/\#.*//' deps/build.txt))
DEPS_TEST  := $(strip $(shell sed -e 's/\#.*//' deps/test.txt))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

# A recipe that fails leaves no half-written target behind (an empty
# skeleton from a failed `bpftool gen skeleton > $@` would be trusted).
.DELETE_ON_ERROR:

# --- flags ---------------------------------------------------------------
CFLAGS      ?= -O2 -g
# -MMD -MP: each object's header dependencies, written by the compiler.
DEPFLAGS    := -MMD -MP
USER_INCS   := -Iinclude -Iuser -I$(OUT) -I/usr/include/plplot
# Where the binary looks is where `make install` puts things (lib/build_info.h).
BUILD_DEFS  := -DFLOWPROBE_VERSION='"$(VERSION)"' \
	-DFLOWPROBE_WEB_DIR='"$(PREFIX)/share/flowprobe/web"' \
	-DFLOWPROBE_CONFIG='"$(SYSCONFDIR)/flowprobe/flowprobe.conf"'
USER_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror $(USER_INCS) -D_GNU_SOURCE \
	$(BUILD_DEFS)
USER_LIBS   := -lbpf -lelf -lz -ljansson -lpcap -lplplot -lmicrohttpd -linih -lsystemd -lsqlite3 -lcurl -lpthread -lm
BPF_CFLAGS  := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Werror -Wall \
	-Iinclude -Ivmlinux -Ibpf
# The test and benchmark programs include libc's headers for the target.
BPF_LIBC_INC := -I/usr/include/$(shell $(CC) -dumpmachine)
# Extra -D flags for the BPF object, e.g. BPF_DEFINES=-DMAX_FLOWS=64
BPF_DEFINES ?=

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))

# user/ may hold folders (one per concern); main.c is the only object not
# linked into the tests.
USER_SRCS  := $(shell find user -name '*.c' | sort)
USER_OBJS  := $(patsubst %.c,$(OUT)/%.o,$(USER_SRCS))
MAIN_OBJ   := $(filter %/main.o,$(USER_OBJS))
LIB_OBJS   := $(filter-out $(MAIN_OBJ),$(USER_OBJS))
LIB_SRCS   := $(filter-out %/main.c,$(USER_SRCS))

# tests/unit/: C units, no privilege needed. tests/datapath/: the XDP
# program itself under BPF_PROG_TEST_RUN, as root.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c) $(wildcard tests/datapath/test_*.c)
UNIT_BINS  := $(patsubst %.c,$(OUT)/tests/%,$(notdir $(UNIT_SRCS)))
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(patsubst tests/tools/%.c,$(OUT)/tools/%,$(TOOL_SRCS))
BENCH_BPF_SRCS := $(wildcard tests/bench/*.bpf.c)
BENCH_BPF_OBJS := $(patsubst tests/bench/%.bpf.c,$(OUT)/bench/%.bpf.o,$(BENCH_BPF_SRCS))
BENCH_SRCS := $(filter-out $(BENCH_BPF_SRCS),$(wildcard tests/bench/*.c))
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))
# tests/progs/: small XDP programs the tests load themselves (e.g. "another program
# already attached" for the refusal test).
TEST_BPF_SRCS := $(wildcard tests/progs/*.bpf.c)
TEST_BPF_OBJS := $(patsubst tests/progs/%.bpf.c,$(OUT)/tools/%.bpf.o,$(TEST_BPF_SRCS))

.PHONY: all deps deps-check deps-test-check test unit integration demo demo-fleet clean \
	vmlinux bench install fuzz fuzz-build test-sanitize soak corpus corpus-baseline \
	corpus-labels

all: deps-check flowprobe

# --- dependencies ----------------------------------------------------------
apt_install = apt-get update && DEBIAN_FRONTEND=noninteractive \
	apt-get install -y --no-install-recommends $(1)

deps:
	$(call apt_install,$(DEPS_BUILD) $(DEPS_TEST))

deps-check:
	$(Q)CLANG=$(CLANG) BPFTOOL=$(BPFTOOL) deps/missing.sh deps/build.txt || \
		{ echo "installing the missing build packages"; \
		  $(call apt_install,$(DEPS_BUILD)); }

deps-test-check: deps-check
	$(Q)CLANG=$(CLANG) BPFTOOL=$(BPFTOOL) deps/missing.sh deps/test.txt || \
		{ echo "installing the missing test packages"; \
		  $(call apt_install,$(DEPS_TEST)); }

# --- BPF -------------------------------------------------------------------
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

# DWARF is stripped (libbpf-bootstrap does the same); BTF, which the
# loader and the skeleton need, stays.
$(OUT)/%.bpf.o: bpf/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) $(BPF_DEFINES) -c $< -o $@
	$(Q)$(LLVM_STRIP) -g $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# --- userspace -------------------------------------------------------------
# Every object waits for the skeletons (order-only): on the first build no
# .d file says yet that the daemon includes them.
$(OUT)/user/%.o: user/%.c | $(SKELS)
	$(call msg,CC,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) $(DEPFLAGS) -c $< -o $@

flowprobe: $(USER_OBJS)
	$(call msg,LINK,$@)
	$(Q)$(CC) $(USER_CFLAGS) $^ $(USER_LIBS) -o $@

# --- hostile input: fuzzing and sanitizers --------------------------------
# libFuzzer harnesses (tests/fuzz/fuzz_*.c) for the code that reads outside
# bytes, linked with every user object built by clang with ASan and UBSan
# into build-fuzz/. `make test` runs each FUZZ_TEST_SECONDS and the packet
# fuzzer (tests/datapath/test_datapath_fuzz.c) briefly; `make fuzz` runs them
# FUZZ_SECONDS each.
FUZZ_OUT      := build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_TEST_SECONDS := 3
SANITIZE      := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS   := -O1 -g -std=gnu11 -Wall -Wextra -Werror $(USER_INCS) \
	-D_GNU_SOURCE $(BUILD_DEFS) $(SANITIZE)
FUZZ_SRCS     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_OUT)/%.o,$(LIB_SRCS))

$(FUZZ_OUT)/user/%.o: user/%.c | $(SKELS)
	$(call msg,CC-FUZZ,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_LIB_OBJS)
	$(call msg,FUZZER,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $(DEPFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJS) \
		$(USER_LIBS) -o $@

fuzz-build: deps-test-check $(FUZZ_BINS) $(OUT)/tests/test_datapath_fuzz

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh $(OUT)/tests/test_datapath_fuzz \
		tests/fuzz/run_fuzz.sh --

# The unit tests again with AddressSanitizer (and LeakSanitizer) and
# UBSan, built by gcc into build-asan/; `make test` runs them too. The
# packet fuzzer is left out: its time is spent in the kernel.
SAN_OUT       := build-asan
SAN_CFLAGS    := $(USER_CFLAGS) $(SANITIZE)
SAN_LIB_OBJS  := $(patsubst %.c,$(SAN_OUT)/%.o,$(LIB_SRCS))
SAN_UNIT_BINS := $(patsubst %.c,$(SAN_OUT)/tests/%,\
	$(notdir $(filter-out tests/datapath/test_datapath_fuzz.c,$(UNIT_SRCS))))

$(SAN_OUT)/user/%.o: user/%.c | $(SKELS)
	$(call msg,CC-SAN,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(SAN_CFLAGS) $(DEPFLAGS) -c $< -o $@

define san_test_rule
$(SAN_OUT)/tests/%: $(1)/%.c $$(SAN_LIB_OBJS)
	$$(call msg,TEST-SAN,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(CC) $$(SAN_CFLAGS) $$(DEPFLAGS) -I$(1) $$< $$(SAN_LIB_OBJS) \
		$$(USER_LIBS) -lcmocka -o $$@
endef
$(foreach d,tests/unit tests/datapath,$(eval $(call san_test_rule,$(d))))

test-sanitize: deps-test-check $(SAN_UNIT_BINS)
	@tests/run.sh $(SAN_UNIT_BINS) --

# --- tests -----------------------------------------------------------------
define test_rule
$(OUT)/tests/%: $(1)/%.c $$(LIB_OBJS)
	$$(call msg,TEST,$$@)
	$$(Q)mkdir -p $$(@D)
	$$(Q)$$(CC) $$(USER_CFLAGS) $$(DEPFLAGS) -I$(1) $$< $$(LIB_OBJS) \
		$$(USER_LIBS) -lcmocka -o $$@
endef
$(foreach d,tests/unit tests/datapath,$(eval $(call test_rule,$(d))))

$(OUT)/tools/%.bpf.o: tests/progs/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) $(BPF_LIBC_INC) -c $< -o $@

$(OUT)/tools/%: tests/tools/%.c
	$(call msg,TOOL,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) $(DEPFLAGS) $< $(USER_LIBS) -o $@

$(OUT)/bench/%.bpf.o: tests/bench/%.bpf.c
	$(call msg,BPF,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CLANG) $(BPF_CFLAGS) $(DEPFLAGS) $(BPF_LIBC_INC) -c $< -o $@

$(OUT)/bench/%: tests/bench/%.c $(LIB_OBJS)
	$(call msg,BENCH,$@)
	$(Q)mkdir -p $(@D)
	$(Q)$(CC) $(USER_CFLAGS) $(DEPFLAGS) -Itests/bench $< $(LIB_OBJS) \
		$(USER_LIBS) -o $@

# The performance table of docs/performance.md; every figure is a ratio
# against a baseline measured in the same run.
bench: deps-test-check flowprobe $(BENCH_BINS) $(BENCH_BPF_OBJS) $(TOOL_BINS)
	$(PYTHON) tests/bench/run_bench.py

# Every test prints TAP ("ok N - ..." / "not ok N - ..."); tests/run.sh runs
# them all, keeps going after a failure, and ends with "N passed, N failed".
# The benchmarks are built (not run) too, so they cannot rot unnoticed.
test: deps-test-check flowprobe $(UNIT_BINS) $(TOOL_BINS) $(TEST_BPF_OBJS) \
		$(BENCH_BINS) $(BENCH_BPF_OBJS) $(SAN_UNIT_BINS) $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) tests/run.sh $(UNIT_BINS) \
		$(SAN_UNIT_BINS) tests/fuzz/run_fuzz.sh -- tests/integration/test_*.py

unit: deps-test-check flowprobe $(UNIT_BINS)
	@tests/run.sh $(UNIT_BINS) --

integration: deps-test-check flowprobe $(TOOL_BINS) $(TEST_BPF_OBJS)
	@tests/run.sh -- tests/integration/test_*.py

demo: deps-test-check flowprobe $(TOOL_BINS) $(TEST_BPF_OBJS)
	$(PYTHON) tests/demo.py

# Two routers into a local ClickHouse (clickhouse-server, deps/test.txt);
# prints the one alarm on merged evidence (docs/fleet.md).
demo-fleet: deps-test-check flowprobe
	$(PYTHON) tests/demo_fleet.py

# The probe under steady churning load: RSS, table fill, drain time and
# counts lost (must be 0) every few seconds. SOAK_RATE packets a second.
SOAK_SECONDS ?= 600
soak: deps-test-check flowprobe
	SOAK_SECONDS=$(SOAK_SECONDS) $(PYTHON) tests/soak.py

# The development corpus (docs/detection.md, "Measured on the corpus"):
# every rule change is measured on captures nobody tuned it to.
CORPUS_JOBS ?= 2
corpus: deps-test-check flowprobe
	$(PYTHON) tests/corpus/corpus.py run --jobs $(CORPUS_JOBS)

corpus-baseline: deps-test-check flowprobe
	$(PYTHON) tests/corpus/corpus.py run --jobs $(CORPUS_JOBS) --update-baseline

corpus-labels: deps-test-check
	$(PYTHON) tests/corpus/corpus.py label --jobs $(CORPUS_JOBS)

clean:
	rm -rf $(OUT) $(FUZZ_OUT) $(SAN_OUT) flowprobe

# --- install -----------------------------------------------------------------
# make install [PREFIX=/usr/local] [SYSCONFDIR=/etc] [DESTDIR=...]: the
# binary, the dashboard's files, the documentation, the systemd unit, the
# logrotate file and the configuration file (never overwritten if present).
# Nothing is enabled or started. Chart.js is Debian's libjs-chart.js, which
# the daemon finds in /usr/share/javascript. The paths are the ones the
# binary was built to look in (BUILD_DEFS above).
UNITDIR    ?= /lib/systemd/system
WEBDIR     := $(PREFIX)/share/flowprobe/web
DOCDIR     := $(PREFIX)/share/doc/flowprobe
CONFIG     := $(SYSCONFDIR)/flowprobe/flowprobe.conf
install: all
	install -D -m 0755 flowprobe $(DESTDIR)$(PREFIX)/sbin/flowprobe
	install -D -m 0644 -t $(DESTDIR)$(WEBDIR) web/index.html web/app.js web/style.css
	install -D -m 0644 -t $(DESTDIR)$(DOCDIR) README.md
	install -D -m 0644 -t $(DESTDIR)$(DOCDIR)/docs docs/*.md docs/*.png
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@DOCDIR@|$(DOCDIR)|g' \
		-e 's|@CONFIG@|$(CONFIG)|g' dist/flowprobe.service > $(OUT)/flowprobe.service
	install -D -m 0644 $(OUT)/flowprobe.service $(DESTDIR)$(UNITDIR)/flowprobe.service
	install -D -m 0644 dist/flowprobe.logrotate $(DESTDIR)$(SYSCONFDIR)/logrotate.d/flowprobe
	[ -e $(DESTDIR)$(CONFIG) ] || install -D -m 0640 dist/flowprobe.conf $(DESTDIR)$(CONFIG)

# Keep intermediate BPF objects: the tests load them directly.
.SECONDARY:

# The compiler-written header dependencies (absent on the first build).
-include $(shell find $(OUT) $(FUZZ_OUT) $(SAN_OUT) -name '*.d' 2>/dev/null)
