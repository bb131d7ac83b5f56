#!/bin/sh
# conctui run's sampler: the passes it makes a second and its own CPU
# (percent of one core) while it follows N threads asleep in a Python
# program, N = 1, 16 and 64; and the lock shares it sees in two CPython
# CPU-bound threads under the GIL (examples/gil_threads.py); and the cost
# to a CPU-bound 2-thread C program (bench/cpu2.c) of being followed: its
# wall time alone and under `conctui run --headless`, interleaved, ROUNDS
# times (default 15; STEPS million steps a thread, default 400): the
# median of the ratios, and the ratio of the fastest of each; and, in exact
# mode, the switch records a second it takes from a pipe ping-pong
# (bench/pingpong.c) and how many were lost. One BENCH line per figure.
C=${1:-./conctui}
here=$(cd "$(dirname "$0")/.." && pwd)
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || exit 0
for n in 1 16 64; do
    "$C" run --mode sampled --headless --json -- "$PY" -c "
import threading, time
ts = [threading.Thread(target=time.sleep, args=(3,)) for _ in range($n)]
[t.start() for t in ts]; [t.join() for t in ts]" | python3 -c '
import json, sys
s = json.load(sys.stdin)["stats"]
print("BENCH run_sample_hz_%s %.0f Hz" % (sys.argv[1], s["sample_hz"]["value"]))
print("BENCH run_sampler_cpu_%s %.1f %%" % (sys.argv[1], s["sampler_cpu"]["value"]))
' "$n"
done
for mode in sampled exact; do
"$C" run --mode $mode --headless --json -- "$PY" "$here/examples/gil_threads.py" 40000000 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
k = 0
for l in j["lanes"]:
    if not l["name"].startswith("- "):
        continue
    t = l["totals_ns"]
    alive = sum(v for s, v in t.items() if s != "done")
    print("BENCH run_%s_gil_thread%d_lock_share %.1f %%" % (sys.argv[1], k, 100.0 * t["lock"] / alive))
    print("BENCH run_%s_gil_thread%d_run_share %.1f %%" % (sys.argv[1], k, 100.0 * t["run"] / alive))
    k += 1
' "$mode"
done

# The sampler's cost to the program it follows.
CC=${CC:-cc}
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT

# Exact mode: the switch records a second it takes without loss, from two
# threads passing a byte through pipes as fast as they can.
if $CC -O2 -pthread -o "$bin/pingpong" "$here/bench/pingpong.c" 2>/dev/null; then
    "$C" run --headless --json -- "$bin/pingpong" 3 2>/dev/null </dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
s = j["stats"]
if "records_per_s" not in s:
    print("BENCH run_exact_records_per_s 0 /s (%s)" % j["note"])
    sys.exit(0)
print("BENCH run_exact_records_per_s %.0f /s" % s["records_per_s"]["value"])
print("BENCH run_exact_records_lost %d records" % s["records_lost"]["value"])
print("BENCH run_exact_sampler_cpu %.1f %%" % s["sampler_cpu"]["value"])
'
fi
if $CC -O2 -pthread -o "$bin/cpu2" "$here/bench/cpu2.c" 2>/dev/null; then
    : >"$bin/times"
    i=0
    while [ $i -lt "${ROUNDS:-15}" ]; do
        a=$("$bin/cpu2" "${STEPS:-400}" | sed -n 's/^wall_s \([0-9.]*\).*/\1/p')
        b=$("$C" run --headless -- "$bin/cpu2" "${STEPS:-400}" </dev/null 2>/dev/null | sed -n 's/^wall_s \([0-9.]*\).*/\1/p')
        echo "$a $b" >>"$bin/times"
        i=$((i + 1))
    done
    python3 - "$bin/times" <<'EOF'
import statistics, sys
rows = [tuple(map(float, l.split())) for l in open(sys.argv[1]) if len(l.split()) == 2]
ratios = sorted(b / a for a, b in rows)
print("BENCH run_cpu2_alone_s %.3f s" % statistics.median(a for a, _ in rows))
print("BENCH run_cpu2_followed_s %.3f s" % statistics.median(b for _, b in rows))
print("BENCH run_overhead_pct %.1f %% (ratios %s)" % (100 * (statistics.median(ratios) - 1),
      " ".join("%.3f" % r for r in ratios)))
# Other load on the machine only adds time: the fastest of each is the least disturbed.
print("BENCH run_overhead_best_pct %.1f %%" % (100 * (min(b for _, b in rows) / min(a for a, _ in rows) - 1)))
EOF
fi
