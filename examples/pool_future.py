#!/usr/bin/env python3
"""ProcessPoolExecutor(3) with a 5-second task: done() while it runs, then result().

The pool starts worker processes; one of them runs the task, the others wait
for work. The main thread polls done() every second, then blocks in
result().
"""
import os
import time
from concurrent.futures import ProcessPoolExecutor


def task(seconds):
    t0 = time.time()
    while time.time() - t0 < seconds:  # busy: the worker's lane runs
        pass
    return os.getpid()


if __name__ == "__main__":
    with ProcessPoolExecutor(3) as pool:
        f = pool.submit(task, 5)
        for _ in range(3):
            print(f"done() = {f.done()}", flush=True)
            time.sleep(1)
        print(f"result() = {f.result()} (the worker's pid)", flush=True)
        print(f"done() = {f.done()}", flush=True)
