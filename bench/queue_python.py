#!/usr/bin/env python3
"""The course's producer-consumer in real CPython, for comparison with the prodcons scene.

    python3 bench/queue_python.py [SECONDS]

Two regimes on queue.Queue(10), each run for SECONDS (default 15), a
producer thread and the main thread as consumer, paced the way the scene
paces its workers (put, then sleep one period; get, then sleep one period):

- course: the course's program, one item a second and a consumer that takes
  at once (the queue never fills; the consumer waits);
- fast: producer 4 items/s, consumer 2 items/s (the scene's defaults: the
  queue fills, then the producer waits for room).

Prints one `BENCH python_queue_<regime>_<name> <value> <unit>` line per
figure: items made and taken, the most items the queue held, when it first
held 10, and the share of the run the producer spent blocked in put() and
the consumer in get().
"""
import queue
import sys
import threading
import time

SECS = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
CAP = 10


def regime(name, prod_rate, cons_rate):
    q = queue.Queue(CAP)
    stop = threading.Event()
    t0 = time.perf_counter()
    fig = {"made": 0, "taken": 0, "max_occ": 0, "full_at": None, "put_s": 0.0, "get_s": 0.0}

    def producer():
        i = 0
        while not stop.is_set():
            a = time.perf_counter()
            try:
                q.put(i, timeout=max(0.001, t0 + SECS - a))
            except queue.Full:
                fig["put_s"] += time.perf_counter() - a
                break
            b = time.perf_counter()
            fig["put_s"] += b - a
            fig["made"] += 1
            n = q.qsize()
            fig["max_occ"] = max(fig["max_occ"], n)
            if n >= CAP and fig["full_at"] is None:
                fig["full_at"] = b - t0
            i += 1
            stop.wait(1.0 / prod_rate)

    t = threading.Thread(target=producer, daemon=True)
    t.start()
    while True:
        a = time.perf_counter()
        left = t0 + SECS - a
        if left <= 0:
            break
        try:
            q.get(timeout=left)
        except queue.Empty:
            fig["get_s"] += time.perf_counter() - a
            break
        fig["get_s"] += time.perf_counter() - a
        fig["taken"] += 1  # the course prints: str(num) + " 이 생성되었습니다"
        if cons_rate > 0:
            time.sleep(min(1.0 / cons_rate, max(0.0, t0 + SECS - time.perf_counter())))
    stop.set()
    t.join()
    span = time.perf_counter() - t0
    p = f"BENCH python_queue_{name}"
    print(f"{p}_produced {fig['made']} items")
    print(f"{p}_consumed {fig['taken']} items")
    print(f"{p}_max_occupancy {fig['max_occ']} items")
    if fig["full_at"] is not None:
        print(f"{p}_full_at_s {fig['full_at']:.2f} s")
    print(f"{p}_producer_blocked {100 * fig['put_s'] / span:.1f} %")
    print(f"{p}_consumer_blocked {100 * fig['get_s'] / span:.1f} %")


regime("course", 1, 0)
regime("fast", 4, 2)
