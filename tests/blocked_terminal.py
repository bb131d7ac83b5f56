#!/usr/bin/env python3
"""A terminal that stops reading: conctui's output blocks, its workers must not.

Runs conctui in a pseudo-terminal, makes it repaint a lot while nobody reads
(so its writes block), checks that the worker threads kept using CPU during
that time, then reads again, presses q and expects a clean exit. TAP output.
"""
import fcntl
import os
import pty
import select
import struct
import sys
import termios
import time

C = os.environ.get("CONCTUI", "./conctui")


def drain(fd, secs):
    end = time.time() + secs
    got = 0
    while time.time() < end:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                got += len(os.read(fd, 65536))
            except OSError:
                break
    return got


def worker_cpu(pid):
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        if int(tid) == pid:
            continue
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime + stime, in ticks
    return total


pid, fd = pty.fork()
if pid == 0:
    os.environ.update(TERM="xterm-256color", LANG="C.UTF-8")
    os.execv(C, [C, "--scene", "prodcons", "--set", "prod_rate=0", "--set", "cons_rate=0"])
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 200, 0, 0))
drain(fd, 1.5)
before = worker_cpu(pid)
# Nobody reads now; every zoom step repaints the lanes until the writes block.
for i in range(200):
    os.write(fd, b"w" if i % 2 else b"s")
    time.sleep(0.01)
time.sleep(2.0)
with open(f"/proc/{pid}/wchan") as f:
    wchan = f.read()
during = worker_cpu(pid) - before
print(f"# main thread waits in: {wchan}")
print("1..3")
print(("ok" if during > 0 else "not ok") + f" 1 - workers kept running while output was blocked ({during} ticks)")
drain(fd, 1.0)
os.write(fd, b"q")
end = time.time() + 30
status = None
while time.time() < end:
    drain(fd, 0.1)
    done, st = os.waitpid(pid, os.WNOHANG)
    if done:
        status = st
        break
print(("ok" if status is not None else "not ok") + " 2 - q still quits once the terminal reads again")
code = os.waitstatus_to_exitcode(status) if status is not None else None
print(("ok" if code == 0 else "not ok") + f" 3 - and exits with status 0 (got {code})")
if status is None:
    os.kill(pid, 9)
