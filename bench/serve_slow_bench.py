#!/usr/bin/env python3
"""Slow clients against `semb serve` (issue #14, item 4): SLOW connections, spread over
ADDRESSES loopback source addresses (127.0.0.2, 127.0.0.3, ...; an attacker has many, which
defeats a per-address cap), each send a request line and then one header line every INTERVAL
seconds for SECONDS, never finishing the head; one that the server cuts off or refuses
reconnects at its next tick, as slowloris does. Meanwhile another client (127.0.0.1) sends
ordinary POST /v1/embeddings requests, one at a time, each on a new connection, with a 10 s
timeout. Prints the ordinary requests' p50/p99/max latency and errors as a markdown table row.

usage: bench/serve_slow_bench.py [--semb build/semb] [--model DIR] [--slow 300]
           [--addresses 10] [--seconds 40] [--interval 2] [--label NAME] [-- SERVER ARGS...]
The model defaults to bench/out/minilm-l6-random (bench/serve_bench.sh creates it); the
server runs with its default limits unless SERVER ARGS say otherwise. Python 3 stdlib only.
"""
import argparse
import http.client
import os
import re
import selectors
import socket
import subprocess
import sys
import threading
import time


def start_server(semb, model, extra, log_path):
    log = open(log_path, "w")
    server = subprocess.Popen([semb, "serve", "--model", model, "--port", "0"] + extra,
                              stderr=log)
    for _ in range(600):
        with open(log_path) as f:
            found = re.search(r"listening on http://127\.0\.0\.1:(\d+)", f.read())
        if found:
            return server, int(found.group(1))
        if server.poll() is not None:
            break
        time.sleep(0.1)
    server.kill()
    sys.exit("serve_slow_bench: the server did not start; see " + log_path)


class SlowClients:
    """SLOW trickling connections driven by one selector loop (threads would compete with the
    server for the CPUs)."""

    def __init__(self, port, slow, addresses, interval):
        self.port, self.interval = port, interval
        self.sources = ["127.0.0.%d" % (2 + i % addresses) for i in range(slow)]
        self.socks = [None] * slow
        self.next_at = [time.monotonic() + interval * i / slow for i in range(slow)]
        self.connects = self.cut = self.open_max = 0
        self.selector = selectors.DefaultSelector()

    def connect(self, i):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(1.0)
        try:
            s.bind((self.sources[i], 0))
            s.connect(("127.0.0.1", self.port))
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
        except OSError:
            s.close()
            return
        s.setblocking(False)
        self.socks[i] = s
        self.selector.register(s, selectors.EVENT_READ, i)
        self.connects += 1

    def drop(self, i):
        self.selector.unregister(self.socks[i])
        self.socks[i].close()
        self.socks[i] = None
        self.cut += 1

    def run(self, until):
        while time.monotonic() < until:
            for key, _ in self.selector.select(timeout=0.05):
                i = key.data
                try:
                    data = self.socks[i].recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.drop(i)
            now = time.monotonic()
            for i in range(len(self.socks)):
                if now < self.next_at[i]:
                    continue
                self.next_at[i] = now + self.interval
                if self.socks[i] is None:
                    self.connect(i)
                    continue
                try:
                    self.socks[i].send(b"X-Slow: 1\r\n")
                except OSError:
                    self.drop(i)
            self.open_max = max(self.open_max, sum(s is not None for s in self.socks))
        for i, s in enumerate(self.socks):
            if s is not None:
                s.close()


def ordinary_requests(port, until, latencies, errors):
    body = b'{"input": "A man is playing a guitar.", "model": "bench"}'
    while time.monotonic() < until:
        start = time.monotonic()
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("POST", "/v1/embeddings", body, {"Content-Type": "application/json",
                                                        "Connection": "close"})
            r = c.getresponse()
            r.read()
            c.close()
            if r.status == 200:
                latencies.append(time.monotonic() - start)
            else:
                errors.append("HTTP %d" % r.status)
        except (OSError, http.client.HTTPException) as e:
            errors.append(type(e).__name__)
        time.sleep(0.05)


def percentile(sorted_values, p):
    if not sorted_values:
        return float("nan")
    return sorted_values[min(len(sorted_values) - 1, int(p / 100 * len(sorted_values)))]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--semb", default="build/semb")
    ap.add_argument("--model", default="bench/out/minilm-l6-random")
    ap.add_argument("--slow", type=int, default=300)
    ap.add_argument("--addresses", type=int, default=10)
    ap.add_argument("--seconds", type=float, default=40)
    ap.add_argument("--interval", type=float, default=2)
    ap.add_argument("--label", default="")
    ap.add_argument("server_args", nargs="*")
    a = ap.parse_args()
    os.makedirs("bench/out/serve", exist_ok=True)
    server, port = start_server(a.semb, a.model, ["--name", "bench"] + a.server_args,
                                "bench/out/serve/slow_server.log")
    try:
        slow = SlowClients(port, a.slow, a.addresses, a.interval)
        until = time.monotonic() + a.seconds
        latencies, errors = [], []
        # the slow clients get one interval's head start: every one has connected once
        worker = threading.Thread(target=ordinary_requests,
                                  args=(port, until, latencies, errors))
        threading.Timer(a.interval, worker.start).start()
        slow.run(until)
        worker.join()
    finally:
        server.terminate()
        try:
            server.wait(timeout=40)
        except subprocess.TimeoutExpired:
            server.kill()
    lat = sorted(latencies)
    kinds = {}
    for e in errors:
        kinds[e] = kinds.get(e, 0) + 1
    print("| binary | slow clients (addresses) | slow connects / cut | ordinary answered | "
          "errors | p50 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    print("| %s | %d (%d) | %d / %d | %d | %d%s | %.1f | %.1f | %.1f |"
          % (a.label or a.semb, a.slow, a.addresses, slow.connects, slow.cut, len(lat),
             len(errors), " (" + ", ".join("%s %d" % kv for kv in kinds.items()) + ")"
             if kinds else "", 1000 * percentile(lat, 50), 1000 * percentile(lat, 99),
             1000 * (lat[-1] if lat else float("nan"))))


if __name__ == "__main__":
    main()
