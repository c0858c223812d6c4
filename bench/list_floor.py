#!/usr/bin/env python3
"""The practical floor of `ecsx tasks` against the sandbox: only the
sequential ListTasks pages (no DescribeTasks, no SDK, no process start), over
one keep-alive connection, timed in-process.

    bench/list_floor.py URL CLUSTER SERVICE [RUNS]
        prints one line per run: "<seconds> <pages> <task arns>"
"""
import http.client
import json
import sys
import time
from urllib.parse import urlparse

HEADERS = {
    "Content-Type": "application/x-amz-json-1.1",
    "X-Amz-Target": "AmazonEC2ContainerServiceV20141113.ListTasks",
    # The sandbox checks no signature; the scope names the service.
    "Authorization": "AWS4-HMAC-SHA256 Credential=AKIDBENCH/20260101/us-east-1/ecs/aws4_request, "
                     "SignedHeaders=host, Signature=0",
}


def once(conn, cluster, service):
    token, pages, arns = None, 0, 0
    while True:
        body = {"cluster": cluster, "serviceName": service, "maxResults": 100}
        if token:
            body["nextToken"] = token
        conn.request("POST", "/", json.dumps(body), HEADERS)
        resp = conn.getresponse()
        data = json.loads(resp.read())
        if resp.status != 200:
            raise SystemExit(f"ListTasks: {resp.status} {data}")
        pages += 1
        arns += len(data.get("taskArns", []))
        token = data.get("nextToken")
        if not token:
            return pages, arns


def main():
    url, cluster, service = sys.argv[1:4]
    runs = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    u = urlparse(url)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    once(conn, cluster, service)  # warm-up
    for _ in range(runs):
        t = time.perf_counter()
        pages, arns = once(conn, cluster, service)
        print(f"{time.perf_counter() - t:.4f} {pages} {arns}", flush=True)


if __name__ == "__main__":
    main()
