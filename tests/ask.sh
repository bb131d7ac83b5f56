#!/bin/sh
# Predict, then reveal: a tour step's question, headless (--check says which
# answer the run supports, and fails when not exactly one holds) and in the
# real TUI in tmux (the workers wait frozen for an answer key, then the run
# reveals which answer it supports and the status line keeps the score).
. "${top_srcdir:-.}/tests/tap.sh"
C0=${CONCTUI:-./conctui}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT

# A lock never loses an update: the run supports answer 1, whatever the machine's load.
cat >"$dir/ask.tour" <<'TOUR'
step With a Lock
scene race
mode lock
check 1s
expect lost_updates = 0
ask Two threads add one to a shared counter N times each, under a Lock. Will the
ask total be 2N?
answer 1 "Yes, exactly 2N" when actual = expected
answer 2 "No, less than 2N" when actual < expected
say The lock lets one update through at a time.

step Again, with three answers
check 1s
expect lost_updates = 0
ask And now?
answer 1 "Exactly 2N" when actual = expected
answer 2 "Less" when actual < expected
answer 3 "More" when actual > expected
say The same lock.
TOUR

out=$(LC_ALL=C "$C0" --tour "$dir/ask.tour" --check 2>&1)
st=$?
if [ $st -eq 0 ] && echo "$out" | grep -q "ok      the run supports answer 1: Yes, exactly 2N" &&
    echo "$out" | grep -q "^  holds   1 actual = expected" &&
    echo "$out" | grep -q "^  -       2 actual < expected" &&
    echo "$out" | grep -q "^4 passed, 0 failed"; then
    ok "--check evaluates a question: exactly one answer holds, the one it prints"
else
    not_ok "--check evaluates a question" "status $st" "$out"
fi

# Two answers that both hold (or none) make the question a failed check.
sed -e 's/answer 2 "No, less than 2N" when actual < expected/answer 2 "Also" when actual >= expected/' \
    -e 's/answer 3 "More" when actual > expected/answer 3 "Never" when actual < 0/' \
    -e 's/answer 1 "Exactly 2N" when actual = expected/answer 1 "Below" when actual < 0/' \
    "$dir/ask.tour" >"$dir/bad.tour"
out=$(LC_ALL=C "$C0" --tour "$dir/bad.tour" --check 2>&1)
st=$?
if [ $st -eq 1 ] && echo "$out" | grep -q "FAILED  2 answers hold" &&
    echo "$out" | grep -q "FAILED  no answer holds" && echo "$out" | grep -q "failed steps: 1, 2"; then
    ok "--check fails a question with two answers or none"
else
    not_ok "--check fails a question with two answers or none" "status $st" "$out"
fi

# A question without enough answers is refused with its line.
printf 'step a\nscene race\nask Q?\nanswer 1 "a" when actual > 0\n' >"$dir/one.tour"
out=$(LC_ALL=C "$C0" --tour "$dir/one.tour" --check 2>&1)
st=$?
if [ $st -eq 1 ] && echo "$out" | grep -q "one.tour:3: a question needs 2 to 4 answers"; then
    ok "a question with one answer is refused with its line"
else
    not_ok "a question with one answer is refused" "status $st" "$out"
fi

. "${top_srcdir:-.}/tests/tmux.sh"

start 120 40 --tour "$dir/ask.tour"
expect "the question is shown" "Will the"
expect "its answers are shown" "2  No, less than 2N"
expect "the workers wait frozen" "FROZEN"
expect "the status line says how to answer" "tour 1/2: 1-2 answer, Enter runs"
if screen | grep -q "The lock lets one update"; then
    not_ok "the step's words wait for the reveal" "$(screen | tail -20)"
else
    ok "the step's words wait for the reveal"
fi
T send-keys -t t r
expect "keys that change the run wait for an answer" "answer first (1-2)"
T send-keys -t t 3
expect "a key without an answer says which there are" "no answer 3: the answers are 1-2"
T send-keys -t t 1
expect "an answer key lets the workers run" "workers running"
expect "the run is measured" "Measuring: in [0-9] s"
expect "the reveal: right" "Right: this run supports your answer, 1."
expect "the reveal shows the figures measured" "1: actual = expected (measured"
expect "the step's words come after the reveal" "The lock lets one update"
expect "the status line keeps the score" "answers 1/1 right"

T send-keys -t t Enter
expect "Enter goes to the next question" "And now?"
expect "it waits frozen too" "tour 2/2: 1-3 answer"
T send-keys -t t 2
expect "the reveal: wrong" "Not this time: this run supports answer 1, not 2."
expect "the score counts it" "answers 1/2 right"

T send-keys -t t '<'
expect "< goes back to the first question, asked again" "tour 1/2: 1-2 answer"
T send-keys -t t Enter
expect "Enter runs a question without an answer" "This run supports answer 1."
expect "a skipped question is counted as skipped" "answers 0/1 right | 1 skipped"
T send-keys -t t q
st=$(exit_status)
if [ "$st" = "EXIT=0" ]; then ok "q quits after the questions"; else not_ok "q quits" "$st"; fi

# At 80x24 the question and its answers fit on the narration's first page.
start 80 24 --tour "$dir/ask.tour"
expect "80x24: the question" "Will the"
expect "80x24: the answers" "2  No, less than 2N"
expect "80x24: how to answer" "Press 1-2 to answer"
T send-keys -t t q
exit_status >/dev/null

tap_done
