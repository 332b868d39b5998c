#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
#
# Test runner behind `make test`: tests/run.sh UNIT_BIN... -- PY_TEST...
# Runs each cmocka unit binary with TAP output and each Python integration
# test with /usr/bin/python3, shows everything they print, keeps going
# after failures, and ends with exactly one line "N passed, N failed", or
# "N passed, N failed, N skipped" when something was skipped (tools read
# the first two counts: keep that prefix).
# Counting (TAP): an "ok N" or "not ok N" line marked "# SKIP" is skipped
# (cmocka's skip() prints "not ok N # SKIP name"); every other "ok N" line
# passes, every other "not ok N" line fails (unless marked "# TODO"); a
# program that printed no result but a plan "1..0" (with or without
# "# SKIP reason") is one skip; a program that exits non-zero (crash,
# timeout) without any "not ok" line, or prints no result at all, counts
# as one failure; a program whose plan "1..N" promises more results than it
# printed counts the missing ones as failures. Exit status: 0 only when
# nothing failed.
# TEST_TIMEOUT (seconds, default 300) bounds each program.

set -u

PY=${PYTHON:-/usr/bin/python3}
TIMEOUT=${TEST_TIMEOUT:-300}

units=()
pys=()
seen_sep=0
for arg in "$@"; do
	if [ "$arg" = "--" ] && [ $seen_sep -eq 0 ]; then
		seen_sep=1
	elif [ $seen_sep -eq 0 ]; then
		units+=("$arg")
	else
		pys+=("$arg")
	fi
done

passed=0
failed=0
skipped=0
log=$(mktemp "${TMPDIR:-/tmp}/flowprobe-test.XXXXXX")
trap 'rm -f "$log"' EXIT

# run_one LABEL CMD... : run, stream output, tally.
run_one() {
	local label=$1
	shift
	echo "# ---- $label"
	# Own process group and a hard timeout: SIGTERM first so the test can
	# tear its lab down, SIGKILL 30 s later.
	CMOCKA_MESSAGE_OUTPUT=TAP timeout --kill-after=30 "$TIMEOUT" "$@" \
		</dev/null 2>&1 | tee "$log"
	local rc=${PIPESTATUS[0]}
	local ok notok todo skip plan ran extra=0
	# The SKIP directive, any case, as TAP parsers read it.
	local skip_re='#[[:space:]]*[Ss][Kk][Ii][Pp]'
	ok=$(grep -E '^ok( |$)' "$log" | grep -cvE "$skip_re")
	skip=$(grep -E '^(not )?ok( |$)' "$log" | grep -cE "$skip_re")
	notok=$(grep -E '^not ok( |$)' "$log" | grep -vE "$skip_re" |
		grep -cvE '#[[:space:]]*TODO')
	todo=$(grep -E '^not ok( |$)' "$log" | grep -vE "$skip_re" |
		grep -cE '#[[:space:]]*TODO')
	plan=$(sed -nE 's/^1\.\.([0-9]+).*/\1/p' "$log" | tail -n 1)
	ran=$((ok + notok + todo + skip))
	if [ "$rc" -eq 0 ] && [ "$ran" -eq 0 ] && [ "${plan:-x}" = 0 ]; then
		skip=1
		echo "# $label: plan 1..0: counted as one skip"
	fi
	if [ -n "$plan" ] && [ "$ran" -lt "$plan" ]; then
		extra=$((plan - ran))
		echo "# $label: planned $plan results, saw $ran: $extra counted as failed"
	fi
	if [ "$rc" -ne 0 ]; then
		case $rc in
		124 | 137) echo "# $label: timed out after ${TIMEOUT}s" ;;
		*) if [ "$rc" -gt 128 ]; then
			echo "# $label: killed by signal $((rc - 128))"
		   else
			echo "# $label: exited $rc"
		   fi ;;
		esac
		if [ "$notok" -eq 0 ] && [ "$extra" -eq 0 ]; then
			extra=1
			echo "# $label: no failing result printed: counted as one failure"
		fi
	fi
	if [ "$rc" -eq 0 ] && [ "$ran" -eq 0 ] && [ "${plan:-x}" != 0 ]; then
		extra=1
		echo "# $label: printed no test results: counted as one failure"
	fi
	passed=$((passed + ok + todo))
	failed=$((failed + notok + extra))
	skipped=$((skipped + skip))
}

for u in "${units[@]}"; do
	if [ ! -x "$u" ]; then
		echo "# ---- $u"
		echo "not ok - $u is missing or not executable"
		failed=$((failed + 1))
		continue
	fi
	run_one "$u" "$u"
done

for t in "${pys[@]}"; do
	if [ ! -f "$t" ]; then
		echo "# ---- $t"
		echo "not ok - $t is missing"
		failed=$((failed + 1))
		continue
	fi
	run_one "$t" "$PY" "$t"
done

if [ "$skipped" -gt 0 ]; then
	echo "$passed passed, $failed failed, $skipped skipped"
else
	echo "$passed passed, $failed failed"
fi
[ "$failed" -eq 0 ]
