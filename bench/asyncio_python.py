#!/usr/bin/env python3
"""The course's asyncio example in real CPython, for comparison with the evloop scene.

display_date(num, loop) prints "Loop: N Time: ...", stops once less than a
second of its time is left, and otherwise awaits asyncio.sleep of a random
whole 0-5 seconds; two of them share one loop. The course runs them for 50 s
with run_forever(); here the run is shortened by a parameter and the loop
stops when both tasks have returned.

    python3 bench/asyncio_python.py [SECONDS] [MAX_SLEEP_S] [--print]

Prints one `BENCH python_asyncio_<name> <value> <unit>` line per figure: the
prints, the threads the process used, how many gaps between a task's prints
were whole seconds, and how late each sleep ended (p50, p99), measured on the
loop's own clock. With --print the course's lines go to stderr as well.
"""
import asyncio
import datetime
import random
import sys
import threading

SECS = float(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1][0] != "-" else 50.0
MAXS = int(sys.argv[2]) if len(sys.argv) > 2 and sys.argv[2][0] != "-" else 5
ECHO = "--print" in sys.argv

prints = []  # (task, loop time)
late = []
threads = [0]


async def display_date(num, end_time):
    loop = asyncio.get_running_loop()
    while True:
        line = "Loop: {} Time: {}".format(num, datetime.datetime.now())
        if ECHO:
            print(line, file=sys.stderr)
        prints.append((num, loop.time()))
        threads[0] = max(threads[0], threading.active_count())
        if (loop.time() + 1.0) >= end_time:
            break
        d = random.randint(0, MAXS)
        due = loop.time() + d
        await asyncio.sleep(d)
        late.append(loop.time() - due)


async def main():
    loop = asyncio.get_running_loop()
    end_time = loop.time() + SECS
    await asyncio.gather(display_date(1, end_time), display_date(2, end_time))


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else 0.0


asyncio.run(main())
gaps = []
for num in (1, 2):
    ts = [t for n, t in prints if n == num]
    gaps += [b - a for a, b in zip(ts, ts[1:])]
whole = sum(1 for g in gaps if abs(g - round(g)) < 0.05)
print(f"BENCH python_asyncio_run {SECS:.0f} s")
print(f"BENCH python_asyncio_prints {len(prints)} lines")
print(f"BENCH python_asyncio_os_threads {threads[0]} threads")
print(f"BENCH python_asyncio_whole_second_gaps {whole}/{len(gaps)} gaps")
print(f"BENCH python_asyncio_late_p50 {pct(late, 0.5) * 1e3:.3f} ms")
print(f"BENCH python_asyncio_late_p99 {pct(late, 0.99) * 1e3:.3f} ms")
