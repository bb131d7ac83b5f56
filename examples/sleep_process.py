#!/usr/bin/env python3
"""A process that sleeps, and the parent that joins it.

multiprocessing starts a child process (its own lane, under the parent's);
the parent waits for it in join(), which waits on the child's exit
(wait4 or a pipe, depending on the start method).
"""
import multiprocessing as mp
import os
import time


def worker(seconds):
    print(f"child {os.getpid()}: sleeping {seconds} s", flush=True)
    time.sleep(seconds)


if __name__ == "__main__":
    p = mp.Process(target=worker, args=(2,))
    p.start()
    print(f"parent {os.getpid()}: started child {p.pid}", flush=True)
    p.join()
    print(f"parent: child exited with {p.exitcode}", flush=True)
