#!/usr/bin/env python3
"""A thread that sleeps, and the main thread that joins it.

The worker lane sleeps (clock_nanosleep); the main thread waits in join(),
which in CPython is acquiring a lock the worker releases when it ends: a
futex, so conctui shows it as lock.
"""
import threading
import time


def worker(seconds):
    print(f"worker: sleeping {seconds} s", flush=True)
    time.sleep(seconds)
    print("worker: done", flush=True)


t = threading.Thread(target=worker, args=(2,))
t.start()
print("main: waiting for the worker", flush=True)
t.join()
print("main: joined", flush=True)
