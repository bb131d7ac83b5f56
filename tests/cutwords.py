#!/usr/bin/env python3
"""Reads a screen on stdin; says which words on it are cut (not whole words of
the program's own text, and not ended with an ellipsis). The vocabulary is
every word of the files given (the program's strings, the catalogues).
Exits 1 when a cut word is found."""
import re
import sys

SPLIT = re.compile(r"[\s\u2500-\u259f\u00b7\u2026|]+")
STRIP = "()[]{}'\",.:;!?=<>/+*#%`-"


def words(text):
    for tok in SPLIT.split(text):
        tok = tok.strip(STRIP)
        if tok:
            yield tok


def checkable(tok):
    """Words only: no digits, no timeline glyphs (runs of one letter), no address."""
    if any(c.isdigit() for c in tok) or len(set(tok)) == 1:
        return False
    return all(c.isalpha() or c in "_-'/.()" for c in tok)


vocab = {"\u00b5s"}  # the unit the figures rescale to
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    for tok in words(data):
        vocab.add(tok)
        for part in re.split(r"[_/().'-]+", tok):
            if part:
                vocab.add(part)

bad = []
for n, line in enumerate(sys.stdin, 1):
    # a token directly followed by the ellipsis was shortened on purpose
    text = re.sub(r"\S*\u2026", " ", line)
    for tok in words(text):
        if not checkable(tok) or tok in vocab:
            continue
        parts = [p for p in re.split(r"[_/().'-]+", tok) if p]
        if parts and all(p in vocab for p in parts):
            continue
        bad.append("line %d: %r" % (n, tok))
if bad:
    print("\n".join(bad))
    sys.exit(1)
