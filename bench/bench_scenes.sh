#!/bin/sh
# Scene figures as BENCH lines: the post office's four modes on one workload,
# and the parallel sum's speedup at T = 2 per mode (headless runs).
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
j=$(json --scene postoffice --duration 8 --set compare=on --set pause_ms=0)
for m in 1 2 3 4; do
    pick "$j" cmp_mode${m}_total_ms cmp_mode${m}_parcels_s cmp_mode${m}_p50_ms cmp_mode${m}_p99_ms |
        while read -r name value unit; do echo "BENCH postoffice_$name $value $unit"; done
done
for m in threads locked falseshare gil processes openmp simd; do
    j=$(json --scene parsum --mode $m --duration 4 --set pause_ms=50 --set threads=2)
    pick "$j" speedup | while read -r name value unit; do echo "BENCH parsum_${m}_t2_$name $value $unit"; done
done
j=$(json --scene parsum --mode threads --duration 4 --set pause_ms=50 --set array=on)
pick "$j" mem_bw read_rate of_mem_bw |
    while read -r name value unit; do echo "BENCH parsum_memory_$name $value $unit"; done
