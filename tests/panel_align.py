#!/usr/bin/env python3
"""Check a captured conctui screen (stdin) for broken alignment.

Usage: panel_align.py COLS. Fails (exit 1, reasons on stdout) when a line is
wider than the terminal, when a panel border is out of line,
or when a character could not be shown (a replacement mark).
"""
import sys
import unicodedata


def width(ch):
    if unicodedata.combining(ch):
        return 0
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def main():
    cols = int(sys.argv[1])
    lines = sys.stdin.read().split("\n")
    bad = []
    firsts = {}
    for n, line in enumerate(lines, 1):
        x = 0
        first = None
        for ch in line:
            if ch == "\ufffd":
                bad.append("line %d: a character could not be shown" % n)
            if ch == "\u2502" and first is None:
                first = x
            x += width(ch)
        if x > cols:
            bad.append("line %d is %d columns wide, the terminal %d: %s" % (n, x, cols, line))
        if first is not None:
            firsts.setdefault(first, []).append(n)
    # Borders: the lanes', the picture's, the stats'. A border that a character
    # measured wrong has pushed shows up a column or two beside its fellows.
    cols_seen = sorted(firsts)
    near = [(a, b) for a, b in zip(cols_seen, cols_seen[1:]) if b - a <= 3]
    if near:
        where = ", ".join("column %d (lines %s)" % (c, ",".join(map(str, ls[:6])))
                          for c, ls in sorted(firsts.items()))
        bad.append("panel borders out of line: %s" % where)
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
