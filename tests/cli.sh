#!/bin/sh
# The program's command line, end to end: exit codes, messages, headless output.
. "${top_srcdir:-.}/tests/tap.sh"
C=${CONCTUI:-./conctui}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

expect_exit() { # NAME STATUS PATTERN ARGS...
    name=$1 want=$2 pat=$3
    shift 3
    # timeout: a command that hangs (a FIFO opened for reading) fails with 124.
    timeout 60 "$C" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
    got=$?
    if [ "$got" -ne "$want" ]; then
        not_ok "$name" "exit $got, wanted $want" "$(cat "$tmp/err")"
    elif [ -n "$pat" ] && ! grep -q -- "$pat" "$tmp/out" "$tmp/err"; then
        not_ok "$name" "output lacks '$pat'" "$(cat "$tmp/out" "$tmp/err" | head -5)"
    else
        ok "$name"
    fi
}

expect_exit "--help" 0 "Usage: conctui" --help
expect_exit "--version" 0 "conctui [0-9]" --version
expect_exit "--list shows scenes, modes, parameters" 0 "mode 3 lockfree" --list
expect_exit "unknown option is a usage error" 2 "Usage:" --frobnicate
expect_exit "missing value is a usage error" 2 "needs a value" --scene
expect_exit "unknown scene lists the valid ones" 2 "scenes are: postoffice prodcons" --scene nosuch
expect_exit "bad mode lists the modes" 2 "1=threads" --scene prodcons --mode 7
expect_exit "out-of-range --set" 2 "out of range" --headless --scene prodcons --duration 1 --set capacity=0
expect_exit "non-numeric --set" 2 "not a whole number" --headless --scene prodcons --duration 1 --set producers=two
expect_exit "empty --set" 2 "not a whole number" --headless --scene prodcons --duration 1 --set producers=
expect_exit "huge --set" 2 "out of range" --headless --scene prodcons --duration 1 --set prod_rate=99999999999999999999999
expect_exit "bad duration" 2 "duration" --headless --scene prodcons --duration soon
expect_exit "headless without duration" 2 "needs --duration" --headless --scene prodcons
expect_exit "not a terminal points to --headless" 1 "--headless" --scene prodcons

# Headless text output: a timeline row per lane and name value unit lines.
if "$C" --headless --scene prodcons --duration 0.5 --width 40 --ascii >"$tmp/out" 2>&1; then
    if grep -q '^producer 0 *|' "$tmp/out" && grep -q '^throughput [0-9.e+]* items/s$' "$tmp/out" &&
        grep -q '^exactly_once_violations 0$' "$tmp/out" && ! LC_ALL=C grep -q '[^ -~]' "$tmp/out"; then
        ok "headless text output (ASCII)"
    else
        not_ok "headless text output (ASCII)" "$(head -20 "$tmp/out")"
    fi
else
    not_ok "headless run exits 0" "$(cat "$tmp/out")"
fi

# JSON output parses and carries the stats and per-lane totals.
if "$C" --headless --scene prodcons --mode processes --duration 0.5 --json >"$tmp/json" 2>"$tmp/err"; then
    if python3 - "$tmp/json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["scene"] == "prodcons" and d["mode"] == "processes"
assert d["stats"]["exactly_once_violations"]["value"] == 0
names = [l["name"] for l in d["lanes"]]
assert "producer 0" in names and "queue occupancy" in names
lane = d["lanes"][0]
assert sum(lane["totals_ns"].values()) > 0
PY
    then ok "headless --json"; else not_ok "headless --json" "$(head -c 400 "$tmp/json")"; fi
else
    not_ok "headless --json exits 0" "$(cat "$tmp/err")"
fi

# SIGTERM in headless mode: the run stops cleanly, children are reaped.
"$C" --headless --scene prodcons --mode processes --duration 30 >"$tmp/out" 2>&1 &
pid=$!
sleep 0.5
kids=$(pgrep -P "$pid" | wc -l)
kill -TERM "$pid"
wait "$pid"
st=$?
sleep 0.2
if [ "$st" -eq 143 ] && [ "$kids" -ge 2 ] && ! pgrep -P "$pid" >/dev/null &&
    grep -q '^exactly_once_violations 0$' "$tmp/out"; then
    ok "SIGTERM stops a headless run and reaps its children"
else
    not_ok "SIGTERM stops a headless run and reaps its children" "status $st, children $kids"
fi

# Recording, replay and the Chrome trace export.
if "$C" --headless --scene prodcons --duration 0.5 --set prod_rate=500 --set cons_rate=300 \
    --record "$tmp/run.rec" --export-chrome "$tmp/run.json" >/dev/null 2>"$tmp/err" &&
    "$C" --headless --replay "$tmp/run.rec" --json >"$tmp/replay.json" 2>>"$tmp/err" &&
    "$C" --convert "$tmp/run.rec" "$tmp/conv.json" 2>>"$tmp/err"; then
    if python3 - "$tmp/run.json" "$tmp/replay.json" "$tmp/conv.json" <<'PY'
import json, sys
trace = json.load(open(sys.argv[1]))
replay = json.load(open(sys.argv[2]))
conv = json.load(open(sys.argv[3]))
assert trace == conv, "export at the end and --convert differ"
ev = trace["traceEvents"]
names = {e["tid"]: e["args"]["name"] for e in ev if e["ph"] == "M" and e["name"] == "thread_name"}
for lane in replay["lanes"]:
    if lane["kind"] == "state":
        tid = [t for t, n in names.items() if n == lane["name"]][0]
        spans = [e for e in ev if e["ph"] == "X" and e["tid"] == tid]
        assert len(spans) == lane["events"], (lane["name"], len(spans), lane["events"])
        total = sum(e["dur"] for e in spans) * 1000
        assert abs(total - sum(lane["totals_ns"].values())) < 1000 * len(spans) + 1000
        assert all(spans[i]["ts"] <= spans[i + 1]["ts"] for i in range(len(spans) - 1))
    else:
        assert len([e for e in ev if e["ph"] == "C" and e["name"] == lane["name"]]) == lane["events"]
assert replay["stats"]["rec.exactly_once_violations"]["value"] == 0
PY
    then ok "record, replay and Chrome export agree"; else not_ok "record, replay and Chrome export agree"; fi
else
    not_ok "record, replay, convert run" "$(cat "$tmp/err")"
fi
head -c 100 "$tmp/run.rec" >"$tmp/cut.rec"
expect_exit "a truncated recording is refused with the offset" 1 "cut.rec: offset [0-9]*: truncated" --replay "$tmp/cut.rec" --headless
expect_exit "converting a truncated recording fails clearly" 1 "cut.rec: offset" --convert "$tmp/cut.rec" "$tmp/x.json"
# A recording whose lane names hold invalid UTF-8 and terminal controls: the
# JSON outputs stay valid, the text output carries no control byte.
if python3 - "$tmp/run.rec" "$tmp/bad.rec" <<'PY'
import struct, sys, zlib
d = bytearray(open(sys.argv[1], "rb").read())
blen = struct.unpack_from("<I", d, 12)[0]
body = d[20:20 + blen]
i = body.find(b"producer 0")
body[i:i + 10] = b"p\xff\x1b]2;X\x07\xc2\x9b"
d[20:20 + blen] = body
struct.pack_into("<I", d, 16, zlib.crc32(bytes(d[8:16]) + bytes(body)))  # format 3: version, length, body
open(sys.argv[2], "wb").write(d)
PY
then
    "$C" --headless --replay "$tmp/bad.rec" --json >"$tmp/bad.json" 2>"$tmp/err"
    "$C" --convert "$tmp/bad.rec" "$tmp/badconv.json" 2>>"$tmp/err"
    "$C" --headless --replay "$tmp/bad.rec" --width 40 >"$tmp/bad.txt" 2>>"$tmp/err"
    if python3 - "$tmp/bad.json" "$tmp/badconv.json" <<'PY'
import json, sys
for p in sys.argv[1:]:
    raw = open(p, "rb").read()
    d = json.loads(raw.decode("utf-8"))
    assert not any(b < 0x20 and b not in b"\n" for b in raw), p
    assert b"\xc2\x9b" not in raw, p
PY
    then ok "invalid UTF-8 and controls in lane names: --json and --convert stay valid JSON"
    else not_ok "invalid UTF-8 and controls in lane names: --json and --convert stay valid JSON" "$(cat "$tmp/err")"; fi
    if ! LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$tmp/bad.txt" && ! grep -q "$(printf '\302\233')" "$tmp/bad.txt" &&
        grep -q "^p" "$tmp/bad.txt"; then
        ok "lane names from a recording reach the text output without controls"
    else
        not_ok "lane names from a recording reach the text output without controls" "$(od -c "$tmp/bad.txt" | head -5)"
    fi
else
    not_ok "crafting a recording with bad lane names"
fi
expect_exit "--convert needs an output" 2 "needs a recording and an output" --convert "$tmp/run.rec"
expect_exit "--replay excludes --scene" 2 "do not apply" --replay "$tmp/run.rec" --scene prodcons
expect_exit "a missing recording is named" 1 "nonexistent.rec" --replay /nonexistent.rec --headless

# FIFOs and directories are refused at once, never waited on; outputs never
# replace a file unless --force, and never the input.
mkfifo "$tmp/fifo"
mkdir "$tmp/dir"
expect_exit "--replay refuses a FIFO" 1 "fifo: not a regular file" --replay "$tmp/fifo" --headless
expect_exit "--replay of a directory says so" 1 "dir: is a directory" --replay "$tmp/dir" --headless
expect_exit "--convert refuses a FIFO" 1 "fifo: not a regular file" --convert "$tmp/fifo" "$tmp/f.json"
expect_exit "--tour refuses a FIFO" 1 "fifo: cannot open the tour: not a regular file" --tour "$tmp/fifo" --headless --duration 0.1
expect_exit "--tour of a directory says so" 1 "is a directory" --tour "$tmp/dir" --headless --duration 0.1
expect_exit "volume= refuses a FIFO" 2 "fifo' is not a regular file" --headless --scene raymarch --duration 0.1 --set "volume=$tmp/fifo,dims=2x2x2,type=u8"
expect_exit "volume= of a directory says so" 2 "dir' is a directory" --headless --scene raymarch --duration 0.1 --set "volume=$tmp/dir,dims=2x2x2,type=u8"
printf 'step volume\nscene raymarch\nset volume=%s,dims=2x2x2,type=u8\n' "$tmp/fifo" >"$tmp/vol.tour"
expect_exit "a tour's set volume= refuses a FIFO" 1 "not a regular file" --tour "$tmp/vol.tour" --headless --duration 0.1
expect_exit "--record refuses a FIFO" 1 "fifo: not a regular file" --headless --scene prodcons --duration 0.1 --record "$tmp/fifo"
expect_exit "--record refuses a directory" 1 "is a directory" --headless --scene prodcons --duration 0.1 --record "$tmp/dir"
cp "$tmp/run.rec" "$tmp/keep.rec"
expect_exit "--record does not replace a file" 1 "keep.rec: the file exists (--force overwrites it)" --headless --scene prodcons --duration 0.1 --record "$tmp/keep.rec"
if cmp -s "$tmp/run.rec" "$tmp/keep.rec"; then ok "a refused --record leaves the file as it was"; else not_ok "a refused --record leaves the file as it was"; fi
expect_exit "--record --force replaces a file" 0 "" --headless --scene prodcons --duration 0.1 --record "$tmp/keep.rec" --force
expect_exit "the forced recording replays" 0 "" --headless --replay "$tmp/keep.rec"
ln -s "$tmp/keep.rec" "$tmp/link.rec"
expect_exit "--record --force does not write through a link" 1 "link.rec: is a symbolic link" --headless --scene prodcons --duration 0.1 --record "$tmp/link.rec" --force
expect_exit "--convert to the input is refused" 1 "the output is the input" --convert "$tmp/keep.rec" "$tmp/keep.rec"
expect_exit "--convert --force to the input is refused" 1 "the output is the input" --convert "$tmp/keep.rec" "$tmp/link.rec" --force
expect_exit "the refused conversion left the recording" 0 "" --headless --replay "$tmp/keep.rec"
expect_exit "--convert does not replace a file" 1 "conv.json: the file exists" --convert "$tmp/keep.rec" "$tmp/conv.json"
expect_exit "--convert --force replaces a file" 0 "" --convert "$tmp/keep.rec" "$tmp/conv.json" --force
# A recording whose writes fail (a file size limit with SIGXFSZ ignored, as a
# full disk): the run's figures are still printed, the status says the
# recording failed, and the file replays, saying it was cut short and why.
(trap '' XFSZ; ulimit -f 64; exec "$C" --headless --scene prodcons --duration 1 \
    --set prod_rate=20000 --set cons_rate=20000 --record "$tmp/full.rec") >"$tmp/out" 2>"$tmp/err"
st=$?
if [ "$st" -eq 1 ] && grep -q "recording failed: .*full.rec" "$tmp/err" &&
    grep -q '^throughput ' "$tmp/out" && [ "$(wc -c <"$tmp/full.rec")" -le 32768 ]; then
    ok "a failed recording: the run ends with its figures and status 1"
else
    not_ok "a failed recording: the run ends with its figures and status 1" "status $st" "$(cat "$tmp/err")"
fi
expect_exit "a recording cut short replays and says why" 0 "^recording cut short: write failed: " --headless --replay "$tmp/full.rec"

# No control byte from a file reaches the terminal: a tour's titles and the
# words its errors echo (ESC ]2; sets a terminal's title; C2 9B is the C1 CSI).
ctl=$(printf '[\001-\010\013-\037\177]')
c1=$(printf '\302[\200-\237]')
printf 'step A\033]2;pwned\007 \302\233 \377\r\nscene prodcons\n' >"$tmp/esc.tour"
"$C" --tour "$tmp/esc.tour" --headless --duration 0.1 >"$tmp/esc.out" 2>&1
if grep -q "step 1/1: A?]2;pwned? ? " "$tmp/esc.out" && ! LC_ALL=C grep -q "$ctl" "$tmp/esc.out" &&
    ! LC_ALL=C grep -q "$c1" "$tmp/esc.out"; then
    ok "a tour's step titles are printed without controls"
else
    not_ok "a tour's step titles are printed without controls" "$(od -c "$tmp/esc.out" | head -5)"
fi
printf 'step one\nscene prodcons\n\033]2;pwned\007\302\233 x\n' >"$tmp/esc2.tour"
"$C" --tour "$tmp/esc2.tour" --headless --duration 0.1 >"$tmp/esc.out" 2>&1
if grep -q "esc2.tour:3: .*?]2;pwned?" "$tmp/esc.out" && ! LC_ALL=C grep -q "$ctl" "$tmp/esc.out" &&
    ! LC_ALL=C grep -q "$c1" "$tmp/esc.out"; then
    ok "a tour error echoes the unknown word without controls"
else
    not_ok "a tour error echoes the unknown word without controls" "$(od -c "$tmp/esc.out" | head -5)"
fi

# The picture of a scene that has one, at the size its parameters ask for.
if "$C" --headless --scene raymarch --duration 0.5 --set width=64 --set height=40 \
    --snapshot "$tmp/shot.ppm" >/dev/null 2>"$tmp/err" &&
    [ "$(head -c 2 "$tmp/shot.ppm")" = P6 ] && [ "$(sed -n 2p "$tmp/shot.ppm")" = "64 40" ] &&
    [ "$(wc -c <"$tmp/shot.ppm")" -eq $((64 * 40 * 3 + 13)) ]; then
    ok "--snapshot writes the picture as PPM"
else
    not_ok "--snapshot writes the picture as PPM" "$(cat "$tmp/err")"
fi
expect_exit "--snapshot on a scene without a picture" 2 "draws no picture" --headless --scene prodcons --duration 1 --snapshot "$tmp/x.ppm"

# The built-in tour runs headless to its end, every step printed; a bad tour names its line.
if "$C" --headless --tour --duration 0.2 >"$tmp/tour.out" 2>"$tmp/err"; then
    n=$(grep -c '^== tour step' "$tmp/tour.out")
    last=$(grep '^== tour step' "$tmp/tour.out" | tail -1)
    case "$last" in
    "== tour step $n/$n: "*) ok "the built-in tour runs headless to the end ($n steps)" ;;
    *) not_ok "the built-in tour runs headless to the end" "$last" ;;
    esac
else
    not_ok "the built-in tour runs headless to the end" "$(tail -5 "$tmp/err")"
fi
printf 'step one\nscene gil\nmode 2\nset switch_us=7\n' >"$tmp/bad.tour"
expect_exit "a bad tour names its file and line" 1 "bad.tour:4: switch_us: 7 is out of range" --tour "$tmp/bad.tour" --headless --duration 1
expect_exit "--tour excludes --scene" 2 "--tour chooses the scenes" --tour --scene gil

# The tour's claims, checked: a tour of claims that hold on any machine passes, one line each.
check_tour=${top_srcdir:-.}/tests/check.tour
if "$C" --tour --check "$check_tour" >"$tmp/check.out" 2>"$tmp/err"; then
    want=$(grep -c '^expect ' "$check_tour")
    if [ "$(grep -c '^  ok ' "$tmp/check.out")" -ge "$want" ] &&
        [ "$(tail -1 "$tmp/check.out")" = "$want passed, 0 failed" ]; then
        ok "--tour --check passes tests/check.tour ($want claims)"
    else
        not_ok "--tour --check passes tests/check.tour" "$(grep -v '^  ok ' "$tmp/check.out" | sed 's/^/# /')"
    fi
else
    not_ok "--tour --check passes tests/check.tour" "$(cat "$tmp/check.out" "$tmp/err" | grep -v '^  ok ' | sed 's/^/# /')"
fi
# Claims that cannot hold fail (with what was measured), the step runs again, the exit is 1.
cat >"$tmp/false.tour" <<'EOF'
step Claims that must fail
scene prodcons
check 300ms
expect exactly_once_violations = 0
expect exactly_once_violations > 0
expect no_such_figure = 0
expect lane "producer" run+ready+lock+io+sleep+kernel+idle+done < 50%
expect throughput < 0 unless capacity
EOF
"$C" --tour --check "$tmp/false.tour" >"$tmp/check.out" 2>&1
st=$?
if [ "$st" -eq 1 ] && [ "$(tail -1 "$tmp/check.out")" = "1 passed, 3 failed, 1 skipped" ] &&
    grep -q '^  FAILED  exactly_once_violations > 0   (measured 0, wanted > 0)$' "$tmp/check.out" &&
    grep -q "^  FAILED  no_such_figure = 0   (no figure 'no_such_figure')$" "$tmp/check.out" &&
    grep -q '^  FAILED  lane "producer" .* (measured 100%, wanted < 50%)$' "$tmp/check.out" &&
    grep -q '^  skipped throughput < 0 unless capacity   (capacity is 10: not checked)$' "$tmp/check.out" &&
    grep -q '^  step 1: 3 of 5 failed; running it again, the second run counts$' "$tmp/check.out" &&
    [ "$(grep -c '^  FAILED ' "$tmp/check.out")" -eq 6 ]; then
    ok "--tour --check fails false claims, runs the step again and exits 1"
else
    not_ok "--tour --check fails false claims, runs the step again and exits 1" "status $st" \
        "$(sed 's/^/# /' "$tmp/check.out")"
fi
printf 'step one\nscene gil\nexpect lane "cpu" busy > 5%%\n' >"$tmp/bad.tour"
expect_exit "a bad expect line names its file and line" 1 "bad.tour:3: expect: no state 'busy'" --tour --check "$tmp/bad.tour"
expect_exit "--check needs --tour" 2 "--check checks a tour" --check
expect_exit "an unknown theme lists the themes" 2 "default, contrast, cbsafe, mono" --theme neon
expect_exit "--lane-rows is 1 to 3" 2 "not 1, 2 or 3" --lane-rows 9

tap_done
