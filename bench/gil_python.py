#!/usr/bin/env python3
"""Measure real CPython's GIL on this machine, for comparison with the gil scene.

Prints one `BENCH python_<name> <value> <unit>` line per figure:
- two CPU-bound threads running a countdown vs the same work run sequentially;
- echo round trips over a socketpair, alone and next to one CPU-bound thread,
  with round-trip latency percentiles. The echo side is a forked child process
  (its own interpreter and GIL), standing in for the network.
- threads helping I/O: 1, 2 and 8 threads doing round trips over TCP on
  127.0.0.1 against a server (a forked child, a thread per connection) that
  answers after 10 ms, alone and next to one CPU-bound thread.

The I/O figures next to a CPU-bound thread swing from run to run (whether the
I/O thread wins the GIL back before the CPU thread wakes depends on where the
scheduler puts the threads), so that run is repeated and each trial printed.
"""
import os
import socket
import socketserver
import sys
import threading
import time

COUNT = 10_000_000
SECS = 1.0
TRIALS = 3


def countdown(n):
    while n > 0:
        n -= 1


def cpu_ratio():
    t0 = time.perf_counter()
    countdown(COUNT)
    countdown(COUNT)
    seq = time.perf_counter() - t0
    ts = [threading.Thread(target=countdown, args=(COUNT,)) for _ in range(2)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return seq, time.perf_counter() - t0


def echo_child(sock):
    while True:
        m = sock.recv(64)
        if not m:
            os._exit(0)
        sock.sendall(m)


def pct(xs, p):
    return xs[min(len(xs) - 1, int(p * len(xs)))] if xs else 0.0


def echo_run(sock, secs, spinner):
    stop = [False]

    def spin():
        while not stop[0]:
            countdown(100_000)

    t = threading.Thread(target=spin) if spinner else None
    if t:
        t.start()
        time.sleep(0.05)
    rtts = []
    t0 = now = time.perf_counter()
    while now < t0 + secs:
        a = time.perf_counter()
        sock.sendall(b"ping")
        sock.recv(64)
        now = time.perf_counter()
        rtts.append(now - a)
    stop[0] = True
    if t:
        t.join()
    return len(rtts) / (now - t0), sorted(rtts)


def report(name, rate, rtts):
    print(f"BENCH python_io_roundtrips_{name} {rate:.0f} rt/s")
    print(f"BENCH python_io_rtt_p50_{name} {pct(rtts, 0.5) * 1e3:.3f} ms")
    print(f"BENCH python_io_rtt_p99_{name} {pct(rtts, 0.99) * 1e3:.3f} ms")


LATENCY = 0.010


class SlowEcho(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            m = self.request.recv(64)
            if not m:
                return
            time.sleep(LATENCY)
            self.request.sendall(m)


def latency_run(addr, nthreads, secs, spinner):
    stop = [False]
    counts = [0] * nthreads

    def client(i):
        s = socket.create_connection(addr)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        while not stop[0]:
            s.sendall(b"ping")
            s.recv(64)
            counts[i] += 1
        s.close()

    def spin():
        while not stop[0]:
            countdown(100_000)

    ts = [threading.Thread(target=client, args=(i,)) for i in range(nthreads)]
    if spinner:
        ts.append(threading.Thread(target=spin))
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    time.sleep(secs)
    stop[0] = True
    n = sum(counts)
    elapsed = time.perf_counter() - t0
    for t in ts:
        t.join()
    return n / elapsed


def latency_bench():
    socketserver.ThreadingTCPServer.allow_reuse_address = True
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), SlowEcho)
    srv.daemon_threads = True
    addr = srv.server_address
    pid = os.fork()
    if pid == 0:
        srv.serve_forever()
        os._exit(0)
    srv.socket.close()
    for spinner in (False, True):
        for n in (1, 2, 8):
            rate = latency_run(addr, n, SECS, spinner)
            tag = f"{n}threads" + ("_with_cpu" if spinner else "")
            print(f"BENCH python_io_10ms_roundtrips_{tag} {rate:.0f} rt/s")
    os.kill(pid, 9)
    os.waitpid(pid, 0)


def main():
    seq, par = cpu_ratio()
    print(f"BENCH python_countdown_seq {seq:.3f} s")
    print(f"BENCH python_countdown_2threads {par:.3f} s")
    print(f"BENCH python_cpu_2threads_vs_seq {par / seq:.3f} x")
    print(f"BENCH python_bytecode_loop_ns {seq / (2 * COUNT) * 1e9:.1f} ns")
    a, b = socket.socketpair()
    pid = os.fork()
    if pid == 0:
        a.close()
        echo_child(b)
    b.close()
    report("alone", *echo_run(a, SECS, False))
    for i in range(TRIALS):
        report(f"with_cpu_{i}", *echo_run(a, SECS, True))
    a.close()
    os.waitpid(pid, 0)
    latency_bench()
    print(f"BENCH python_switch_interval {sys.getswitchinterval() * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
