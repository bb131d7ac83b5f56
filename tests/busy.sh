#!/bin/sh
# A busy machine is said: with CPU-bound programs beside a light scene,
# --json says machine_busy 1 and the TUI's status line says it; after they
# end, machine_busy is 0 again (checked only when the machine was idle
# before the test: others' load is not this test's to control).
. "${top_srcdir:-.}/tests/tap.sh"
skip_when_asked busy
C=${CONCTUI:-./conctui}
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
[ -r /proc/stat ] || skip_all "no /proc/stat"
have_tmux=0
if command -v tmux >/dev/null 2>&1; then
    . "${top_srcdir:-.}/tests/tmux.sh" # makes $tmp, removed by its cleanup
    have_tmux=1
else
    tmp=$(mktemp -d)
    cleanup() { rm -rf "$tmp"; }
fi
spinners=""
stop_spinners() {
    for p in $spinners; do kill "$p" 2>/dev/null; done
    for p in $spinners; do wait "$p" 2>/dev/null; done
    spinners=""
}
trap 'stop_spinners; cleanup' EXIT

# busy: "BUSY OTHER" of a 3 s headless run of a scene that barely uses the CPU.
busy() {
    "$C" --headless --json --scene prodcons --duration 3 </dev/null 2>"$tmp/err" |
        python3 -c 'import json, sys; d = json.load(sys.stdin); print(d["machine_busy"], d["machine_other_cpu"])'
}

set -- $(busy)
before_busy=$1 before_other=$2
echo "# before: machine_busy $before_busy, other programs $before_other cores"

# Two spinners, more on a machine with many CPUs (each takes one CPU), at the
# lowest priority so that tests running beside this one keep theirs.
n=$((2 + $(getconf _NPROCESSORS_ONLN 2>/dev/null || echo 2) / 8))
i=0
while [ $i -lt "$n" ]; do
    nice -n 19 sh -c 'while :; do :; done' &
    spinners="$spinners $!"
    i=$((i + 1))
done
sleep 0.5
set -- $(busy)
if [ "$1" = 1 ]; then ok "$n spinners: machine_busy 1 (other programs $2 cores)"; else
    not_ok "$n spinners: machine_busy 1" "machine_busy $1, other programs $2 cores" "$(cat "$tmp/err")"; fi

# The TUI says it in the status line while they spin.
if [ $have_tmux = 1 ]; then
    start 100 30 --scene prodcons
    expect "$n spinners: the status line says the machine is busy" "machine busy: other programs use"
    T kill-server 2>/dev/null
fi

stop_spinners
sleep 1
if [ "$before_busy" = 0 ]; then
    set -- $(busy)
    for retry in 1 2 3; do # a passing burst elsewhere: look again
        [ "$1" = 0 ] && break
        sleep 2
        set -- $(busy)
    done
    if [ "$1" = 0 ]; then ok "spinners gone: machine_busy 0 (other programs $2 cores)"; else
        not_ok "spinners gone: machine_busy 0" "machine_busy $1, other programs $2 cores"; fi
else
    echo "# the machine was busy before the test ($before_other cores): the idle check is skipped"
fi
tap_done
