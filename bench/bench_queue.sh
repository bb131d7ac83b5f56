#!/bin/sh
# The course's queue: the prodcons scene in its two regimes next to real
# python3 running bench/queue_python.py for the same time. One BENCH line
# per figure. RUN_S sets the time (default 15 s).
C=${1:-./conctui}
here=$(dirname "$0")
run=${RUN_S:-15}
scene() { # NAME SETTINGS...
    name=$1
    shift
    "$C" --headless --json --scene prodcons --duration "$run" "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin)["stats"]
for k in ("produced", "consumed", "max_occupancy", "full_at_s", "producer_blocked",
          "consumer_blocked"):
    if k in d:
        print("BENCH prodcons_%s_%s %g %s" % (sys.argv[1], k, d[k]["value"], d[k]["unit"]))
' "$name"
}
scene course --set prod_rate=1 --set cons_rate=0
scene fast --set prod_rate=4 --set cons_rate=2
if command -v python3 >/dev/null 2>&1; then
    python3 "$here/queue_python.py" "$run"
else
    echo "# python3 not installed: no real-CPython comparison"
fi
