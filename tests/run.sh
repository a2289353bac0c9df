#!/bin/sh
# Runs every test suite against the binaries under $1 (the sanitizer build,
# build/san, by default) and ends with one summary line, "N passed,
# N failed", and a non-zero exit if anything failed.
#
#   unit  cmocka binaries, one per module (tests/unit/test_*.c)
#   cli   black-box tests of the hrid tool (tests/cli/run.py)
#   api   black-box tests against a real hridd (tests/api/run.py), on
#         SQLite and then again on a throw-away PostgreSQL cluster
#         (tests/pgcluster.py)
#   cluster  two hridd nodes on one PostgreSQL database behind nginx
#         (tests/cluster/run.py)
#   web   the portal: its pages over HTTP and in headless chromium
#         (tests/web/run.py)
#   fuzz  a short bounded run of each libFuzzer driver over its corpus
set -u
B=${1:-build/san}
export HRID="$B/hrid" HRIDD="$B/hridd"
# Sanitizer failures must fail the run, and leaks are failures too.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

pass=0
fail=0
failed=
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

# count SUITE NAME LOGFILE STATUS: adds a suite's own counts to the totals.
# Each runner prints "N passed, N failed" (the python suites) or cmocka's
# "[  PASSED  ] N test(s)." lines; a runner that died without its summary
# counts as one failure.
count() {
	p=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\1/p;s/^\[  PASSED  \] \([0-9][0-9]*\) test.*/\1/p' "$3" | tail -n 1)
	f=$(sed -n 's/^\([0-9][0-9]*\) passed, \([0-9][0-9]*\) failed.*/\2/p;s/^\[  FAILED  \] \([0-9][0-9]*\) test.*/\1/p' "$3" | tail -n 1)
	p=${p:-0}
	f=${f:-0}
	if [ "$4" -ne 0 ] && [ "$f" -eq 0 ]; then
		f=1
	fi
	pass=$((pass + p))
	fail=$((fail + f))
	if [ "$f" -ne 0 ]; then
		failed="$failed $1/$2"
		echo "---- $1/$2 failed; its output:"
		cat "$3"
		echo "----"
	fi
	printf '%-7s %-28s %4d passed, %d failed\n' "$1" "$2" "$p" "$f"
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	n=$(basename "$t")
	"$t" >"$log/$n" 2>&1
	count unit "$n" "$log/$n" $?
done

for suite in cli api web; do
	[ -f "tests/$suite/run.py" ] || continue
	python3 "tests/$suite/run.py" >"$log/$suite" 2>&1
	count "$suite" "run.py" "$log/$suite" $?
done

# The api suite again with every hridd on a PostgreSQL database of one
# throw-away cluster, then the cluster suite (which starts its own).  On a
# machine without PostgreSQL's server they are skipped, and say so;
# "scripts/install-deps.sh test" installs it.
if why=$(python3 tests/pgcluster.py available); then
	python3 tests/pgcluster.py run -- python3 tests/api/run.py >"$log/api-pg" 2>&1
	count api "run.py (postgresql)" "$log/api-pg" $?
	python3 tests/cluster/run.py >"$log/cluster" 2>&1
	count cluster "run.py" "$log/cluster" $?
else
	echo "postgresql tests skipped: $why"
fi

# Each fuzz driver runs for a bounded time over its seed corpus; a crash
# or sanitizer report fails it.  The scratch corpus stays under build/.
for f in build/fuzz/fuzz_*; do
	[ -x "$f" ] || continue
	n=$(basename "$f")
	mkdir -p "build/fuzz/corpus-$n"
	if "$f" -max_total_time="${FUZZ_SECONDS:-15}" "build/fuzz/corpus-$n" \
		"tests/fuzz/corpus/$n" >"$log/$n" 2>&1; then
		echo "1 passed, 0 failed" >>"$log/$n"
		count fuzz "$n" "$log/$n" 0
	else
		count fuzz "$n" "$log/$n" 1
	fi
done

echo
if [ "$fail" -ne 0 ]; then
	echo "failed:$failed"
fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
