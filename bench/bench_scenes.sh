#!/bin/sh
# Scene figures as BENCH lines (the post office's are bench/bench_postoffice.sh):
# the executor's dispatch overhead per pool, the parallel sum's speedup at
# T = 2 per mode, and the task queue's latencies and tasks/s (headless runs).
C=${1:-./conctui}
json() { "$C" --headless --json "$@"; }
pick() { # JSON NAME...: prints "name value unit" for each figure present
    python3 - "$@" <<'PY'
import json, sys
d = json.loads(sys.argv[1])["stats"]
for name in sys.argv[2:]:
    if name in d:
        print(name, d[name]["value"], d[name]["unit"])
PY
}
for m in threads locked falseshare gil processes openmp simd; do
    j=$(json --scene parsum --mode $m --duration 4 --set pause_ms=50 --set threads=2)
    pick "$j" speedup | while read -r name value unit; do echo "BENCH parsum_${m}_t2_$name $value $unit"; done
done
# Executor: submit -> start with a worker idle, the result's trip back, the waiter's wake-up.
for m in threads processes; do
    j=$(json --scene executor --mode $m --duration 5 --set sleep_ms=1 --set main_sleep_ms=0 --set pause_ms=0)
    pick "$j" dispatch_p50 dispatch_p99 return_p50 wake_p50 |
        while read -r name value unit; do echo "BENCH executor_${m}_$name $value $unit"; done
done
j=$(json --scene parsum --mode threads --duration 4 --set pause_ms=50 --set array=on)
pick "$j" mem_bw read_rate of_mem_bw |
    while read -r name value unit; do echo "BENCH parsum_memory_$name $value $unit"; done
j=$(json --scene taskqueue --duration 5 --set rate=50 --set task_ms=50 --set workers=4)
pick "$j" req_p50_us req_p99_us done_p50_ms done_p99_ms tasks_s |
    while read -r name value unit; do echo "BENCH taskqueue_$name $value $unit"; done
for k in 1 4; do
    j=$(json --scene taskqueue --duration 4 --set rate=1000 --set task_ms=20 --set workers=$k)
    pick "$j" tasks_s | while read -r name value unit; do echo "BENCH taskqueue_k${k}_$name $value $unit"; done
done
j=$(json --scene taskqueue --duration 4 --set rate=5000 --set task_ms=0 --set workers=2)
pick "$j" tasks_s | while read -r name value unit; do echo "BENCH taskqueue_empty_$name $value $unit"; done
