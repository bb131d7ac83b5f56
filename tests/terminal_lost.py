#!/usr/bin/env python3
"""The terminal goes away, or the program is stopped and killed: it must end.

1. Started in its own session (setsid) on a pseudo-terminal that is not its
   controlling terminal, so closing the terminal sends no SIGHUP: the program
   sees the hang-up on the terminal and quits, its worker processes reaped.
2. In an interactive shell: Ctrl-Z, then `kill %1` (SIGTERM, then SIGCONT):
   the program ends instead of stopping again on terminal output.
TAP output.
"""
import os
import pty
import signal
import subprocess
import sys
import time

C = os.path.abspath(os.environ.get("CONCTUI", "./conctui"))
ARGS = ["--scene", "prodcons", "--mode", "processes"]
ENV = dict(os.environ, TERM="xterm-256color", LANG="C.UTF-8")
n = 0


def report(ok, name, why=""):
    global n
    n += 1
    print(("ok" if ok else "not ok") + f" {n} - {name}")
    if not ok and why:
        print("# " + why)


def children(pid):
    kids = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                kids += [int(k) for k in f.read().split()]
    except OSError:
        pass
    return kids


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def drain(fd, secs):
    end = time.time() + secs
    while time.time() < end:
        try:
            import select
            r, _, _ = select.select([fd], [], [], 0.05)
            if r:
                os.read(fd, 65536)
        except OSError:
            return


def wait_gone(pids, secs):
    end = time.time() + secs
    while time.time() < end and any(alive(p) for p in pids):
        time.sleep(0.1)
    return [p for p in pids if alive(p)]


print("1..4")

# 1. No SIGHUP: a new session, the pty only as stdin/stdout/stderr.
master, slave = os.openpty()
os.set_blocking(master, True)
import fcntl, struct, termios
fcntl.ioctl(master, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
p = subprocess.Popen([C] + ARGS, stdin=slave, stdout=slave, stderr=slave, env=ENV,
                     start_new_session=True)
os.close(slave)
drain(master, 2.5)
kids = children(p.pid)
os.close(master)
try:
    rc = p.wait(timeout=15)
except subprocess.TimeoutExpired:
    rc = None
left = wait_gone(kids, 5)
report(rc is not None, "the terminal closed without SIGHUP: the program quits",
       "still running after 15 s")
report(kids and not left, "and its worker processes are gone",
       f"workers {kids}, left {left}")
if rc is None:
    p.kill()
    p.wait()
for k in left:
    try:
        os.kill(k, signal.SIGKILL)
    except OSError:
        pass

# 2. Ctrl-Z, then kill %1 in an interactive shell with job control.
pid, fd = pty.fork()
if pid == 0:
    os.execve("/bin/bash", ["bash", "--norc", "--noprofile", "-i"], dict(ENV, PS1="$ "))
fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
drain(fd, 0.5)
os.write(fd, (" ".join([C] + ARGS) + "\n").encode())
drain(fd, 3.0)
ui = [k for k in children(pid) if alive(k)]
kids = [k for u in ui for k in children(u)]
os.write(fd, b"\x1a")
drain(fd, 1.5)
os.write(fd, b"kill %1\n")
left = ui
end = time.time() + 15
while time.time() < end and any(alive(u) for u in ui):
    drain(fd, 0.2)
left = [u for u in ui if alive(u)]
report(ui and not left, "Ctrl-Z, then kill %1: the program ends",
       f"program {ui}, still there {left}")
left_kids = wait_gone(kids, 5)
report(kids and not left_kids, "and its worker processes are gone",
       f"workers {kids}, left {left_kids}")
for k in left + left_kids:
    try:
        os.kill(k, signal.SIGKILL)
    except OSError:
        pass
os.write(fd, b"exit\n")
drain(fd, 0.5)
os.kill(pid, signal.SIGKILL)
os.waitpid(pid, 0)
