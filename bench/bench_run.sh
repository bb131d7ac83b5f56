#!/bin/sh
# conctui run's sampler: the passes it makes a second and its own CPU
# (percent of one core) while it follows N threads asleep in a Python
# program, N = 1, 16 and 64; and the lock shares it sees in two CPython
# CPU-bound threads under the GIL (examples/gil_threads.py). One BENCH line
# per figure.
C=${1:-./conctui}
here=$(cd "$(dirname "$0")/.." && pwd)
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || exit 0
for n in 1 16 64; do
    "$C" run --headless --json -- "$PY" -c "
import threading, time
ts = [threading.Thread(target=time.sleep, args=(3,)) for _ in range($n)]
[t.start() for t in ts]; [t.join() for t in ts]" | python3 -c '
import json, sys
s = json.load(sys.stdin)["stats"]
print("BENCH run_sample_hz_%s %.0f Hz" % (sys.argv[1], s["sample_hz"]["value"]))
print("BENCH run_sampler_cpu_%s %.1f %%" % (sys.argv[1], s["sampler_cpu"]["value"]))
' "$n"
done
"$C" run --headless --json -- "$PY" "$here/examples/gil_threads.py" 40000000 2>/dev/null | python3 -c '
import json, sys
j = json.load(sys.stdin)
k = 0
for l in j["lanes"]:
    if not l["name"].startswith("- "):
        continue
    t = l["totals_ns"]
    alive = sum(v for s, v in t.items() if s != "done")
    print("BENCH run_gil_thread%d_lock_share %.1f %%" % (k, 100.0 * t["lock"] / alive))
    print("BENCH run_gil_thread%d_run_share %.1f %%" % (k, 100.0 * t["run"] / alive))
    k += 1
'
