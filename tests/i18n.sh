#!/bin/sh
# Translations: every message has its Korean translation, the catalogue's
# formats match, the program speaks Korean under LANG=ko_KR.UTF-8, and the
# real TUI in tmux keeps its panels aligned with wide characters.
. "${top_srcdir:-.}/tests/tap.sh"
srcdir=${top_srcdir:-.}
command -v msgfmt >/dev/null 2>&1 || skip_all "gettext tools are not installed"
work=$(mktemp -d)

# Every source file with marked strings is listed for xgettext.
missing=$(cd "$srcdir" && for f in src/*.[ch] scenes/*.c gpu/*.[ch]; do
    grep -q -E '(^|[^A-Za-z0-9_])N?_\("' "$f" && ! grep -qx "$f" po/POTFILES.in && echo "$f"
done)
if [ -z "$missing" ]; then ok "po/POTFILES.in lists every file with messages"; else
    not_ok "po/POTFILES.in lists every file with messages" "missing: $missing"; fi

# The messages as the sources have them now, against po/ko.po.
(cd "$srcdir" && xgettext --keyword=_ --keyword=N_ --keyword=fail:3 --keyword=app_message:2 --keyword=app_warn:2 --keyword=app_error:2 \
    --keyword=errmsg_set:3 --from-code=UTF-8 -o "$work/now.pot" \
    $(grep -v '^#' po/POTFILES.in)) 2>"$work/xgettext.err"
check "the sources' messages can be extracted" test -s "$work/now.pot"
if out=$(msgcmp "$srcdir/po/ko.po" "$work/now.pot" 2>&1); then
    ok "every message has a Korean translation"
else
    not_ok "every message has a Korean translation" "$(echo "$out" | head -20)"
fi
check "the Korean catalogue's formats match the English" msgfmt -c -o "$work/ko.mo" "$srcdir/po/ko.po"
if msgfmt --statistics -o /dev/null "$srcdir/po/ko.po" 2>&1 | grep -q -E "fuzzy|untranslated"; then
    not_ok "no fuzzy or untranslated entries" "$(msgfmt --statistics -o /dev/null "$srcdir/po/ko.po" 2>&1)"
else
    ok "no fuzzy or untranslated entries"
fi

if ! locale -a 2>/dev/null | grep -qi '^ko_KR\.utf-\{0,1\}8$'; then
    echo "# ko_KR.UTF-8 is not generated here (./bootstrap check makes it); the rest is skipped"
    rm -rf "$work"
    tap_done
    exit $?
fi
mkdir -p "$work/locale/ko/LC_MESSAGES"
cp "$work/ko.mo" "$work/locale/ko/LC_MESSAGES/conctui.mo"
KO="env LANG=ko_KR.UTF-8 LANGUAGE= LC_ALL= CONCTUI_LOCALEDIR=$work/locale"
C=${CONCTUI:-./conctui}
check "--help in Korean" sh -c "$KO '$C' --help | grep -q '사용법'"
# From the build tree, without CONCTUI_LOCALEDIR: the catalogue next to the program.
KOB="env LANG=ko_KR.UTF-8 LANGUAGE= LC_ALL= CONCTUI_LOCALEDIR="
check "the build tree's catalogue is beside the program" test -s "$(dirname "$C")/locale/ko/LC_MESSAGES/conctui.mo"
check "--help in Korean from the build tree" sh -c "$KOB '$C' --help | grep -q '사용법'"
check "a headless run in Korean from the build tree" sh -c "$KOB '$C' --headless --scene prodcons --duration 0.2 | grep -q '생산자'"
# The program reads the catalogue beside itself: a copy with a marked catalogue says so.
mkdir -p "$work/bin/locale/ko/LC_MESSAGES"
cp "$C" "$work/bin/conctui"
msgfilter -i "$srcdir/po/ko.po" -o "$work/marked.po" sed 's/사용법/BESIDE-사용법/' 2>/dev/null
msgfmt -o "$work/bin/locale/ko/LC_MESSAGES/conctui.mo" "$work/marked.po"
check "a copy of the program reads the catalogue beside it" \
    sh -c "$KOB '$work/bin/conctui' --help | grep -q 'BESIDE-사용법'"
check "errors in Korean" sh -c "$KO '$C' --scene nosuch 2>&1 | grep -q '알 수 없는 장면'"
check "a headless run's header in Korean" sh -c "$KO '$C' --headless --scene gil --duration 0.2 | head -1 | grep -q 'GIL'"
check "the built-in tour in Korean" sh -c "$KO '$C' --headless --tour --duration 0.1 | grep -q '우체국'"

# The alignment check itself: it must catch a border moved by a wide character.
if printf 'lane a    │xx\nlane b    │xx\n넓은 b     │xx\n' | python3 "$srcdir/tests/panel_align.py" 40 >/dev/null; then
    not_ok "the alignment check catches a shifted border"
else
    ok "the alignment check catches a shifted border"
fi

# Every scene in Korean, in tmux: the panels stay aligned with wide characters.
. "$srcdir/tests/tmux.sh"
ENVS="LANG=ko_KR.UTF-8 LANGUAGE= CONCTUI_LOCALEDIR=$work/locale"
# The words a screen may show: the program's strings and the catalogue's.
strings -n 2 "$C" >"$work/vocab.txt"
cat "$srcdir/po/ko.po" >>"$work/vocab.txt"
for scene in $("$C" --list | awk '/^[a-z]/ {print $1}'); do
    for size in "100 30" "80 24" "200 50"; do
        # shellcheck disable=SC2086
        start $size --scene "$scene"
        if ! wait_for "통계"; then
            not_ok "$scene at $size: Korean panels" "$(screen | head -30)"
            T send-keys -t t q
            exit_status >/dev/null
            continue
        fi
        sleep 0.5
        cols=${size% *}
        if out=$(screen | python3 "$srcdir/tests/panel_align.py" "$cols"); then
            ok "$scene at $size: Korean panels aligned"
        else
            not_ok "$scene at $size: Korean panels aligned" "$out" "$(screen | head -30)"
        fi
        if out=$(screen | python3 "$srcdir/tests/cutwords.py" "$work/vocab.txt"); then
            ok "$scene at $size: no Korean word cut without an ellipsis"
        else
            not_ok "$scene at $size: no Korean word cut without an ellipsis" "$out" "$(screen)"
        fi
        T send-keys -t t '?'
        if wait_for "키" && out=$(screen | python3 "$srcdir/tests/panel_align.py" "$cols"); then
            ok "$scene at $size: Korean help aligned"
        else
            not_ok "$scene at $size: Korean help aligned" "$out" "$(screen | head -30)"
        fi
        if [ "$cols" = 80 ]; then
            # Through its pages, the Korean help lists each of the scene's keys.
            text=$(help_pages "키: $scene" | tr -s ' \n' '  ')
            missing=$($KO "$C" --list | scene_key_lines "$scene" | while IFS= read -r line; do
                case "$text" in *"$line"*) ;; *) echo "$line" ;; esac
            done)
            if [ -z "$missing" ] && echo "$text" | grep -q "q Q 종료"; then
                ok "$scene at 80x24: the Korean help lists every key"
            else
                not_ok "$scene at 80x24: the Korean help lists every key" "missing: $missing"
            fi
        fi
        T send-keys -t t x q
        st=$(exit_status)
        [ "$st" = "EXIT=0" ] || not_ok "$scene at $size: quits" "$st"
    done
done
rm -rf "$work"
tap_done
