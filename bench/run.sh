#!/bin/sh
# bench/run.sh BUILD_DIR - runs every benchmark and prints its figures.
#
#   1. every executable in BUILD_DIR/bench/, in name order, without
#      arguments (each prints its own medians), but bench_mhd, a bare
#      server that bench_api.py measures as the machine's ceiling;
#   2. the stdin streaming rate of "BUILD_DIR/hrid code validate -" over a
#      generated file of 1M distinct valid codes, one a line, canonical and
#      display form: lines per second, median of 3 runs, output discarded;
#   3. the registry through a real hridd (bench/bench_api.py);
#   4. statistics, as-of and recalls (bench/bench_accountability.py);
#   5. telemetry ingest over HTTP and over MQTT (bench/bench_telemetry_api.py,
#      bench/bench_mqtt.py).
#
# Figures go to stdout; docs/PERFORMANCE.md says how they are recorded.
# Exits non-zero when a benchmark fails, so "make bench" fails with it.
set -eu

B=${1:-build}
LINES=1000000
RUNS=3

if [ ! -d "$B/bench" ]; then
	echo "bench/run.sh: no $B/bench; run 'make bench'" >&2
	exit 1
fi

echo "# $(date -u +%Y-%m-%dT%H:%MZ), $(nproc) CPUs," \
	"$(lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1)"

for b in "$B"/bench/*; do
	[ -f "$b" ] && [ -x "$b" ] || continue
	[ "$(basename "$b")" = bench_mhd ] && continue
	echo "== $(basename "$b")"
	"$b"
done

# Seconds (with nanoseconds) on a clock that only moves forward as far as
# date(1) allows; GNU date's %N is enough for runs of a tenth of a second.
now() { date +%s.%N; }

# Prints the median of the numbers on stdin, one a line.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

# stream_rate LABEL FILE [OPTION...]: lines/s of "hrid code validate -".
stream_rate() {
	label=$1 file=$2
	shift 2
	i=0
	: > "$tmp/rates"
	while [ $i -lt $RUNS ]; do
		t0=$(now)
		if ! "$B/hrid" code validate "$@" - < "$file" > /dev/null \
		    2> "$tmp/stderr"; then
			cat "$tmp/stderr" >&2
			echo "bench/run.sh: hrid code validate $* - failed" >&2
			exit 1
		fi
		t1=$(now)
		awk -v n=$LINES -v a="$t0" -v b="$t1" \
			'BEGIN { printf "%.0f\n", n / (b - a) }' >> "$tmp/rates"
		i=$((i + 1))
	done
	m=$(median < "$tmp/rates")
	awk -v l="$label" -v m="$m" -v r=$RUNS -v n=$LINES 'BEGIN {
		printf "%-40s %7.2f M lines/s  (median of %d runs, %d lines)\n",
		    l, m / 1e6, r, n }'
}

echo "== hrid code validate - (stdin streaming)"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM
"$B/bench/bench_code" --gen $LINES > "$tmp/canonical.txt"
"$B/bench/bench_code" --gen-display $LINES > "$tmp/display.txt"
stream_rate "canonical, one result a line" "$tmp/canonical.txt"
stream_rate "canonical, --quiet" "$tmp/canonical.txt" --quiet
stream_rate "display form, one result a line" "$tmp/display.txt"

# The registry through the real server: bulk registration, lookups and
# lifecycle events with wrk, and hridd's memory.  BENCH_UNITS sets the
# fleet size (1,000,000 by default, the size the targets are set for).
echo "== hridd (bench/bench_api.py)"
python3 bench/bench_api.py "$B" --units "${BENCH_UNITS:-1000000}"

# Statistics, as-of and recalls (bench/bench_accountability.py) on a fleet
# of BENCH_ACC_UNITS units (200,000 by default).
echo "== hridd accountability (bench/bench_accountability.py)"
python3 bench/bench_accountability.py "$B" --units "${BENCH_ACC_UNITS:-200000}"

# Telemetry ingest and compaction through hridd
# (bench/bench_telemetry_api.py).
echo "== hridd telemetry (bench/bench_telemetry_api.py)"
python3 bench/bench_telemetry_api.py "$B"

# Telemetry ingest over MQTT through a real mosquitto and hridd
# (bench/bench_mqtt.py).  It needs the broker (Debian mosquitto, which
# "make test" installs; the bench dependencies do not) and Python's
# cryptography module to sign; without them it is skipped, and says so.
echo "== hridd telemetry over MQTT (bench/bench_mqtt.py)"
if [ -x /usr/sbin/mosquitto ] && python3 -c 'import cryptography' 2>/dev/null; then
	python3 bench/bench_mqtt.py "$B"
else
	echo "skipped: needs /usr/sbin/mosquitto and python3's cryptography module"
fi
