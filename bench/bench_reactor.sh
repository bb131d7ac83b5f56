#!/bin/sh
# The reactor scene's two models as BENCH lines: the built-in clients, flat
# out, run against both back to back (the c key's comparison), then an
# external load generator (wrk, when installed) against each model alone.
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
j=$(json --scene reactor --duration 7 --set conns=32 --set think_us=0 --set compare=on \
    --set cmp_ms=2500)
for m in reactor proactor; do
    pick "$j" cmp_${m}_rps cmp_${m}_p50_us cmp_${m}_p99_us cmp_${m}_sys_req \
        cmp_${m}_csw_req cmp_${m}_cpu_req |
        while read -r name value unit; do echo "BENCH ${name#cmp_} $value $unit"; done
done
if ! command -v wrk >/dev/null 2>&1; then
    echo "# wrk not installed: no external-client figures"
    exit 0
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
for m in reactor proactor; do
    json --scene reactor --mode $m --duration 8 --set conns=0 --set port="$port" \
        >"${TMPDIR:-/tmp}/bench_reactor.$$" &
    pid=$!
    sleep 1
    wrk -t1 -c32 -d5s --latency "http://127.0.0.1:$port/" | awk -v m="$m" '
        /Requests\/sec/ { print "BENCH wrk_" m "_rps " $2 " req/s" }
        $1 == "99%" { v = $2; u = v; sub(/[a-z]+$/, "", v); sub(/^[0-9.]+/, "", u);
                      if (u == "ms") v *= 1000; if (u == "s") v *= 1000000;
                      print "BENCH wrk_" m "_p99_us " v " us" }'
    wait "$pid"
    pick "$(cat "${TMPDIR:-/tmp}/bench_reactor.$$")" requests server_syscalls server_ctxsw \
        server_cpu_ms | awk -v m="$m" '
        { f[$1] = $2 }
        END { if (f["requests"] > 0) {
                printf "BENCH wrk_%s_sys_req %.3f\n", m, f["server_syscalls"] / f["requests"];
                printf "BENCH wrk_%s_csw_req %.4f\n", m, f["server_ctxsw"] / f["requests"];
                printf "BENCH wrk_%s_cpu_req %.2f us\n", m, 1000 * f["server_cpu_ms"] / f["requests"] } }'
done
rm -f "${TMPDIR:-/tmp}/bench_reactor.$$"
