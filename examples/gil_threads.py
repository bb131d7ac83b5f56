#!/usr/bin/env python3
"""Two CPU-bound threads under the GIL: only one runs Python code at a time.

Each thread counts down from a large number. Under CPython's global
interpreter lock the two take turns (every 5 ms by default, see
sys.getswitchinterval()), so together they take about as long as one thread
doing both countdowns. Under conctui each lane alternates run and lock.

    gil_threads.py [N] [one|two|both]   count N down (default 30 000 000):
                                        on one thread, on two, or both in turn
"""
import sys
import threading
import time

N = int(sys.argv[1]) if len(sys.argv) > 1 else 30_000_000
# "one": only the single thread; "two": only the two threads; default both.
PART = sys.argv[2] if len(sys.argv) > 2 else "both"
if PART not in ("one", "two", "both"):
    sys.exit(f"usage: {sys.argv[0]} [N] [one|two|both]")


def countdown(n):
    while n > 0:
        n -= 1


def timed(label, fn):
    t0 = time.perf_counter()
    fn()
    print(f"{label}: {time.perf_counter() - t0:.2f} s", flush=True)


def two_threads():
    threads = [threading.Thread(target=countdown, args=(N // 2,), name=f"count{i}")
               for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


print(f"switch interval {sys.getswitchinterval() * 1000:.0f} ms", flush=True)
if PART != "two":
    timed("one thread, whole count", lambda: countdown(N))
if PART != "one":
    timed("two threads, half each", two_threads)
