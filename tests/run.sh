#!/bin/sh
# conctui run, headless: small programs and the states the kernel says their
# threads were in, exit statuses, child processes, output, --attach's
# permission check, recordings. Shares are compared with generous margins;
# nothing here is timed.
. "${top_srcdir:-.}/tests/tap.sh"
C=${CONCTUI:-./conctui}
B=$(dirname "$C")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
command -v python3 >/dev/null 2>&1 || skip_all "python3 is needed to read the JSON"

# lane_share FILE NAME_REGEX STATE: the largest share (percent) of STATE among lanes named so.
lane_share() {
    python3 - "$@" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{"scene"'):].splitlines()[0])
best = -1.0
for l in j["lanes"]:
    if not re.search(sys.argv[2], l["name"]):
        continue
    t = l["totals_ns"]
    alive = sum(v for k, v in t.items() if k != "done")
    if alive:
        best = max(best, 100.0 * t[sys.argv[3]] / alive)
print(int(best))
EOF
}
# lanes_with FILE NAME_REGEX STATE MIN: how many lanes named so spent at least MIN % in STATE.
lanes_with() {
    python3 - "$@" <<'EOF'
import json, re, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{"scene"'):].splitlines()[0])
n = 0
for l in j["lanes"]:
    t = l["totals_ns"]
    alive = sum(v for k, v in t.items() if k != "done")
    if re.search(sys.argv[2], l["name"]) and alive and 100.0 * t[sys.argv[3]] / alive >= float(sys.argv[4]):
        n += 1
print(n)
EOF
}
run_json() { # OUT ARGS...: conctui run --headless --json -- ARGS, its status in $rc
    out=$1
    shift
    timeout 120 "$C" run --headless --json -- "$@" >"$out" 2>"$out.err" </dev/null
    rc=$?
}

# A sleeper sleeps.
run_json "$tmp/sleep.json" sleep 1
s=$(lane_share "$tmp/sleep.json" '^sleep [0-9]+$' sleep)
if [ "$rc" -eq 0 ] && [ "$s" -ge 90 ]; then ok "a sleeper shows sleep ($s %)"; else
    not_ok "a sleeper shows sleep" "rc $rc, share $s" "$(head -c 600 "$tmp/sleep.json")"; fi

# Fidelity: a thread that sleeps 1 s and then spins 1 s shows each for about
# half its life. The spin is wall-clock, so on a busy machine part of it is
# ready (waiting for a CPU): run and ready together are the half, and most
# of it is on a CPU.
cat >"$tmp/sleepspin.py" <<'EOF'
import threading, time
def work():
    time.sleep(1)
    end = time.monotonic() + 1
    while time.monotonic() < end:
        pass
t = threading.Thread(target=work)
t.start()
t.join()
EOF
run_json "$tmp/sleepspin.json" python3 "$tmp/sleepspin.py"
shares=$(python3 - "$tmp/sleepspin.json" <<'EOF'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{"scene"'):].splitlines()[0])
lanes = [l for l in j["lanes"] if l["name"].startswith("- ")]
t = lanes[0]["totals_ns"]
alive = sum(v for k, v in t.items() if k != "done")
print("%.3f %.3f %.3f" % (t["sleep"] / alive, t["run"] / alive, t["ready"] / alive))
EOF
)
# shellcheck disable=SC2086
if [ "$rc" -eq 0 ] && python3 -c '
import sys
sl, run, ready = map(float, sys.argv[1:4])
assert 0.4 <= sl <= 0.6 and 0.4 <= run + ready <= 0.6 and run >= 0.5 * (run + ready)' $shares 2>/dev/null; then
    ok "a thread that sleeps 1 s then spins 1 s: sleep, run, ready shares $shares"; else
    not_ok "a thread that sleeps 1 s then spins 1 s" "rc $rc, sleep run ready: $shares" "$(head -c 900 "$tmp/sleepspin.json")"; fi

# A reader on an empty pipe waits for I/O.
run_json "$tmp/pipe.json" sh -c 'sleep 1 | cat'
s=$(lane_share "$tmp/pipe.json" 'cat [0-9]+$' io)
if [ "$rc" -eq 0 ] && [ "$s" -ge 50 ]; then ok "a reader on an empty pipe shows io ($s %)"; else
    not_ok "a reader on an empty pipe shows io" "rc $rc, share $s" "$(head -c 800 "$tmp/pipe.json")"; fi

# A forked child is a lane of its own, under its parent.
s=$(lane_share "$tmp/pipe.json" '^  sleep [0-9]+$' sleep)
if [ "$s" -ge 50 ]; then ok "a forked child appears as its own lane"; else
    not_ok "a forked child appears as its own lane" "share $s" "$(head -c 800 "$tmp/pipe.json")"; fi

# Threads contending on one mutex wait for the lock.
if [ -x "$B/examples/mutex_convoy" ]; then
    run_json "$tmp/mutex.json" "$B/examples/mutex_convoy" 1
    n=$(lanes_with "$tmp/mutex.json" '^- mutex_convoy' lock 20)
    if [ "$rc" -eq 0 ] && [ "$n" -ge 2 ]; then ok "threads on one mutex show lock ($n lanes)"; else
        not_ok "threads on one mutex show lock" "rc $rc, lanes $n" "$(head -c 900 "$tmp/mutex.json")"; fi
else
    not_ok "threads on one mutex show lock" "examples/mutex_convoy is not built"
fi

# The program's exit status is conctui's; a signal is 128 + its number.
timeout 60 "$C" run --headless -- sh -c 'exit 7' >"$tmp/out" 2>&1 </dev/null
rc=$?
if [ "$rc" -eq 7 ] && grep -q 'exited with status 7' "$tmp/out"; then ok "the exit status is returned"; else
    not_ok "the exit status is returned" "rc $rc" "$(tail -3 "$tmp/out")"; fi
timeout 60 "$C" run --headless -- sh -c 'kill -9 $$' >"$tmp/out" 2>&1 </dev/null
rc=$?
if [ "$rc" -eq 137 ] && grep -q 'killed by signal 9' "$tmp/out"; then ok "a signal's death is 128 + its number"; else
    not_ok "a signal's death is 128 + its number" "rc $rc" "$(tail -3 "$tmp/out")"; fi
timeout 60 "$C" run --headless -- no-such-program-here >"$tmp/out" 2>&1 </dev/null
rc=$?
if [ "$rc" -eq 127 ] && grep -q 'cannot run no-such-program-here' "$tmp/out"; then ok "a missing program is 127"; else
    not_ok "a missing program is 127" "rc $rc" "$(cat "$tmp/out")"; fi

# Output passes through headless (into stderr beside --json); stdin is /dev/null unless --stdin.
echo from-stdin | timeout 60 "$C" run --headless -- sh -c 'echo out-line; cat' >"$tmp/out" 2>&1
if grep -q '^out-line$' "$tmp/out" && ! grep -q from-stdin "$tmp/out"; then ok "output passes through, stdin is /dev/null"; else
    not_ok "output passes through, stdin is /dev/null" "$(head -5 "$tmp/out")"; fi
echo from-stdin | timeout 60 "$C" run --headless --stdin -- cat >"$tmp/out" 2>&1
if grep -q '^from-stdin$' "$tmp/out"; then ok "--stdin passes conctui's input"; else
    not_ok "--stdin passes conctui's input" "$(head -5 "$tmp/out")"; fi
timeout 60 "$C" run --headless --json -- sh -c 'echo json-aside' >"$tmp/out" 2>"$tmp/err" </dev/null
if grep -q json-aside "$tmp/err" && python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$tmp/out"; then
    ok "--json keeps the program's output out of the JSON"; else
    not_ok "--json keeps the program's output out of the JSON" "$(head -c 300 "$tmp/out")"; fi

# A duration that runs out ends the program (and everything it started), and conctui exits 0.
timeout 60 "$C" run --headless --duration 0.5 -- sh -c 'sleep 31.4159 & sleep 31.4158' >"$tmp/out" 2>&1 </dev/null
rc=$?
sleep 0.2
if [ "$rc" -eq 0 ] && grep -q 'ended by conctui' "$tmp/out" && ! pgrep -f 'sleep 31.415' >/dev/null; then
    ok "the duration ends the program and its children"; else
    not_ok "the duration ends the program and its children" "rc $rc, left: $(pgrep -af 'sleep 31.415')" "$(tail -3 "$tmp/out")"
    pkill -f 'sleep 31.415'
fi

# Many threads at once: lanes run out, the rest are counted and their running shown as a gauge.
python3 -c 'import threading,time
ts=[threading.Thread(target=time.sleep,args=(1,)) for _ in range(100)]
[t.start() for t in ts]; [t.join() for t in ts]' >/dev/null 2>&1 &&
    {
        run_json "$tmp/many.json" python3 -c 'import threading,time
ts=[threading.Thread(target=time.sleep,args=(1,)) for _ in range(100)]
[t.start() for t in ts]; [t.join() for t in ts]'
        if [ "$rc" -eq 0 ] && python3 - "$tmp/many.json" <<'EOF'; then ok "a hundred threads: lanes up to the table, the rest counted"; else not_ok "a hundred threads" "rc $rc" "$(head -c 400 "$tmp/many.json")"; fi
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{"scene"'):].splitlines()[0])
assert len(j["lanes"]) == 64, len(j["lanes"])
assert j["lanes"][-1]["kind"] == "gauge"
assert j["stats"]["threads_unlaned"]["value"] >= 100 - 63
EOF
    }

# --attach: a process of one's own is followed; another user's is refused, saying why.
sleep 30 &
mine=$!
timeout 60 "$C" run --headless --json --duration 0.5 --attach "$mine" >"$tmp/att.json" 2>"$tmp/err" </dev/null
rc=$?
s=$(lane_share "$tmp/att.json" '^sleep [0-9]+$' sleep)
if [ "$rc" -eq 0 ] && [ "$s" -ge 90 ] && kill -0 "$mine" 2>/dev/null; then ok "--attach follows a process and leaves it running"; else
    not_ok "--attach follows a process and leaves it running" "rc $rc, share $s" "$(cat "$tmp/err")"; fi
kill "$mine" 2>/dev/null
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
    setpriv --reuid=65534 --regid=65534 --clear-groups sleep 30 &
    theirs=$!
    sleep 0.2
    # As another unprivileged user (not root: root may follow anyone).
    setpriv --reuid=65533 --regid=65533 --clear-groups --inh-caps=-all \
        "$C" run --headless --duration 0.5 --attach "$theirs" >"$tmp/out" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq 1 ] && grep -q 'not permitted: the process runs as uid 65534' "$tmp/out"; then
        ok "--attach to another user's process fails, saying why"; else
        not_ok "--attach to another user's process fails, saying why" "rc $rc" "$(cat "$tmp/out")"; fi
    kill "$theirs" 2>/dev/null
else
    ok "# SKIP --attach to another user's process: needs root to switch users (setpriv)"
fi
timeout 60 "$C" run --headless --duration 0.5 --attach 999999999 >"$tmp/out" 2>&1 </dev/null
if [ $? -eq 1 ] && grep -q 'no such process' "$tmp/out"; then ok "--attach to no process"; else
    not_ok "--attach to no process" "$(cat "$tmp/out")"; fi

# Usage errors exit 2.
for args in "run" "run --attach 1 -- true" "run --stdin -- cat" "run --scene gil -- true" \
    "run --json -- true" "--attach 5"; do
    # shellcheck disable=SC2086
    timeout 60 "$C" $args >"$tmp/out" 2>&1 </dev/null
    rc=$?
    if [ "$rc" -eq 2 ]; then ok "usage error: conctui $args"; else not_ok "usage error: conctui $args" "rc $rc" "$(head -3 "$tmp/out")"; fi
done

# Exact mode where the kernel gives the switch records, else sampled with the
# reason: which one depends on perf_event_paranoid and the user, and the note
# must say the one that was used.
json_field() { # FILE EXPR: a value from the run's JSON (python expression over j)
    python3 - "$1" "$2" <<'EOF2'
import json, sys
text = open(sys.argv[1]).read()
j = json.loads(text[text.index('{"scene"'):].splitlines()[0])
print(eval(sys.argv[2]))
EOF2
}
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 99)
PY=$(python3 -c 'import sys; print(sys.executable)')
run_json "$tmp/exact.json" "$PY" -c 'import time
for _ in range(50): time.sleep(0.002)'
note=$(json_field "$tmp/exact.json" 'j["note"]')
recs=$(json_field "$tmp/exact.json" 'j["stats"].get("records_per_s", {}).get("value", 0)')
sleep_share=$(lane_share "$tmp/exact.json" '^python3 [0-9]+$' sleep)
if [ "$(id -u)" -eq 0 ] || [ "$paranoid" -le 2 ]; then
    case $note in
    exact:*) if python3 -c "import sys; sys.exit(0 if float('$recs') > 50 else 1)" && [ "$sleep_share" -ge 50 ]; then
        ok "exact mode where perf_event_open allows it ($recs records/s, sleep $sleep_share %)"; else
        not_ok "exact mode where perf_event_open allows it" "records/s $recs, sleep $sleep_share %"; fi ;;
    *) not_ok "exact mode where perf_event_open allows it" "note: $note" ;;
    esac
else
    case $note in
    "sampled: perf_event_open refused"*) ok "sampled mode, saying why, where perf_event_open refuses" ;;
    *) not_ok "sampled mode, saying why, where perf_event_open refuses" "note: $note" ;;
    esac
fi
timeout 120 "$C" run --headless --json --mode sampled -- sleep 0.2 >"$tmp/sampled.json" 2>&1 </dev/null
note=$(json_field "$tmp/sampled.json" 'j["note"]')
recs=$(json_field "$tmp/sampled.json" '"records_per_s" in j["stats"]')
if [ "$note" = "sampled: the sampled mode was chosen" ] && [ "$recs" = False ]; then
    ok "--mode sampled samples, and says so"; else
    not_ok "--mode sampled samples, and says so" "note: $note, records: $recs"; fi
# Another user gets what the kernel allows that user, and the note says which.
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null 2>&1; then
    # A copy that user may run (the build may sit in a directory only root reads).
    nb=$(mktemp -d)
    chmod 755 "$nb"
    cp "$C" "$nb/conctui"
    setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
        timeout 120 "$nb/conctui" run --headless --json -- sleep 0.2 >"$tmp/nobody.json" 2>&1 </dev/null
    rm -rf "$nb"
    note=$(json_field "$tmp/nobody.json" 'j["note"]')
    if [ "$paranoid" -le 2 ]; then want='exact:*'; else want='sampled: perf_event_open refused*'; fi
    # shellcheck disable=SC2254
    case $note in
    $want) ok "an unprivileged user's mode follows perf_event_paranoid ($paranoid): $note" ;;
    *) not_ok "an unprivileged user's mode follows perf_event_paranoid ($paranoid)" "note: $note" \
        "$(head -c 400 "$tmp/nobody.json")" ;;
    esac
else
    ok "# SKIP an unprivileged user's mode: needs root to switch users (setpriv)"
fi

# A recording of a run replays with its lanes and exports as a Chrome trace.
timeout 60 "$C" run --headless --record "$tmp/run.rec" --export-chrome "$tmp/run.json" -- sh -c 'sleep 0.3; true' \
    >"$tmp/out" 2>&1 </dev/null
rc=$?
if [ "$rc" -eq 0 ] && "$C" --replay "$tmp/run.rec" --headless --json >"$tmp/rep.json" 2>&1 &&
    grep -q '"scene":"program"' "$tmp/rep.json" && grep -q '"name":"  sleep [0-9]*"' "$tmp/rep.json" &&
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); assert any("sleep" in str(e.get("args",e)) or "sleep" in str(e) for e in (d["traceEvents"] if isinstance(d,dict) else d))' "$tmp/run.json"; then
    ok "--record and --export-chrome"; else
    not_ok "--record and --export-chrome" "rc $rc" "$(head -c 400 "$tmp/rep.json")"; fi

tap_done
