#!/bin/sh
# Soak: every scene and mode runs headless for SOAK_SECONDS while its
# resident memory, open descriptors, threads and child processes are
# sampled; after a warm-up third, descriptors, threads and children must not
# change and memory must not keep growing; no zombie may be left behind.
# `make soak` runs it for minutes; `make check` for a few seconds.
# SOAK_SKIP_MEMORY=1 leaves memory out (an ASan build keeps freed memory in
# quarantine, so its resident size says nothing about leaks).
. "${top_srcdir:-.}/tests/tap.sh"
skip_when_asked soak
C=${CONCTUI:-./conctui}
secs=${SOAK_SECONDS:-3}
[ -d /proc/self ] || skip_all "needs /proc"

sample() { # PID -> "rss_kb fds threads children"
    rss=$(awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null)
    thr=$(awk '/^Threads/ {print $2}' "/proc/$1/status" 2>/dev/null)
    fds=$(ls "/proc/$1/fd" 2>/dev/null | wc -l)
    kids=$(pgrep -P "$1" | wc -l)
    echo "${rss:-0} $fds ${thr:-0} $kids"
}

"$C" --list | awk '/^[a-z]/ {scene = $1} /^  mode / {print scene, $2}' >"${TMPDIR:-/tmp}/soak.$$"
while read -r scene mode; do
    # The run lasts until it has been watched long enough: at least SOAK_SECONDS
    # and eight samples (a loaded machine samples slowly), then SIGTERM ends it,
    # so its teardown is never among the samples.
    "$C" --headless --scene "$scene" --mode "$mode" --duration 3600 >/dev/null 2>&1 &
    pid=$!
    stop=$(($(date +%s%N) + secs * 1000000000))
    give_up=$((stop + 120000000000))
    : >"${TMPDIR:-/tmp}/soak.samples.$$"
    # Until it exits (a zombie counts as exited) or two minutes past the time.
    while kill -0 "$pid" 2>/dev/null && [ "$(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null)" != Z ] &&
        [ "$(date +%s%N)" -lt "$give_up" ]; do
        # No descriptors or no threads: the process is starting or ending.
        sample "$pid" | awk '$2 > 0 && $3 > 0' >>"${TMPDIR:-/tmp}/soak.samples.$$"
        n=$(wc -l <"${TMPDIR:-/tmp}/soak.samples.$$")
        [ "$n" -ge 8 ] && [ "$(date +%s%N)" -ge "$stop" ] && break
        sleep 0.25
    done
    kill -TERM "$pid" 2>/dev/null
    wait "$pid"
    st=$?
    # Ended by the SIGTERM sent above: 128 + 15.
    [ "$st" -eq 143 ] && st=0
    # A round may hold a descriptor or a thread for a moment: what must not
    # happen is growth, so the least of each seen late is compared with the
    # most seen in the middle of the run (memory: the most against the most).
    verdict=$(awk -v skipmem="${SOAK_SKIP_MEMORY:-0}" '
        { row[NR] = $0 }
        END {
            a = int(NR / 3); b = int(2 * NR / 3)
            if (NR < 3) { print "too few samples (" NR ")"; exit }
            for (k = a + 1; k <= NR; k++) {
                split(row[k], s)
                for (c = 1; c <= 4; c++)
                    if (k <= b) { if (s[c] > mid[c]) mid[c] = s[c] }
                    else {
                        if (s[c] > late[c]) late[c] = s[c]
                        if (!(c in least) || s[c] < least[c]) least[c] = s[c]
                    }
            }
            for (c = 2; c <= 4; c++)
                if (least[c] > mid[c]) {
                    print "descriptors/threads/children grew: " mid[2] " " mid[3] " " mid[4] \
                        " -> " least[2] " " least[3] " " least[4]; exit
                }
            if (!skipmem && late[1] > mid[1] + 4096) { print "memory kept growing: " mid[1] " kB -> " late[1] " kB"; exit }
            print "ok"
        }' "${TMPDIR:-/tmp}/soak.samples.$$")
    zombies=$(ps -o stat= --ppid $$ 2>/dev/null | grep -c '^Z')
    if [ "$st" -eq 0 ] && [ "$verdict" = ok ] && [ "$zombies" -eq 0 ]; then
        ok "soak $scene mode $mode ($secs s): flat"
    else
        not_ok "soak $scene mode $mode ($secs s)" "exit $st, $verdict, $zombies zombies" \
            "$(tail -3 "${TMPDIR:-/tmp}/soak.samples.$$")"
    fi
done <"${TMPDIR:-/tmp}/soak.$$"
rm -f "${TMPDIR:-/tmp}/soak.$$" "${TMPDIR:-/tmp}/soak.samples.$$"
tap_done
