#!/bin/sh
# GIL fidelity: the gil scene's figures next to real python3 running the same
# workloads on this machine (bench/gil_python.py). One BENCH line per figure.
C=${1:-./conctui}
here=$(dirname "$0")
fig() { # ARGS... -> prints the JSON stats of one headless run
    "$C" --headless --scene gil --duration 3 --json "$@"
}
get() { # JSON NAME
    python3 -c 'import json,sys; print(json.loads(sys.argv[1])["stats"][sys.argv[2]]["value"])' "$1" "$2"
}
j=$(fig --set cpu_threads=2 --set io_threads=0)
echo "BENCH gil_scene_cpu_2threads_vs_seq $(get "$j" slowdown) x"
j=$(fig --mode oldgil --set cpu_threads=2 --set io_threads=0)
echo "BENCH gil_scene_oldgil_cpu_2threads_vs_seq $(get "$j" slowdown) x"
j=$(fig --mode nogil --set cpu_threads=2 --set io_threads=0)
echo "BENCH gil_scene_nogil_cpu_2threads_vs_seq $(get "$j" slowdown) x"
j=$(fig --set cpu_threads=0 --set io_threads=1)
echo "BENCH gil_scene_io_roundtrips_alone $(get "$j" io_roundtrips_per_s) rt/s"
echo "BENCH gil_scene_io_rtt_p99_alone $(get "$j" io_rtt_p99) ms"
for trial in 1 2 3; do
    j=$(fig --set cpu_threads=1 --set io_threads=1)
    echo "BENCH gil_scene_io_roundtrips_with_cpu_$trial $(get "$j" io_roundtrips_per_s) rt/s"
    echo "BENCH gil_scene_io_rtt_p99_with_cpu_$trial $(get "$j" io_rtt_p99) ms"
done
if command -v python3 >/dev/null 2>&1; then
    python3 "$here/gil_python.py"
else
    echo "# python3 not installed: no real-CPython comparison"
fi
