# The real TUI in tmux, for the end-to-end tests (sourced after tap.sh):
# start COLS ROWS ARGS... runs conctui in a private tmux server, screen reads
# it back, expect waits for a pattern, exit_status waits for the exit.
# ENVS adds environment settings; LANG is C.UTF-8 unless ENVS sets it.
command -v tmux >/dev/null 2>&1 || skip_all "tmux is not installed"
sock="conctui-test-$$"
T() { tmux -L "$sock" -f /dev/null "$@"; }
tmp=$(mktemp -d)
cleanup() {
    T kill-server 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT
# A private name, so the process checks below see only this test's processes.
C=$tmp/conctui-tui-$$
ln -s "$(cd "$(dirname "${CONCTUI:-./conctui}")" && pwd)/$(basename "${CONCTUI:-./conctui}")" "$C"

screen() { T capture-pane -p -t t; }
# wait_for PATTERN: poll the screen until it shows PATTERN (30 s at most:
# sanitizer builds start slowly; this bounds a hang, it does not time anything).
wait_for() {
    i=0
    while [ $i -lt 300 ]; do
        screen | grep -q -- "$1" && return 0
        sleep 0.1
        i=$((i + 1))
    done
    return 1
}
expect() { # NAME PATTERN
    if wait_for "$2"; then ok "$1"; else not_ok "$1" "screen lacks '$2'" "$(screen | head -30)"; fi
}
start() { # COLS ROWS ARGS...
    cols=$1 rows=$2
    shift 2
    T kill-server 2>/dev/null
    i=0
    while T has-session 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
    rm -f "$tmp/exit" "$tmp/pid"
    # A server still going away refuses the new session: try again (a loaded machine is slow).
    tries=0
    until T new-session -d -s t -x "$cols" -y "$rows" \
        "echo \$\$ >$tmp/pid; exec sh -c 'trap : INT; LANG=C.UTF-8 ${ENVS:-} \"$C\" $*; echo EXIT=\$? | tee $tmp/exit; sleep 30'" \
        2>/dev/null; do
        tries=$((tries + 1))
        [ $tries -ge 20 ] && break
        T kill-server 2>/dev/null
        sleep 0.5
    done
    i=0
    while [ ! -s "$tmp/pid" ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
}
exit_status() {
    i=0
    while [ ! -s "$tmp/exit" ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
    cat "$tmp/exit" 2>/dev/null
}
conctui_pid() { pgrep -x conctui -P "$(cat "$tmp/pid")" 2>/dev/null || pgrep -f "^$C" | head -1; }
no_leftovers() { ! pgrep -f "^$C" >/dev/null; }
