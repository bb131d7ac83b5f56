#!/bin/sh
# The course's asyncio example: the evloop scene (mode 2 and, for contrast,
# mode 4 threads) next to real python3 running bench/asyncio_python.py for
# the same shortened time. One BENCH line per figure. RUN_S sets the time.
C=${1:-./conctui}
here=$(dirname "$0")
run=${RUN_S:-15}
for m in asyncio threads; do
    "$C" --headless --json --scene evloop --mode $m --duration $((run + 1)) \
        --set run_s=$run --set work_ms=0 | python3 -c '
import json, sys
d = json.load(sys.stdin)["stats"]
m = sys.argv[1]
for k in ("prints", "os_threads", "late_p50", "late_p99", "tasks_done"):
    print("BENCH evloop_%s_%s %g %s" % (m, k, d[k]["value"], d[k]["unit"]))
' $m
done
if command -v python3 >/dev/null 2>&1; then
    python3 "$here/asyncio_python.py" "$run"
else
    echo "# python3 not installed: no real-CPython comparison"
fi
