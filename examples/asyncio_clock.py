#!/usr/bin/env python3
"""Two asyncio coroutines printing the time, on one thread.

Both share the event loop's one thread: its lane sleeps in epoll_wait (I/O
in conctui's vocabulary: waiting on many descriptors, here only timers)
between the coroutines' turns. Runs for 50 s unless given seconds.
"""
import asyncio
import sys
import time

SECONDS = float(sys.argv[1]) if len(sys.argv) > 1 else 50.0


async def clock(name, period):
    end = time.monotonic() + SECONDS
    while time.monotonic() < end:
        print(f"{name}: {time.strftime('%H:%M:%S')}", flush=True)
        await asyncio.sleep(period)


async def main():
    await asyncio.gather(clock("every second", 1.0), clock("every 3 seconds", 3.0))


asyncio.run(main())
