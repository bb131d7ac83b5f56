#!/bin/sh
# No figure silently dropped: every scene and mode fits its figures in the
# list (stats_dropped 0), and replaying its recording shows every one of
# them with the same value and spread.
. "${top_srcdir:-.}/tests/tap.sh"
skip_when_asked figures
C=${CONCTUI:-./conctui}
command -v python3 >/dev/null 2>&1 || skip_all "python3 is not installed"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"$C" --list | awk '/^[a-z]/ {scene = $1} /^  mode / {print scene, $2}' >"$tmp/modes"
# Runs that emit the most figures: the post office's side-by-side comparison.
echo "postoffice 1 --set compare=on --set service_us=100" >>"$tmp/modes"

while read -r scene mode extra; do
    name="$scene mode $mode${extra:+ $extra}"
    rm -f "$tmp/run.rec" # --record never replaces a file
    # shellcheck disable=SC2086 # extra holds whole options
    if ! "$C" --headless --json --scene "$scene" --mode "$mode" $extra --duration 1 \
        --record "$tmp/run.rec" >"$tmp/live.json" 2>"$tmp/err" </dev/null ||
        ! "$C" --headless --json --replay "$tmp/run.rec" >"$tmp/replay.json" 2>>"$tmp/err" </dev/null
    then
        not_ok "$name: runs, records and replays" "$(head -5 "$tmp/err")"
        continue
    fi
    if out=$(python3 - "$tmp/live.json" "$tmp/replay.json" 2>&1 <<'PY'
import json, sys
live = json.load(open(sys.argv[1]))
replay = json.load(open(sys.argv[2]))
assert live["stats_dropped"] == 0, "live run dropped %d figures" % live["stats_dropped"]
assert replay["stats_dropped"] == 0, "replay dropped %d figures" % replay["stats_dropped"]
assert live["machine_busy"] in (0, 1)
assert live["machine_other_cpu"] >= 0
for k, v in live["stats"].items():
    r = replay["stats"].get("rec." + k)
    assert r is not None, "replay lacks " + k
    assert r["value"] == v["value"] and r["unit"] == v["unit"], (k, v, r)
print(len(live["stats"]), "figures")
PY
    ); then ok "$name: every figure kept and replayed ($out)"; else
        not_ok "$name: every figure kept and replayed" "$out"; fi
done <"$tmp/modes"
tap_done
