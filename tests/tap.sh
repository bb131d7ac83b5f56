# Tiny TAP helpers for the shell tests (sourced).
tap_n=0
tap_failed=0
ok() {
    tap_n=$((tap_n + 1))
    echo "ok $tap_n - $1"
}
not_ok() {
    tap_n=$((tap_n + 1))
    tap_failed=$((tap_failed + 1))
    echo "not ok $tap_n - $1"
    shift
    for line in "$@"; do echo "# $line"; done
}
# check NAME COMMAND...: passes when the command succeeds
check() {
    name=$1
    shift
    if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi
}
skip_all() {
    echo "1..0 # SKIP $1"
    exit 0
}
# skip_when_asked NAME: CONCTUI_SKIP_SUITES (names, space-separated) leaves
# this long end-to-end script out of a run that repeats a suite already run
# whole (CI's distcheck and sanitizer builds).
skip_when_asked() {
    case " ${CONCTUI_SKIP_SUITES:-} " in
    *" $1 "*) skip_all "CONCTUI_SKIP_SUITES names $1" ;;
    esac
}
tap_done() {
    echo "1..$tap_n"
    [ "$tap_failed" -eq 0 ]
}
