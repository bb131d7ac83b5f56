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
# The slowdown is measured: the same countdowns run sequentially, then on
# the threads at once, round after round; the median and its range.
spread() { # JSON NAME
    python3 -c 'import json,sys; s=json.loads(sys.argv[1])["stats"]; n=sys.argv[2]; print(s[n]["value"], "x (%s-%s, %s rounds)" % (s.get(n+"_min",{}).get("value","?"), s.get(n+"_max",{}).get("value","?"), s.get(n+"_rounds",{}).get("value","?")))' "$1" "$2"
}
j=$(fig --set cpu_threads=2 --set io_threads=0)
echo "BENCH gil_scene_cpu_2threads_vs_seq $(spread "$j" slowdown)"
j=$(fig --mode oldgil --set cpu_threads=2 --set io_threads=0)
echo "BENCH gil_scene_oldgil_cpu_2threads_vs_seq $(spread "$j" slowdown)"
j=$(fig --mode nogil --set cpu_threads=2 --set io_threads=0)
echo "BENCH gil_scene_nogil_cpu_2threads_vs_seq $(spread "$j" slowdown)"
j=$(fig --set cpu_threads=0 --set io_threads=1)
echo "BENCH gil_scene_io_roundtrips_alone $(get "$j" io_roundtrips_per_s) rt/s"
echo "BENCH gil_scene_io_rtt_p99_alone $(get "$j" io_rtt_p99) ms"
for trial in 1 2 3; do
    j=$(fig --set cpu_threads=1 --set io_threads=1)
    echo "BENCH gil_scene_io_roundtrips_with_cpu_$trial $(get "$j" io_roundtrips_per_s) rt/s"
    echo "BENCH gil_scene_io_rtt_p99_with_cpu_$trial $(get "$j" io_rtt_p99) ms"
done
# Threads help I/O: a server 10 ms away, 1, 2 and 8 I/O threads, alone and
# next to one CPU-bound thread.
for cpu in 0 1; do
    for io in 1 2 8; do
        j=$(fig --set cpu_threads=$cpu --set io_threads=$io --set io_latency_us=10000)
        tag=${io}threads
        [ "$cpu" = 1 ] && tag=${tag}_with_cpu
        echo "BENCH gil_scene_io_10ms_roundtrips_$tag $(get "$j" io_roundtrips_per_s) rt/s"
    done
done
if command -v python3 >/dev/null 2>&1; then
    python3 "$here/gil_python.py"
else
    echo "# python3 not installed: no real-CPython comparison"
fi
