#!/usr/bin/env python3
"""A counting HTTP/1.1 relay in front of the sandbox, to see where the time
of one `ecsx tasks` run goes: which AWS operations it calls, how many, when,
and how many are in flight at once. Diagnostic only: it adds its own
overhead, so timed runs go straight to the sandbox.

    bench/callcount.py UPSTREAM_URL LOG_FILE
        prints its own URL (http://127.0.0.1:PORT) as the first stdout line;
        appends one line per call to LOG_FILE:
        "<start epoch s> <end epoch s> <connection #> <operation>"
    bench/callcount.py --summary LOG_FILE [T0_EPOCH]
        per-operation counts, peak concurrency, first/last call times
"""
import asyncio
import sys
import time
from urllib.parse import urlparse


async def read_message(reader):
    """One HTTP/1.1 message with a Content-Length body: (head bytes, body)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        n = name.strip().lower()
        if n == b"content-length":
            length = int(value.strip())
        elif n == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = b""
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            body += size_line + chunk
            if size == 0:
                break
        return head, body
    return head, await reader.readexactly(length)


def operation(head):
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"x-amz-target":
            return value.strip().decode().split(".")[-1]
    return "other"


async def main_relay(upstream, log_path):
    up = urlparse(upstream)
    log = open(log_path, "a", buffering=1)
    counter = [0]

    async def client(creader, cwriter):
        counter[0] += 1
        conn = counter[0]
        ureader, uwriter = await asyncio.open_connection(up.hostname, up.port)
        try:
            while True:
                try:
                    head, body = await read_message(creader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                start = time.time()
                uwriter.write(head + body)
                await uwriter.drain()
                rhead, rbody = await read_message(ureader)
                end = time.time()
                cwriter.write(rhead + rbody)
                await cwriter.drain()
                log.write(f"{start:.6f} {end:.6f} {conn} {operation(head)}\n")
        finally:
            uwriter.close()
            cwriter.close()

    server = await asyncio.start_server(client, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    print(f"http://127.0.0.1:{port}", flush=True)
    async with server:
        await server.serve_forever()


def summary(log_path, t0=None):
    calls = []
    for line in open(log_path):
        s, e, c, op = line.split()
        calls.append((float(s), float(e), int(c), op))
    if not calls:
        print("no calls")
        return
    calls.sort()
    base = t0 if t0 is not None else calls[0][0]
    ops = {}
    for _, _, _, op in calls:
        ops[op] = ops.get(op, 0) + 1
    events = sorted([(s, 1) for s, _, _, _ in calls] + [(e, -1) for _, e, _, _ in calls])
    cur = peak = 0
    for _, d in events:
        cur += d
        peak = max(peak, cur)
    conns = len({c for _, _, c, _ in calls})
    print("calls: " + ", ".join(f"{op} {n}" for op, n in sorted(ops.items())))
    print(f"connections: {conns}, peak in flight: {peak}")
    print(f"first call starts at {1000 * (calls[0][0] - base):.1f} ms, "
          f"last call ends at {1000 * (max(e for _, e, _, _ in calls) - base):.1f} ms"
          + (" (from process start)" if t0 is not None else ""))
    for op in sorted(ops):
        d = sorted(1000 * (e - s) for s, e, _, o in calls if o == op)
        print(f"{op}: answered in median {d[len(d) // 2]:.1f} ms (min {d[0]:.1f}, max {d[-1]:.1f})")
    lists = [c for c in calls if c[3] == "ListTasks"]
    if len(lists) > 1:
        gaps = [1000 * (b[0] - a[1]) for a, b in zip(lists, lists[1:])]
        gaps.sort()
        print(f"ListTasks: {len(lists)} sequential pages; gap between one answer and the next "
              f"request median {gaps[len(gaps) // 2]:.2f} ms, max {gaps[-1]:.2f} ms")


if __name__ == "__main__":
    if sys.argv[1] == "--summary":
        summary(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else None)
    else:
        try:
            asyncio.run(main_relay(sys.argv[1], sys.argv[2]))
        except KeyboardInterrupt:
            pass
