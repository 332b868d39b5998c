# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# flowprobe: build the XDP datapath, its skeleton, the daemon, the tests.
#
#   make            build ./flowprobe (installs Debian packages if missing)
#   make test       build and run every test; last line "N passed, N failed"
#   make demo       two-host lab in network namespaces, NetFlow into nfcapd
#   make deps       install the Debian packages listed below
#   make vmlinux    regenerate vmlinux/vmlinux.h from this kernel's BTF
#   make fuzz       libFuzzer harnesses and the packet fuzzer, FUZZ_SECONDS each
#   make test-sanitize  the unit tests built with ASan, LSan and UBSan
#   make soak       the probe under steady churning load for SOAK_SECONDS
#   make install    binary, dashboard files, systemd unit (PREFIX, DESTDIR)
#
# The flow mirrors libbpf-bootstrap: clang -target bpf -> .bpf.o ->
# bpftool gen skeleton -> .skel.h included by the daemon.

CLANG     ?= clang
BPFTOOL   ?= bpftool
CC        ?= cc
PYTHON    ?= /usr/bin/python3
OUT       := build
ARCH      := $(shell uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')

# Debian packages and why each is here. `make deps` installs them all;
# the build installs them on first use when a needed tool is missing.
DEPS_BUILD := \
	clang          `# compiles bpf/*.bpf.c to BPF` \
	llvm           `# llvm-strip for the BPF objects` \
	libbpf-dev     `# loads the programs, maps, skeletons, ring buffers` \
	libelf-dev     `# libbpf reads BPF ELF objects through libelf` \
	zlib1g-dev     `# libbpf links zlib` \
	bpftool        `# generates skeletons and vmlinux.h` \
	libpcap-dev    `# reads pcap and pcapng captures for replay` \
	libjansson-dev `# JSON Lines output without hand-written escaping` \
	libplplot-dev  `# flowprobe curve: axes, ticks, labels of the SVG picture` \
	libmicrohttpd-dev `# the daemon's dashboard, JSON API and /metrics (--http)` \
	iproute2       `# ip link / ip netns for the lab and the tests` \
	pkg-config     `# finds the libraries' flags`
DEPS_TEST := \
	libcmocka-dev  `# unit-test framework with TAP output` \
	nfdump         `# nfcapd receives our NetFlow, nfdump reads it back` \
	tshark         `# Wireshark's cflow dissector checks every export packet` \
	pmacct         `# nfacctd: a third real NetFlow collector` \
	softflowd      `# a peer probe for the benchmarks` \
	python3        `# integration-test driver (standard library only)` \
	python3-scapy  `# crafts odd packets (fragments, VLANs) in tests` \
	tcpdump        `# ground truth: captures what the test hosts sent` \
	util-linux     `# nsenter, setpriv for the privilege test` \
	chromium       `# headless browser for the dashboard test (driven by playwright-core)` \
	prometheus     `# promtool checks /metrics against the Prometheus text format` \
	libclang-rt-14-dev `# libFuzzer, ASan and UBSan runtimes for clang: tests/fuzz`
# The dashboard's charting library (and the browser test's driver) come
# from the npm registry, pinned by web/package-lock.json. Installed only
# when npm is missing: a machine's own Node.js (e.g. NodeSource's, which
# conflicts with Debian's npm package) is used as it is.
DEPS_WEB := nodejs npm

# Commands and headers whose absence means `make deps` has not run.
DEPS_PROBE_CMDS := $(CLANG) $(BPFTOOL) pkg-config
DEPS_PROBE_HDRS := /usr/include/bpf/libbpf.h /usr/include/libelf.h \
	/usr/include/zlib.h /usr/include/pcap/pcap.h /usr/include/jansson.h \
	/usr/include/plplot/plplot.h /usr/include/microhttpd.h
DEPS_TEST_CMDS  := nfcapd nfdump tshark nfacctd softflowd tcpdump nsenter setpriv \
	chromium promtool
DEPS_TEST_HDRS  := /usr/include/cmocka.h \
	/usr/lib/llvm-14/lib/clang/14.0.6/lib/linux/libclang_rt.fuzzer-x86_64.a

# --- flags ---------------------------------------------------------------
CFLAGS     ?= -O2 -g
USER_CFLAGS := $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iuser -I$(OUT) \
	-D_GNU_SOURCE -I/usr/include/plplot
USER_LIBS  := -lbpf -lelf -lz -ljansson -lpcap -lplplot -lmicrohttpd -lpthread -lm
BPF_CFLAGS := -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -Werror -Wall \
	-Iinclude -Ivmlinux -Ibpf
# Extra -D flags for the BPF object, e.g. BPF_DEFINES=-DMAX_FLOWS=64
BPF_DEFINES ?=

BPF_SRCS   := $(wildcard bpf/*.bpf.c)
BPF_OBJS   := $(patsubst bpf/%.bpf.c,$(OUT)/%.bpf.o,$(BPF_SRCS))
SKELS      := $(patsubst bpf/%.bpf.c,$(OUT)/%.skel.h,$(BPF_SRCS))
BPF_HDRS   := $(wildcard bpf/*.bpf.h) $(wildcard include/*.h)

USER_SRCS  := $(wildcard user/*.c)
USER_OBJS  := $(patsubst user/%.c,$(OUT)/user/%.o,$(USER_SRCS))
LIB_OBJS   := $(filter-out $(OUT)/user/main.o,$(USER_OBJS))
USER_HDRS  := $(wildcard user/*.h) $(wildcard include/*.h)

UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(patsubst tests/unit/%.c,$(OUT)/tests/%,$(UNIT_SRCS))
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(patsubst tests/tools/%.c,$(OUT)/tools/%,$(TOOL_SRCS))
BENCH_SRCS := $(wildcard tests/bench/*.c)
BENCH_BPF_SRCS := $(wildcard tests/bench/*.bpf.c)
BENCH_BPF_OBJS := $(patsubst tests/bench/%.bpf.c,$(OUT)/bench/%.bpf.o,$(BENCH_BPF_SRCS))
BENCH_SRCS := $(filter-out $(BENCH_BPF_SRCS),$(BENCH_SRCS))
BENCH_BINS := $(patsubst tests/bench/%.c,$(OUT)/bench/%,$(BENCH_SRCS))
# Small XDP programs the tests load themselves (e.g. "another program
# already attached" for the refusal test).
TEST_BPF_SRCS := $(wildcard tests/bpf/*.bpf.c)
TEST_BPF_OBJS := $(patsubst tests/bpf/%.bpf.c,$(OUT)/tools/%.bpf.o,$(TEST_BPF_SRCS))

.PHONY: all deps deps-check deps-test-check deps-web-check test unit integration \
	demo clean vmlinux bench install web fuzz fuzz-build test-sanitize soak

all: deps-check flowprobe web

# --- dependencies ----------------------------------------------------------
deps:
	apt-get update
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		$(DEPS_BUILD) $(DEPS_TEST)

deps-check:
	@for c in $(DEPS_PROBE_CMDS); do command -v $$c >/dev/null || missing=1; done; \
	for h in $(DEPS_PROBE_HDRS); do [ -e $$h ] || missing=1; done; \
	if [ -n "$$missing" ]; then echo "build dependencies missing: running make deps"; \
		$(MAKE) --no-print-directory deps; fi

deps-test-check: deps-check
	@for c in $(DEPS_TEST_CMDS); do command -v $$c >/dev/null || missing=1; done; \
	for h in $(DEPS_TEST_HDRS); do [ -e $$h ] || missing=1; done; \
	[ -x $(PYTHON) ] || missing=1; \
	$(PYTHON) -c 'import scapy' 2>/dev/null || missing=1; \
	if [ -n "$$missing" ]; then echo "test dependencies missing: running make deps"; \
		$(MAKE) --no-print-directory deps; fi

deps-web-check:
	@command -v npm >/dev/null || { echo "npm missing: installing $(DEPS_WEB)"; \
		apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y \
		--no-install-recommends $(DEPS_WEB); }

# --- web assets --------------------------------------------------------------
# Chart.js (and playwright-core for the browser test) from the committed
# lock file; the daemon serves web/ itself, no CDN at run time.
WEB_STAMP := web/node_modules/.package-lock.json
web: $(WEB_STAMP)
$(WEB_STAMP): web/package.json web/package-lock.json | deps-web-check
	cd web && npm ci --no-audit --no-fund --loglevel=error
	@touch $@

# --- BPF -------------------------------------------------------------------
vmlinux:
	$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/vmlinux.h

$(OUT) $(OUT)/user $(OUT)/tests $(OUT)/tools $(OUT)/bench:
	mkdir -p $@

$(OUT)/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(OUT)
	$(CLANG) $(BPF_CFLAGS) $(BPF_DEFINES) -c $< -o $@

$(OUT)/%.skel.h: $(OUT)/%.bpf.o
	$(BPFTOOL) gen skeleton $< name $*_bpf > $@

# --- userspace -------------------------------------------------------------
$(OUT)/user/%.o: user/%.c $(USER_HDRS) $(SKELS) | $(OUT)/user
	$(CC) $(USER_CFLAGS) -c $< -o $@

flowprobe: $(USER_OBJS)
	$(CC) $(USER_CFLAGS) $^ $(USER_LIBS) -o $@

# --- hostile input: fuzzing and sanitizers --------------------------------
# libFuzzer harnesses (tests/fuzz/fuzz_*.c) for the code that reads outside
# bytes, linked with every user object built by clang with ASan and UBSan
# into build-fuzz/. `make test` runs each FUZZ_TEST_SECONDS and the packet
# fuzzer (tests/unit/test_datapath_fuzz.c) briefly; `make fuzz` runs them
# FUZZ_SECONDS each.
FUZZ_OUT      := build-fuzz
FUZZ_SECONDS  ?= 60
FUZZ_TEST_SECONDS := 3
SANITIZE      := -fsanitize=address,undefined -fno-sanitize-recover=all \
	-fno-omit-frame-pointer
FUZZ_CFLAGS   := -O1 -g -std=gnu11 -Wall -Wextra -Werror -Iinclude -Iuser -I$(OUT) \
	-D_GNU_SOURCE -I/usr/include/plplot $(SANITIZE)
FUZZ_SRCS     := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_BINS     := $(patsubst tests/fuzz/%.c,$(FUZZ_OUT)/%,$(FUZZ_SRCS))
FUZZ_LIB_OBJS := $(patsubst user/%.c,$(FUZZ_OUT)/user/%.o,$(filter-out user/main.c,$(USER_SRCS)))

$(FUZZ_OUT)/user:
	mkdir -p $@

$(FUZZ_OUT)/user/%.o: user/%.c $(USER_HDRS) $(SKELS) | $(FUZZ_OUT)/user
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_OUT)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_input.h $(FUZZ_LIB_OBJS)
	$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $< $(FUZZ_LIB_OBJS) $(USER_LIBS) -o $@

fuzz-build: deps-test-check $(FUZZ_BINS) $(OUT)/tests/test_datapath_fuzz

fuzz: fuzz-build
	@FUZZ_SECONDS=$(FUZZ_SECONDS) tests/run.sh $(OUT)/tests/test_datapath_fuzz \
		tests/fuzz/run_fuzz.sh --

# The unit tests again with AddressSanitizer (and LeakSanitizer) and
# UBSan, built by gcc into build-asan/; `make test` runs them too. The
# packet fuzzer is left out: its time is spent in the kernel.
SAN_OUT       := build-asan
SAN_CFLAGS    := $(USER_CFLAGS) $(SANITIZE)
SAN_LIB_OBJS  := $(patsubst user/%.c,$(SAN_OUT)/user/%.o,$(filter-out user/main.c,$(USER_SRCS)))
SAN_UNIT_BINS := $(patsubst tests/unit/%.c,$(SAN_OUT)/tests/%,\
	$(filter-out tests/unit/test_datapath_fuzz.c,$(UNIT_SRCS)))

$(SAN_OUT)/user $(SAN_OUT)/tests:
	mkdir -p $@

$(SAN_OUT)/user/%.o: user/%.c $(USER_HDRS) $(SKELS) | $(SAN_OUT)/user
	$(CC) $(SAN_CFLAGS) -c $< -o $@

$(SAN_OUT)/tests/%: tests/unit/%.c $(SAN_LIB_OBJS) $(USER_HDRS) $(SKELS) | $(SAN_OUT)/tests
	$(CC) $(SAN_CFLAGS) -Itests/unit $< $(SAN_LIB_OBJS) $(USER_LIBS) -lcmocka -o $@

test-sanitize: deps-test-check $(SAN_UNIT_BINS)
	@tests/run.sh $(SAN_UNIT_BINS) --

# --- tests -----------------------------------------------------------------
$(OUT)/tests/%: tests/unit/%.c $(LIB_OBJS) $(USER_HDRS) $(SKELS) | $(OUT)/tests
	$(CC) $(USER_CFLAGS) -Itests/unit $< $(LIB_OBJS) $(USER_LIBS) -lcmocka -o $@

$(OUT)/tools/%.bpf.o: tests/bpf/%.bpf.c | $(OUT)/tools
	$(CLANG) $(BPF_CFLAGS) -I/usr/include/$(shell $(CC) -dumpmachine) -c $< -o $@

$(OUT)/tools/%: tests/tools/%.c | $(OUT)/tools
	$(CC) $(USER_CFLAGS) $< $(USER_LIBS) -o $@

$(OUT)/bench/%.bpf.o: tests/bench/%.bpf.c $(BPF_HDRS) | $(OUT)/bench
	$(CLANG) $(BPF_CFLAGS) -I/usr/include/$(shell $(CC) -dumpmachine) -c $< -o $@

$(OUT)/bench/%: tests/bench/%.c $(LIB_OBJS) $(USER_HDRS) $(SKELS) | $(OUT)/bench
	$(CC) $(USER_CFLAGS) -Itests/bench $< $(LIB_OBJS) $(USER_LIBS) -lpthread -o $@

# The performance table of the README's Performance section; every figure
# is a ratio against a baseline measured in the same run.
bench: deps-test-check flowprobe $(BENCH_BINS) $(BENCH_BPF_OBJS) $(TOOL_BINS)
	$(PYTHON) tests/bench/run_bench.py

# Every test prints TAP ("ok N - ..." / "not ok N - ..."); tests/run.sh runs
# them all, keeps going after a failure, and ends with "N passed, N failed".
# The benchmarks are built (not run) too, so they cannot rot unnoticed.
test: deps-test-check flowprobe web $(UNIT_BINS) $(TOOL_BINS) $(TEST_BPF_OBJS) \
		$(BENCH_BINS) $(BENCH_BPF_OBJS) $(SAN_UNIT_BINS) $(FUZZ_BINS)
	@FUZZ_SECONDS=$(FUZZ_TEST_SECONDS) tests/run.sh $(UNIT_BINS) \
		$(SAN_UNIT_BINS) tests/fuzz/run_fuzz.sh -- tests/integration/test_*.py

unit: deps-test-check flowprobe $(UNIT_BINS)
	@tests/run.sh $(UNIT_BINS) --

integration: deps-test-check flowprobe web $(TOOL_BINS) $(TEST_BPF_OBJS)
	@tests/run.sh -- tests/integration/test_*.py

demo: deps-test-check flowprobe web $(TOOL_BINS) $(TEST_BPF_OBJS)
	$(PYTHON) tests/demo.py

# The probe under steady churning load: RSS, table fill, drain time and
# counts lost (must be 0) every few seconds. SOAK_RATE packets a second.
SOAK_SECONDS ?= 600
soak: deps-test-check flowprobe
	SOAK_SECONDS=$(SOAK_SECONDS) $(PYTHON) tests/soak.py

clean:
	rm -rf $(OUT) $(FUZZ_OUT) $(SAN_OUT) flowprobe web/node_modules

# --- install -----------------------------------------------------------------
# make install [PREFIX=/usr/local] [DESTDIR=...]: the binary, the dashboard's
# files, the systemd unit and its /etc/default file (never overwritten if
# present). Nothing is enabled or started.
PREFIX     ?= /usr/local
DESTDIR    ?=
SYSCONFDIR ?= /etc
UNITDIR    ?= /lib/systemd/system
WEBDIR     := $(PREFIX)/share/flowprobe/web
install: all
	install -D -m 0755 flowprobe $(DESTDIR)$(PREFIX)/sbin/flowprobe
	install -D -m 0644 web/index.html $(DESTDIR)$(WEBDIR)/index.html
	install -D -m 0644 web/app.js $(DESTDIR)$(WEBDIR)/app.js
	install -D -m 0644 web/style.css $(DESTDIR)$(WEBDIR)/style.css
	install -D -m 0644 web/node_modules/chart.js/dist/chart.umd.js \
		$(DESTDIR)$(WEBDIR)/vendor/chart.umd.js
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|g' -e 's|@WEBDIR@|$(WEBDIR)|g' \
		dist/flowprobe.service > $(OUT)/flowprobe.service
	install -D -m 0644 $(OUT)/flowprobe.service $(DESTDIR)$(UNITDIR)/flowprobe.service
	[ -e $(DESTDIR)$(SYSCONFDIR)/default/flowprobe ] || \
		install -D -m 0644 dist/flowprobe.default $(DESTDIR)$(SYSCONFDIR)/default/flowprobe

# Keep intermediate BPF objects: the tests load them directly.
.SECONDARY:
