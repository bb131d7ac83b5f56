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
# help_pages TITLE: the open help's pages one after another, PgDn until its
# title line (the one with TITLE) says N/N; a help on one page has no number.
help_pages() {
    page=1
    while [ $page -le 10 ]; do
        wait_for "$1" || return 1
        i=0
        while [ $page -gt 1 ] && [ $i -lt 100 ] &&
            ! screen | grep -- "$1" | grep -q "[^0-9]$page/[0-9]"; do
            sleep 0.1
            i=$((i + 1))
        done
        screen
        n=$(screen | grep -- "$1" | sed -n 's/.*[^0-9][0-9][0-9]*\/\([0-9][0-9]*\)[^0-9]*$/\1/p' | head -1)
        if [ -z "$n" ] || [ "$page" -ge "$n" ]; then return 0; fi
        page=$((page + 1))
        T send-keys -t t PgDn
    done
    return 1
}
# scene_key_lines SCENE: "KEY HELP" for each of the scene's own keys, from --list on stdin.
scene_key_lines() {
    awk -v s="$1" '/^[a-z]/ {on = $1 == s} on && /^  key / {sub(/^  key /, ""); sub(/  /, " "); print}'
}
