#!/usr/bin/env python3
"""A queue of 10 fed once a second by a producer thread, drained by a consumer.

The consumer spends most of its time in q.get(): a condition variable, a
futex (lock in conctui's lanes); the producer sleeps between puts.
"""
import queue
import threading
import time

q = queue.Queue(maxsize=10)


def producer(n):
    for i in range(n):
        q.put(i)
        print(f"put {i} (size {q.qsize()})", flush=True)
        time.sleep(1)
    q.put(None)


def consumer():
    while True:
        item = q.get()
        if item is None:
            break
        print(f"got {item}", flush=True)


threads = [threading.Thread(target=producer, args=(10,)), threading.Thread(target=consumer)]
for t in threads:
    t.start()
for t in threads:
    t.join()
