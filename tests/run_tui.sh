#!/bin/sh
# conctui run in the real TUI (tmux, 120x40): real CPython threads under the
# GIL as lanes that run and wait for the lock, the program's prints in the
# output panel, f stopping the program, q ending it with nothing left behind,
# the inspector showing a sleeping thread's wait channel.
. "${top_srcdir:-.}/tests/tap.sh"
skip_when_asked tui
. "${top_srcdir:-.}/tests/tmux.sh"
PY=$(python3 -c 'import sys; print(sys.executable)' 2>/dev/null) || skip_all "python3 is not installed"
ex=${top_srcdir:-.}/examples/gil_threads.py
ex=$(cd "$(dirname "$ex")" && pwd)/gil_threads.py

start 120 40 run -- "$PY" "$ex" 400000000
expect "the output panel shows the program's prints" "switch interval 5 ms"
expect "the first count ends" "one thread, whole count:"
# Two thread lanes, each showing both running and waiting for the GIL (a futex: lock).
ok_lanes=0
i=0
while [ $i -lt 100 ] && [ "$ok_lanes" -lt 2 ]; do
    ok_lanes=$(screen | grep -- '^- python3 [0-9]* *│' | grep '█' | grep -c '╳')
    sleep 0.2
    i=$((i + 1))
done
if [ "$ok_lanes" -ge 2 ]; then ok "both CPython threads' lanes show run and lock"; else
    not_ok "both CPython threads' lanes show run and lock" "$(screen | head -12)"; fi
# G: the process's three threads in one row, and back.
T send-keys -t t G
expect "G puts the process's threads in one row" "^python3 [0-9]* +2 *│"
T send-keys -t t G
expect "G again: a row a thread" "^- python3 [0-9]* *│"
T send-keys -t t f
expect "f stops the program with SIGSTOP" "stopped (SIGSTOP)"
# . lets the program run until one of its threads changes state on its own,
# names that transition, and stops the program again.
T send-keys -t t .
expect ". runs the program to one thread's next transition and names it" "python3 [0-9]*: .* → "
stopped_all() { # every thread of the program is stopped (T)
    for t in /proc/"$1"/task/*; do
        grep -q '^[0-9]* ([^)]*) [Tt] ' "$t/stat" 2>/dev/null || return 1
    done
}
# With the inspector on a thread's lane, . waits for that thread.
# The thread the step names must be the other one than the last step's, so the
# message cannot be the old one.
last=$(screen | sed -n 's/.*python3 \([0-9]*\): .* → .*/\1/p' | tail -1)
T send-keys -t t i i
expect "the inspector opens on a thread's lane" "Lane: - python3 [0-9]*"
tid=$(screen | sed -n 's/.*Lane: - python3 \([0-9]*\).*/\1/p' | head -1)
if [ "$tid" = "$last" ]; then
    T send-keys -t t i
    sleep 0.3
    tid=$(screen | sed -n 's/.*Lane: - python3 \([0-9]*\).*/\1/p' | head -1)
fi
T send-keys -t t .
expect ". with the inspector steps the inspected thread" "python3 $tid: .* → "
T send-keys -t t Escape
ppid=$(pgrep -f "^$PY $ex" | head -1)
i=0
until stopped_all "$ppid" || [ $i -ge 50 ]; do sleep 0.1; i=$((i + 1)); done
if [ -n "$ppid" ] && stopped_all "$ppid"; then ok "after the step every thread of the program is stopped again"; else
    not_ok "after the step every thread of the program is stopped again" "$(cat /proc/"$ppid"/task/*/stat 2>&1 | cut -c1-60)"; fi
T send-keys -t t f
T send-keys -t t q
st=$(exit_status)
sleep 0.3
if [ "$st" = "EXIT=0" ] && ! pgrep -f "^$PY $ex" >/dev/null; then ok "q ends the program and leaves nothing running"; else
    not_ok "q ends the program and leaves nothing running" "$st" "$(pgrep -af "^$PY $ex")"
    pkill -f "^$PY $ex"
fi

# The inspector's wait channel: a thread asleep in time.sleep waits in the
# kernel's nanosleep (where this kernel shows wait channels to their owner).
printf 'import time\ntime.sleep(60)\n' >"$tmp/sleeper.py"
sleep 30 &
sl=$!
sleep 0.2
want='wait channel: [a-z_.]*nanosleep'
[ "$(cat /proc/$sl/wchan 2>/dev/null)" = 0 ] && want='wait channel: none'
kill $sl
start 120 40 run -- "$PY" "$tmp/sleeper.py"
expect "the sleeper's lane sleeps" "z sleep"
T send-keys -t t i
expect "the inspector shows the sleeping thread's wait channel" "$want"
T send-keys -t t q
st=$(exit_status)
tap_done
