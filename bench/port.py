#!/usr/bin/env python3
"""ecsx port-forward benchmarks (issue 9 section 6), against the sandbox:

    python3 bench/port.py [--ecsx BIN] [--size-mib 256] [--runs 3] [--http 100]

For each of two sandboxes (unpaced, and `exec.agent_pacing: real` as the
real agent paces), one forward started by `ecsx port-forward`, then:

- upload: SIZE MiB written through one forwarded connection to a server
  that reads it all and answers its sha256 (checked);
- download: SIZE MiB sent by the server through the forward (sha256
  checked); with pacing, the size is capped (--paced-mib, default 16) since
  the cap is about 1 MB/s;
- the same two directly on loopback (the limit);
- 100 concurrent short HTTP requests (a new connection each) through the
  forward and directly: p50 and p99 latency;
- ecsx's peak RSS (VmHWM of /proc/<pid>/status) after the transfers.

The official session-manager-plugin is not run here (it cannot be built in
CI); compare by running `aws ssm start-session --document-name
AWS-StartPortForwardingSession` against the same sandbox where it exists.

Without --ecsx it runs `cargo build --release` and uses target/release/ecsx.
Prints a Markdown report.
"""
import argparse, hashlib, http.server, json, os, socket, socketserver, statistics
import subprocess, sys, tempfile, threading, time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CONFIG = os.path.join(ROOT, "ecspresso.yml.example")
CHUNK = 256 * 1024


def pattern(n_bytes):
    """Deterministic incompressible-ish bytes, generated in chunks."""
    block = hashlib.sha256(b"ecsx").digest() * (CHUNK // 32)
    left = n_bytes
    i = 0
    while left > 0:
        piece = block[: min(CHUNK, left)]
        # Vary each chunk so a stuck or repeated chunk changes the digest.
        piece = i.to_bytes(8, "big") + piece[8:] if len(piece) >= 8 else piece
        yield piece
        left -= len(piece)
        i += 1


def expected_sha(n_bytes):
    h = hashlib.sha256()
    for p in pattern(n_bytes):
        h.update(p)
    return h.hexdigest()


class Transfer(socketserver.BaseRequestHandler):
    """First line `U <n>`: read n bytes, answer their sha256.
    `D <n>`: send n bytes of the pattern, then close."""

    def handle(self):
        f = self.request.makefile("rb")
        line = f.readline().split()
        if len(line) != 2:
            return
        mode, n = line[0], int(line[1])
        if mode == b"U":
            h = hashlib.sha256()
            left = n
            while left > 0:
                data = f.read1(min(CHUNK, left))
                if not data:
                    break
                h.update(data)
                left -= len(data)
            self.request.sendall(h.hexdigest().encode() + b"\n")
        elif mode == b"D":
            for p in pattern(n):
                self.request.sendall(p)
        try:
            self.request.shutdown(socket.SHUT_WR)
        except OSError:
            pass


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class Small(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_GET(self):
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def upload(addr, n):
    s = socket.create_connection(addr)
    t0 = time.perf_counter()
    s.sendall(b"U %d\n" % n)
    for p in pattern(n):
        s.sendall(p)
    answer = s.makefile("rb").readline().strip().decode()
    dt = time.perf_counter() - t0
    s.close()
    return dt, answer


def download(addr, n):
    s = socket.create_connection(addr)
    t0 = time.perf_counter()
    s.sendall(b"D %d\n" % n)
    h = hashlib.sha256()
    got = 0
    while got < n:
        data = s.recv(CHUNK)
        if not data:
            break
        h.update(data)
        got += len(data)
    dt = time.perf_counter() - t0
    s.close()
    return dt, h.hexdigest(), got


def http_latencies(addr, n):
    lat = [None] * n
    start = threading.Barrier(n)

    def one(i):
        start.wait()
        t0 = time.perf_counter()
        s = socket.create_connection(addr)
        s.sendall(b"GET / HTTP/1.0\r\nHost: bench\r\n\r\n")
        buf = b""
        while True:
            d = s.recv(4096)
            if not d:
                break
            buf += d
        s.close()
        assert buf.startswith(b"HTTP/1.0 200") and buf.endswith(b"ok\n"), buf[:80]
        lat[i] = time.perf_counter() - t0

    ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    lat.sort()
    p = lambda q: lat[min(n - 1, int(q * n))]
    return statistics.median(lat), p(0.99)


def env():
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k not in ("ECSPRESSO_CONFIG", "NO_COLOR")}
    e.update(
        AWS_ACCESS_KEY_ID="AKIDBENCHEXAMPLE",
        AWS_SECRET_ACCESS_KEY="bench-secret",
        AWS_REGION="us-east-1",
        AWS_EC2_METADATA_DISABLED="true",
        AWS_CONFIG_FILE="/nonexistent/ecsx-bench/config",
        AWS_SHARED_CREDENTIALS_FILE="/nonexistent/ecsx-bench/credentials",
    )
    return e


def start_sandbox(ecsx, world_text, tmp):
    path = os.path.join(tmp, "world-%d.yml" % abs(hash(world_text)))
    with open(path, "w") as f:
        f.write(world_text)
    p = subprocess.Popen(
        [ecsx, "--config", CONFIG, "sandbox", "serve", "--world", path],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env(),
    )
    url = p.stdout.readline().decode().strip()
    if not url:
        sys.exit("bench: the sandbox did not start")
    return p, url


def start_forward(ecsx, url, port):
    p = subprocess.Popen(
        [ecsx, "--endpoint-url", url, "--config", CONFIG, "port-forward",
         "--port", str(port), "--skip-verify"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env(),
    )
    line = p.stdout.readline().decode().strip()
    if not line:
        sys.exit("bench: port-forward printed no address: " + p.stderr.read().decode())
    host, port = line.rsplit(":", 1)
    return p, (host, int(port))


def peak_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


def mbps(n, dt):
    return n / dt / 1e6


def measure(label, addr, size, runs, want_sha):
    up, down = [], []
    for _ in range(runs):
        dt, sha = upload(addr, size)
        assert sha == want_sha, f"{label}: upload sha mismatch"
        up.append(mbps(size, dt))
        dt, sha, got = download(addr, size)
        assert got == size and sha == want_sha, f"{label}: download mismatch ({got} bytes)"
        down.append(mbps(size, dt))
    return statistics.median(up), statistics.median(down)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ecsx")
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--paced-mib", type=int, default=16)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--http", type=int, default=100)
    a = ap.parse_args()
    ecsx = a.ecsx
    if not ecsx:
        print("bench: cargo build --release", file=sys.stderr)
        subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, check=True)
        target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
        ecsx = os.path.join(target, "release", "ecsx")

    xfer = Server(("127.0.0.1", 0), Transfer)
    threading.Thread(target=xfer.serve_forever, daemon=True).start()
    web = Server(("127.0.0.1", 0), Small)
    threading.Thread(target=web.serve_forever, daemon=True).start()
    xfer_addr, web_addr = xfer.server_address, web.server_address

    rows, http_rows, rss_rows = [], [], []
    procs = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for pacing in ("none", "real"):
                size = (a.size_mib if pacing == "none" else min(a.size_mib, a.paced_mib)) * 1024 * 1024
                want = expected_sha(size)
                sb, url = start_sandbox(ecsx, "task_count: 1\nexec:\n  agent_pacing: %s\n" % pacing, tmp)
                procs.append(sb)
                fwd, local = start_forward(ecsx, url, xfer_addr[1])
                procs.append(fwd)
                up, down = measure("ecsx", local, size, a.runs, want)
                rss = peak_rss_kib(fwd.pid)
                dup, ddown = measure("direct", xfer_addr, size, a.runs, want)
                rows.append((pacing, size // (1024 * 1024), up, down, dup, ddown))
                rss_rows.append((pacing, size // (1024 * 1024), rss))
                fwd.terminate()
                fwd.wait(10)
                if pacing == "none":
                    hf, hlocal = start_forward(ecsx, url, web_addr[1])
                    procs.append(hf)
                    http_latencies(hlocal, 10)  # warm-up
                    p50, p99 = http_latencies(hlocal, a.http)
                    d50, d99 = http_latencies(web_addr, a.http)
                    http_rows.append((p50, p99, d50, d99))
                    hf.terminate()
                    hf.wait(10)
                sb.terminate()
                sb.wait(10)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()

    version = subprocess.run([ecsx, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"### port-forward ({version}, {a.runs} runs each, medians; load {open('/proc/loadavg').read().split()[0]})\n")
    print("| agent pacing | MiB | ecsx upload MB/s | ecsx download MB/s | direct upload MB/s | direct download MB/s | upload / direct | download / direct |")
    print("|---|---|---|---|---|---|---|---|")
    for pacing, mib, up, down, dup, ddown in rows:
        print(f"| {pacing} | {mib} | {up:.1f} | {down:.1f} | {dup:.1f} | {ddown:.1f} | {up/dup:.2f} | {down/ddown:.2f} |")
    print()
    for p50, p99, d50, d99 in http_rows:
        print(f"{a.http} concurrent HTTP requests (new connection each), through one forward: p50 {p50*1000:.1f} ms, p99 {p99*1000:.1f} ms; direct: p50 {d50*1000:.2f} ms, p99 {d99*1000:.2f} ms\n")
    for pacing, mib, rss in rss_rows:
        print(f"Peak RSS of ecsx port-forward (pacing {pacing}, {mib} MiB each way): {rss/1024:.1f} MiB")
    print("\nThe official session-manager-plugin was not run (not installed here).")


if __name__ == "__main__":
    main()
