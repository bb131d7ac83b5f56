#!/usr/bin/env python3
"""Threads doing I/O against a slow local server: the GIL is released while they wait.

A server thread answers each request after 100 ms; four client threads each
send requests over their own TCP connection. The clients' lanes show I/O
(recv), not lock: a thread blocked in a system call does not hold the GIL,
so the four waits overlap and the whole takes about as long as one client's.
"""
import socket
import threading
import time

DELAY = 0.1
REQUESTS = 10
CLIENTS = 4

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0))
srv.listen()
port = srv.getsockname()[1]


def serve(conn):
    with conn:
        while conn.recv(64):
            time.sleep(DELAY)  # a slow server
            conn.sendall(b"ok")


def server():
    while True:
        conn, _ = srv.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


def client(i):
    with socket.create_connection(("127.0.0.1", port)) as c:
        for _ in range(REQUESTS):
            c.sendall(b"ping")
            c.recv(64)
    print(f"client {i}: {REQUESTS} requests done", flush=True)


threading.Thread(target=server, daemon=True).start()
t0 = time.perf_counter()
clients = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
for t in clients:
    t.start()
for t in clients:
    t.join()
took = time.perf_counter() - t0
print(f"{CLIENTS} clients x {REQUESTS} requests of {DELAY * 1000:.0f} ms: {took:.2f} s "
      f"(one client alone: {REQUESTS * DELAY:.2f} s)", flush=True)
