#!/bin/sh
# The real TUI, end to end, driven in tmux: keys in with send-keys, the
# screen read back with capture-pane.
. "${top_srcdir:-.}/tests/tap.sh"
skip_when_asked tui
. "${top_srcdir:-.}/tests/tmux.sh"

start 120 36 --scene prodcons
expect "header shows the scene and mode" "prodcons: Producer-consumer | mode 1/3"
expect "lanes are drawn" "producer 0 *│"
expect "stats panel" "throughput"
expect "status line shows parameters" "capacity=10"
T send-keys -t t '?'
expect "? opens the help" "Keys: prodcons"
expect "the help fits 120x36 on one page" "any key closes this help"
T send-keys -t t x
sleep 0.3
if screen | grep -q "Keys: prodcons"; then not_ok "any key closes the help"; else ok "any key closes the help"; fi
T send-keys -t t 3
expect "digit selects a mode" "mode 3/3: threads, lock-free ring"
T send-keys -t t f
expect "f freezes the workers" "FROZEN"
T send-keys -t t .
T send-keys -t t f
expect "f again unfreezes" "LIVE | workers running"
T send-keys -t t Down Down +
expect "+ raises the selected parameter" "capacity=11"
T send-keys -t t w
expect "w zooms in" "50ms/col"
T send-keys -t t Space
expect "space pauses the view" "PAUSED"
T send-keys -t t End
expect "End returns to live" "LIVE"
T send-keys -t t i
expect "i opens the lane inspector" "Lane: producer 0"
T resize-window -t t -x 70 -y 20
expect "a small terminal gets a message" "Terminal too small: 70x20"
T resize-window -t t -x 120 -y 36
expect "enlarging brings the view back" "prodcons: Producer-consumer"
T send-keys -t t q
st=$(exit_status)
if [ "$st" = "EXIT=0" ]; then ok "q quits with status 0"; else not_ok "q quits with status 0" "$st"; fi
if no_leftovers; then ok "q leaves no process behind"; else not_ok "q leaves no process behind"; fi

start 100 30 --scene prodcons --mode processes
expect "processes mode starts" "mode 2/3"
T send-keys -t t C-c
st=$(exit_status)
if [ "$st" = "EXIT=0" ]; then ok "Ctrl-C quits with status 0"; else not_ok "Ctrl-C quits with status 0" "$st"; fi
sleep 0.2
if no_leftovers; then ok "Ctrl-C reaps every child"; else not_ok "Ctrl-C reaps every child" "$(pgrep -fa "^$C")"; fi
if screen | grep -q "EXIT=0"; then ok "the terminal is restored (shell output visible)"; else not_ok "the terminal is restored" "$(screen | head)"; fi

start 100 30 --scene prodcons --mode processes
expect "started again" "mode 2/3"
pkill -TERM -f "^$C"
st=$(exit_status)
if [ "$st" = "EXIT=143" ]; then ok "SIGTERM quits with status 143"; else not_ok "SIGTERM quits with status 143" "$st"; fi
sleep 0.2
if no_leftovers; then ok "SIGTERM reaps every child"; else not_ok "SIGTERM reaps every child"; fi

start 100 30 --scene prodcons --mode processes
expect "started once more" "mode 2/3"
T kill-server
i=0
while ! no_leftovers && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
if no_leftovers; then ok "SIGHUP (terminal gone) cleans up everything"; else not_ok "SIGHUP cleans up" "$(pgrep -fa "^$C")"; fi

# Suspend and resume: Ctrl-Z (SIGTSTP) stops the program with the terminal
# given back; SIGCONT brings it back with the screen redrawn.
start 100 30 --scene prodcons
expect "started for suspend" "prodcons: Producer-consumer"
pid=$(pgrep -f "^$C" | head -1)
kill -TSTP "$pid"
i=0
while ! ps -o stat= -p "$pid" | grep -q T && [ $i -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
if ps -o stat= -p "$pid" | grep -q T; then ok "SIGTSTP suspends"; else not_ok "SIGTSTP suspends" "$(ps -o stat= -p "$pid")"; fi
kill -CONT "$pid"
expect "SIGCONT resumes with the screen redrawn" "prodcons: Producer-consumer"
# A storm of resizes while the workers run.
for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20; do
    T resize-window -t t -x $((80 + i * 3)) -y $((24 + i))
done
T resize-window -t t -x 100 -y 30
expect "a storm of resizes leaves a whole screen" "LIVE | workers running"
if pgrep -f "^$C" >/dev/null; then ok "still running after the storm"; else not_ok "still running after the storm"; fi
T send-keys -t t q
exit_status >/dev/null

# Hostile terminals and locales.
ENVS="TERM=dumb" start 100 30 --scene prodcons
st=$(exit_status)
if [ "$st" = "EXIT=1" ] && screen | grep -q "TERM is 'dumb'"; then ok "TERM=dumb is refused with a clear message"; else not_ok "TERM=dumb is refused" "$st" "$(screen | head -3)"; fi
ENVS="LC_ALL=C" start 100 30 --scene prodcons
expect "no UTF-8 locale: ASCII glyphs" "# run  : ran briefly .*- wait"
T send-keys -t t q
exit_status >/dev/null
ENVS="NO_COLOR=1" start 100 30 --scene gil
expect "NO_COLOR: states still told apart by glyph" "cpu 0 *│"
T send-keys -t t q
exit_status >/dev/null

# The timeline reads left to right and no lane goes blank: the axis labels
# increase strictly, and a lane is drawn from its first cell to the right edge.
axis_increases() {
    screen | grep '/col' | head -1 | sed 's/╵/\n/g' | tail -n +2 | awk '
        $1 == "" { next }
        { u = $1; sub(/^[0-9.]+/, "", u); v = substr($1, 1, length($1) - length(u)) + 0
          m = u == "s" ? 1e9 : u == "ms" ? 1e6 : u == "us" ? 1e3 : -1
          if (m < 0 || (n++ && v * m <= prev)) { bad = 1; exit }
          prev = v * m }
        END { exit bad || n < 3 }'
}
lanes_whole() { # WIDTH NAME...: each lane's row has no blank after its first cell, to WIDTH columns
    width=$1
    shift
    for name in "$@"; do
        cells=$(screen | grep "^$name  *│" | head -1 | sed 's/^[^│]*│//')
        [ "$(printf '%s' "$cells" | LC_ALL=C.UTF-8 wc -m)" -eq "$width" ] || return 1
        printf '%s' "$cells" | sed 's/^ *//' | grep -q ' ' && return 1
    done
    return 0
}
start 120 40 --scene gil
expect "gil comes up at its own time scale" "^1ms/col"
sleep 3
if axis_increases; then ok "gil: the axis labels increase left to right"; else not_ok "gil: the axis labels increase" "$(screen | grep /col)"; fi
if lanes_whole 101 "cpu 0" "io 0" GIL; then ok "gil: no lane has a blank column"; else not_ok "gil: no lane has a blank column" "$(screen | head -6)"; fi
T send-keys -t t f .
expect "a step names the lane that moved and its two states" "FROZEN.*: .* → "
T send-keys -t t q
exit_status >/dev/null
start 120 40 --scene reactor --set think_us=0 --set conns=32
sleep 4
if axis_increases; then ok "reactor flat out: the axis labels increase"; else not_ok "reactor flat out: the axis labels increase" "$(screen | grep /col)"; fi
if lanes_whole 101 loop "clients 0" "clients 1"; then ok "reactor flat out: no lane has a blank column"; else not_ok "reactor flat out: no lane has a blank column" "$(screen | head -8)"; fi
T send-keys -t t w w w w
sleep 0.5
if axis_increases; then ok "reactor zoomed in: the axis labels increase"; else not_ok "reactor zoomed in: the axis labels increase" "$(screen | grep /col)"; fi
T send-keys -t t 0
expect "0 returns to the scene's time scale" "^1ms/col"
T send-keys -t t q
exit_status >/dev/null

# Every scene comes up at the smallest size, its help lists all its keys
# (through the help's pages), and it quits cleanly.
for scene in $("$C" --list | awk '/^[a-z]/ {print $1}'); do
    start 80 24 --scene "$scene"
    expect "$scene: its header at 80x24" " $scene: "
    T send-keys -t t '?'
    expect "$scene: its help" "Keys: $scene"
    # The pages' text, words joined: each key's line is "KEY HELP" in it.
    text=$(help_pages "Keys: $scene" | tr -s ' \n' '  ')
    keys=$(LANG=C.UTF-8 LANGUAGE= "$C" --list | scene_key_lines "$scene")
    missing=$(echo "$keys" | while IFS= read -r line; do
        [ -n "$line" ] && case "$text" in *"$line"*) ;; *) echo "$line" ;; esac
    done)
    nkeys=$(echo "$keys" | grep -c .)
    if [ -z "$missing" ] && echo "$text" | grep -q "q Q quit" && echo "$text" | grep -q "Mouse the wheel"; then
        ok "$scene: the help at 80x24 lists its $nkeys keys and the program's"
    else
        not_ok "$scene: the help at 80x24 lists its $nkeys keys and the program's" "missing: $missing"
    fi
    T send-keys -t t x q
    st=$(exit_status)
    if [ "$st" = "EXIT=0" ] && no_leftovers; then ok "$scene: quits cleanly"; else not_ok "$scene: quits cleanly" "$st"; fi
done

# Every scene at three sizes: its first headline figure on screen, and no
# word cut without an ellipsis (words are checked against the program's own
# text: its strings and its catalogue).
strings -n 2 "$C" >"$tmp/vocab.txt"
cat "${top_srcdir:-.}/po/ko.po" >>"$tmp/vocab.txt"
headline() {
    case $1 in
    postoffice | prodcons) echo "throughput" ;;
    executor) echo "results" ;;
    taskqueue) echo "requests" ;;
    evloop) echo "coroutine switch" ;;
    reactor) echo "latency p99" ;;
    gil) echo "slowdown" ;;
    parsum | raymarch) echo "speedup" ;;
    *) echo "Stats" ;;
    esac
}
for scene in $("$C" --list | awk '/^[a-z]/ {print $1}'); do
    start 80 24 --scene "$scene"
    for size in "80 24" "120 40" "200 50"; do
        T resize-window -t t -x "${size% *}" -y "${size#* }"
        expect "$scene at $size: its headline figure" " $(headline "$scene")  "
        sleep 0.5
        if out=$(screen | python3 "${top_srcdir:-.}/tests/cutwords.py" "$tmp/vocab.txt"); then
            ok "$scene at $size: no word cut without an ellipsis"
        else
            not_ok "$scene at $size: no word cut without an ellipsis" "$out" "$(screen)"
        fi
    done
    T send-keys -t t q
    exit_status >/dev/null
done

# The narration turns its pages with e when it does not fit.
start 80 24 --scene reactor
expect "a long narration says it has pages" "1/[0-9], e: more"
T send-keys -t t e
expect "e turns to the next page" "2/[0-9], e: more"
T send-keys -t t q
exit_status >/dev/null

# A scene's status stays in the header: the reactor's address, even at 80 columns.
start 80 24 --scene reactor
expect "the reactor's port is in the header" "127\.0\.0\.1:[0-9][0-9]*  "
T send-keys -t t q
exit_status >/dev/null

# The tour: Enter goes on, < comes back, each step's words above the mode's.
start 100 30 --tour
expect "the tour starts at its first step" "Tour 1/[0-9]*: The post office"
T send-keys -t t Enter
expect "Enter goes to the next step" "Tour 2/[0-9]*: More clerks"
T send-keys -t t '<'
expect "< goes back" "Tour 1/[0-9]*: The post office"
T send-keys -t t T
expect "T changes the theme" "theme: high contrast"
T send-keys -t t q
exit_status >/dev/null

# The projector theme draws no dim text; the default theme does (legend, axis).
# dim_cells: the cells drawn with SGR 2 (dim), from the pane's escape sequences.
dim_cells() {
    T capture-pane -e -p -t t | python3 -c '
import re, sys
dim = 0
for line in sys.stdin:
    on = False
    for m in re.finditer(r"\x1b\[([0-9;]*)m|[^\x1b]", line):
        if m.group(1) is None:
            dim += on and not m.group(0).isspace()
            continue
        ps = [int(p) if p else 0 for p in m.group(1).split(";")]
        i = 0
        while i < len(ps):
            if ps[i] in (38, 48):  # 38;5;N or 38;2;R;G;B: not attributes
                i += 3 if i + 1 < len(ps) and ps[i + 1] == 5 else 5
                continue
            if ps[i] == 2:
                on = True
            elif ps[i] in (0, 22):
                on = False
            i += 1
print(dim)'
}
for theme in default contrast; do
    start 120 40 --scene prodcons --theme $theme
    expect "$theme: the scene is up" "producer 0 *│"
    sleep 1
    n=$(dim_cells)
    if [ "$theme" = contrast ] && [ "$n" = 0 ]; then ok "contrast: nothing on screen is dim"
    elif [ "$theme" = default ] && [ "$n" -gt 0 ]; then ok "default: secondary text is dim ($n cells)"
    else not_ok "$theme: dim cells" "$n dim cells"; fi
    T send-keys -t t q
    exit_status >/dev/null
done

# Tall lanes: every lane two rows, its name on the first, the border on both.
start 100 40 --scene prodcons --lane-rows 2 --theme cbsafe
expect "tall lanes come up" "producer 0 *│"
sleep 0.5
if screen | awk '/^producer 0 *│/ {getline; if ($0 ~ /^ *│/) found=1} END {exit !found}'; then
    ok "--lane-rows 2 draws each lane on two rows"
else
    not_ok "--lane-rows 2 draws each lane on two rows" "$(screen | head -12)"
fi
T send-keys -t t L L L
sleep 0.5
if screen | grep -q "^producer 0 *│" &&
    screen | awk '/^producer 0 *│/ {getline; if ($0 ~ /^ *│/) found=1} END {exit found}'; then
    ok "L cycles through 3 rows and the screen's fit back to one row"
else
    not_ok "L cycles back to one row" "$(screen | head -12)"
fi
T send-keys -t t q
exit_status >/dev/null

# A recording under way shows in the header; a write that fails (a file size
# limit with SIGXFSZ ignored, as a full disk) shows at once and the run goes on.
printf '#!/bin/sh\ntrap "" XFSZ\nulimit -f 64\nexec "%s" "$@"\n' "$C" >"$tmp/fsize"
chmod +x "$tmp/fsize"
start 120 36 --scene prodcons --record "$tmp/tui.rec"
expect "a recording under way shows in the header" "REC [0-9]* s"
T send-keys -t t q
exit_status >/dev/null
plain_c=$C
C=$tmp/fsize
start 120 36 --scene prodcons --set prod_rate=20000 --set cons_rate=20000 --record "$tmp/cut.rec"
C=$plain_c
expect "a failed recording write shows at once" "recording cut short: File too large (the run goes on"
expect "the header says the recording stopped" "REC cut short"
produced() { screen | awk '$1 == "produced" {gsub(",", "", $2); print $2}'; }
n1=$(produced)
sleep 1
n2=$(produced)
if [ -n "$n1" ] && [ -n "$n2" ] && [ "$n2" -gt "$n1" ]; then ok "the run goes on after the failure"; else not_ok "the run goes on after the failure" "produced $n1 then $n2"; fi
T send-keys -t t q
st=$(exit_status)
if [ "$st" = "EXIT=1" ]; then ok "a failed recording ends with status 1"; else not_ok "a failed recording ends with status 1" "$st"; fi
start 120 36 --replay "$tmp/cut.rec"
expect "its replay says it was cut short and why" "recording cut short: write failed: File too large"
T send-keys -t t q
exit_status >/dev/null

start 100 30 --scene prodcons --duration 1
st=$(exit_status)
if [ "$st" = "EXIT=0" ]; then ok "--duration ends the TUI by itself"; else not_ok "--duration ends the TUI" "$st"; fi

tap_done
