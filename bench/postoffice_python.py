#!/usr/bin/env python3
"""The post office's readiness loop (conctui --scene postoffice --mode epoll)
written as a Python programmer would write it, with `selectors` and
non-blocking writes, on the same windows: one pipe per customer, sized to
hold one 4 KiB parcel, and a recipient thread that takes a parcel out of a
window service_us after it lands there.

The loop registers every window for EVENT_WRITE, and for each window that
has room (in ticket order) sends as much as it takes: os.write() until the
window says BlockingIOError (EAGAIN), then waits in select() for the next
readiness. With --heavy, customer 0's business is long: after its first
parcel, its callback computes for heavy_x service times (a CPU loop), and
nobody else is called meanwhile.

Prints one `BENCH <name> <value> <unit>` line per figure: the whole round
(first call to last parcel taken) and the customers' waits to be called,
the median of --rounds rounds.
"""
import argparse
import fcntl
import heapq
import os
import selectors
import statistics
import struct
import threading
import time
import zlib

F_SETPIPE_SZ = 1031  # Linux fcntl
PARCEL = 4096
HDR = struct.Struct("<IIIII")  # magic, round, customer, sequence number, crc32 of the payload
MAGIC = 0x70617263


def parcel(rnd, cust, seq):
    body = os.urandom(PARCEL - HDR.size)
    return HDR.pack(MAGIC, rnd, cust, seq, zlib.crc32(body)) + body


class Recipient(threading.Thread):
    """Takes a parcel out of a window service_s after it lands there; checks it."""

    def __init__(self, rds, service_s):
        super().__init__(daemon=True)
        self.rds, self.service_s = rds, service_s
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.expected, self.rnd, self.taken, self.bad = 0, 0, 0, 0
        self.done = threading.Event()
        self.t_last = 0.0
        self.quit = False

    def start_round(self, rnd, expected):
        with self.lock:
            self.rnd, self.expected, self.taken = rnd, expected, 0
            self.done.clear()

    def run(self):
        for i, fd in enumerate(self.rds):
            self.sel.register(fd, selectors.EVENT_READ, i)
        due = []  # (time, window): a parcel landed there and is taken out then
        while not self.quit:
            timeout = max(0.0, due[0][0] - time.monotonic()) if due else 0.05
            for key, _ in self.sel.select(timeout):
                self.sel.unregister(key.fd)  # one-shot, as the scene's recipient
                heapq.heappush(due, (time.monotonic() + self.service_s, key.data))
            now = time.monotonic()
            while due and due[0][0] <= now:
                _, i = heapq.heappop(due)
                self.take(i)
                self.sel.register(self.rds[i], selectors.EVENT_READ, i)

    def take(self, i):
        data = os.read(self.rds[i], PARCEL)
        ok = len(data) == PARCEL
        if ok:
            magic, rnd, cust, _, crc = HDR.unpack_from(data)
            ok = magic == MAGIC and cust == i and rnd == self.rnd and crc == zlib.crc32(data[HDR.size:])
        with self.lock:
            self.bad += not ok
            self.taken += 1
            if self.taken == self.expected:
                self.t_last = time.monotonic()
                self.done.set()


def spin(seconds):
    end = time.perf_counter() + seconds
    x = 1
    while time.perf_counter() < end:
        for _ in range(64):
            x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
    return x


def one_round(wrs, rec, rnd, parcels, heavy_s):
    """Serve every customer once; returns (total_s, waits)."""
    n = len(wrs)
    sel = selectors.DefaultSelector()
    for i, fd in enumerate(wrs):
        sel.register(fd, selectors.EVENT_WRITE, i)
    rec.start_round(rnd, n * parcels)
    called = [None] * n
    nxt = [1] * n
    pending = [None] * n  # the parcel that met a full window, kept for the next try
    left = n
    t0 = time.monotonic()
    while left:
        for key, _ in sorted(sel.select(), key=lambda e: e[0].data):
            i = key.data
            if called[i] is None:
                called[i] = time.monotonic() - t0
            while nxt[i] <= parcels:
                p = pending[i] or parcel(rnd, i, nxt[i])
                try:
                    os.write(wrs[i], p)
                except BlockingIOError:
                    pending[i] = p
                    break
                pending[i] = None
                nxt[i] += 1
                if nxt[i] == 2 and heavy_s and i == 0:
                    spin(heavy_s)  # customer 0's long business, in its callback
            if nxt[i] > parcels:
                sel.unregister(wrs[i])
                left -= 1
    sel.close()
    rec.done.wait()
    return rec.t_last - t0, called


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=100)
    ap.add_argument("--parcels", type=int, default=4)
    ap.add_argument("--service-us", type=int, default=20000)
    ap.add_argument("--heavy", action="store_true", help="customer 0's business is long")
    ap.add_argument("--heavy-x", type=int, default=20, help="its length, in service times")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--name", default="postoffice_python_selectors")
    a = ap.parse_args()
    rds, wrs = [], []
    for _ in range(a.customers):
        r, w = os.pipe()
        fcntl.fcntl(w, F_SETPIPE_SZ, PARCEL)  # the window holds one parcel
        os.set_blocking(w, False)
        os.set_blocking(r, False)
        rds.append(r)
        wrs.append(w)
    rec = Recipient(rds, a.service_us / 1e6)
    rec.start()
    heavy_s = a.heavy_x * a.service_us / 1e6 if a.heavy else 0
    totals, p99s, others = [], [], []
    for rnd in range(1, a.rounds + 1):
        total, waits = one_round(wrs, rec, rnd, a.parcels, heavy_s)
        totals.append(total * 1e3)
        p99s.append(pct(waits, 0.99) * 1e3)
        others.append(pct(waits[1:], 0.99) * 1e3)
    rec.quit = True
    print("BENCH %s_total_ms %.1f ms" % (a.name, statistics.median(totals)))
    print("BENCH %s_wait_p99_ms %.2f ms" % (a.name, statistics.median(p99s)))
    if a.heavy:
        print("BENCH %s_wait_p99_others_ms %.1f ms" % (a.name, statistics.median(others)))
    if rec.bad:
        print("# %d parcels arrived damaged" % rec.bad)


if __name__ == "__main__":
    main()
