#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Runs each libFuzzer harness for FUZZ_SECONDS (default 3) from its seed
# corpus (tests/fuzz/corpus/NAME, read only: new inputs go to a scratch
# directory) and prints TAP: "ok" when it ran its time without a crash,
# leak or sanitizer report, "not ok" with the report's tail otherwise.
# Crash inputs are kept in FUZZ_ARTIFACTS (default build-fuzz/artifacts)
# to reproduce: build-fuzz/fuzz_NAME FILE.
#   tests/fuzz/run_fuzz.sh [build-fuzz/fuzz_capture ...]   (default: all)

set -u
# Every harness built, not the compiler's dependency files beside them.
[ $# -gt 0 ] || set -- $(ls build-fuzz/fuzz_* | grep -v '\.d$')
secs=${FUZZ_SECONDS:-3}
here=$(dirname "$0")
artifacts=${FUZZ_ARTIFACTS:-build-fuzz/artifacts}
mkdir -p "$artifacts"
echo "1..$#"
n=0
for bin in "$@"; do
	n=$((n + 1))
	name=$(basename "$bin")
	name=${name#fuzz_}
	scratch=$(mktemp -d "${TMPDIR:-/tmp}/flowprobe-fuzz-$name.XXXXXX")
	log=$scratch/log
	seeds=$here/corpus/$name
	[ -d "$seeds" ] || seeds=
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1024 \
		-max_len=4096 -print_final_stats=1 \
		-artifact_prefix="$artifacts/$name-" "$scratch" $seeds >"$log" 2>&1
	rc=$?
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log")
	if [ $rc -eq 0 ] && [ -n "$runs" ]; then
		echo "ok $n - fuzz $name: ${runs} inputs in ${secs} s, no crash, leak or undefined behaviour"
	else
		echo "not ok $n - fuzz $name: exit $rc (input kept in $artifacts)"
		grep -E "ERROR|SUMMARY|runtime error|Test unit written" "$log" | head -20 | sed 's/^/#   /'
		tail -n 30 "$log" | sed 's/^/#   /'
	fi
	rm -rf "$scratch"
done
