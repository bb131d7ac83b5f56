#!/bin/sh
# The post office: the four modes on one workload at the scene's defaults (the
# c key's comparison), with and without the heavy customer, then the readiness
# loop (mode 3) next to the same job in Python with selectors and non-blocking
# writes on the same windows (bench/postoffice_python.py). One BENCH line per
# figure; the scene's mode 3 figure is its last round's, three runs.
C=${1:-./conctui}
here=$(dirname "$0")
json() { "$C" --headless --json --scene postoffice "$@"; }
pick() { # JSON NAME...: prints "name value unit" for each figure present
    python3 - "$@" <<'PY'
import json, sys
d = json.loads(sys.argv[1])["stats"]
for name in sys.argv[2:]:
    if name in d:
        print(name, d[name]["value"], d[name]["unit"])
PY
}
# One clerk takes customers x parcels x service_us (8 s at the defaults) before the
# others run; a busy machine takes longer.
for heavy in off on; do
    j=$(json --mode epoll --duration 20 --set compare=on --set heavy=$heavy)
    tag=postoffice_; [ $heavy = on ] && tag=postoffice_heavy_
    for m in 1 2 3 4; do
        pick "$j" cmp_mode${m}_total_ms cmp_mode${m}_p99_ms |
            while read -r name value unit; do echo "BENCH $tag$name $value $unit"; done
    done
    echo "$j" | grep -q cmp_mode4_total_ms || echo "# heavy=$heavy: the comparison did not finish in 20 s"
done
for service in 20000 5000; do
    for trial in 1 2 3; do
        j=$(json --mode epoll --duration 2 --set service_us=$service)
        pick "$j" total_ms wait_p99_ms | while read -r name value unit; do
            echo "BENCH postoffice_epoll_${service}us_${name}_$trial $value $unit"
        done
    done
done
for trial in 1 2 3; do
    j=$(json --mode epoll --duration 4 --set heavy=on)
    pick "$j" total_ms wait_p99_others_ms | while read -r name value unit; do
        echo "BENCH postoffice_epoll_heavy_${name}_$trial $value $unit"
    done
done
if command -v python3 >/dev/null 2>&1; then
    for service in 20000 5000; do
        python3 "$here/postoffice_python.py" --service-us $service \
            --name postoffice_python_${service}us
    done
    python3 "$here/postoffice_python.py" --heavy --rounds 3 --name postoffice_python_heavy
else
    echo "# python3 not installed: no Python comparison"
fi
