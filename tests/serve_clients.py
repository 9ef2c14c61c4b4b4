#!/usr/bin/env python3
"""Slow and ordinary HTTP clients for tests/cli_serve_limits.sh (stdlib only). Each mode
prints one line of facts and exits 0 when the server behaved, 1 otherwise.

  trickle PORT SECONDS     one client sends a request line, then a header line every 0.5 s
                           for SECONDS; passes when the server closes it while it still sends
                           ("closed after T s")
  cap PORT N               N connections from 127.0.0.1 stay open, the (N+1)-th is closed at
                           once, and one from 127.0.0.2 stays open
  flood PORT SLOW ADDRS REQUESTS LIMIT
                           SLOW clients from 127.0.0.2.. (ADDRS addresses) trickle header
                           lines and reconnect when cut off; meanwhile REQUESTS ordinary
                           POST /v1/embeddings from 127.0.0.1, one after another, must each
                           be answered 200 within LIMIT seconds
  keepalive PORT IDLE       two GET /health on one kept-alive connection, IDLE seconds apart:
                           both answered 200 on the same connection
  dropped PORT             GET /metrics counts connections dropped at a deadline or to make
                           room, and not zero of them
"""
import http.client
import re
import select
import socket
import sys
import threading
import time
import urllib.request

HOST = "127.0.0.1"


def connect(port, source="127.0.0.1", timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect((HOST, port))
    return s


def closed_by_server(s, wait):
    """True when the server closed s (end of file or reset) within wait seconds."""
    ready, _, _ = select.select([s], [], [], wait)
    if not ready:
        return False
    try:
        return s.recv(4096) == b""
    except OSError:
        return True


def trickle(port, seconds):
    s = connect(port)
    start = time.monotonic()
    s.sendall(b"GET /health HTTP/1.1\r\n")
    n = 0
    while time.monotonic() - start < seconds:
        if closed_by_server(s, 0.5):
            print("closed after %.1f s, %d header lines sent" % (time.monotonic() - start, n))
            return 0
        try:
            s.sendall(b"X-Slow-%d: 1\r\n" % n)
        except OSError:
            print("closed after %.1f s (send failed)" % (time.monotonic() - start))
            return 0
        n += 1
    print("still open after %d s and %d header lines" % (seconds, n))
    return 1


def cap(port, n):
    held = [connect(port) for _ in range(n)]
    for s in held:
        s.sendall(b"GET /health HTTP/1.1\r\n")
    extra = connect(port)
    extra_closed = closed_by_server(extra, 2.0)
    other = connect(port, "127.0.0.2")
    others_open = not any(closed_by_server(s, 0) for s in held + [other])
    print("connection %d from one address %s; the first %d and one from 127.0.0.2 %s"
          % (n + 1, "closed" if extra_closed else "open", n,
             "open" if others_open else "closed"))
    return 0 if extra_closed and others_open else 1


COUNTS_LOCK = threading.Lock()


def count(counts, key):
    with COUNTS_LOCK:
        counts[key] += 1


def slow_client(port, source, stop, counts):
    """Trickles header lines every second and, as slowloris does, reconnects at its next
    tick when the server has cut it off (or refused it)."""
    while not stop.is_set():
        try:
            s = connect(port, source)
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n")
            count(counts, "connected")
            while not stop.is_set() and not closed_by_server(s, 1.0):
                s.sendall(b"X-Slow: 1\r\n")
            if not stop.is_set():
                count(counts, "cut")
            s.close()
        except OSError:
            pass
        stop.wait(1.0)


def ordinary(port, limit):
    body = b'{"input": "a short sentence"}'
    start = time.monotonic()
    s = connect(port, timeout=limit)
    s.sendall(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
              b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
    reply = b""
    while True:
        chunk = s.recv(65536)
        if not chunk:
            break
        reply += chunk
    s.close()
    return reply.split(b"\r\n", 1)[0], time.monotonic() - start


def flood(port, slow, addrs, requests, limit):
    stop = threading.Event()
    counts = {"connected": 0, "cut": 0}
    threads = [threading.Thread(target=slow_client, daemon=True,
                                args=(port, "127.0.0.%d" % (2 + i % addrs), stop, counts))
               for i in range(slow)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 20
    while counts["connected"] < slow and time.monotonic() < deadline:
        time.sleep(0.05)
    held = counts["connected"]
    answered, slowest, failures = 0, 0.0, []
    for _ in range(requests):
        try:
            status, seconds = ordinary(port, limit)
        except OSError as e:
            failures.append(type(e).__name__)
            continue
        slowest = max(slowest, seconds)
        if status.startswith(b"HTTP/1.1 200") and seconds < limit:
            answered += 1
        else:
            failures.append("%s in %.1f s" % (status.decode(errors="replace"), seconds))
        time.sleep(0.1)
    stop.set()
    print("%d slow clients connected from %d addresses (%d cut off meanwhile); %d of %d "
          "ordinary requests answered within %s s (slowest %.2f s)%s"
          % (held, addrs, counts["cut"], answered, requests, limit, slowest,
             "; failed: " + ", ".join(failures[:5]) if failures else ""))
    return 0 if held >= slow and answered == requests else 1


def keepalive(port, idle):
    c = http.client.HTTPConnection(HOST, port, timeout=10)
    statuses = []
    for i in range(2):
        if i:
            time.sleep(idle)
        c.request("GET", "/health")
        r = c.getresponse()
        r.read()
        statuses.append(r.status)
        sock = c.sock
    same = sock is c.sock
    c.close()
    print("statuses %s, %s connection" % (statuses, "one" if same else "a second"))
    return 0 if statuses == [200, 200] and same else 1


def dropped(port):
    url = "http://%s:%d/metrics" % (HOST, port)
    text = urllib.request.urlopen(url, timeout=5).read().decode()
    counts = dict(re.findall(r'^semb_connections_dropped_total\{reason="(\w+)"\} (\d+)$', text,
                             re.M))
    print("semb_connections_dropped_total: %s" % counts)
    ok = set(counts) == {"deadline", "evicted"} and sum(map(int, counts.values())) > 0
    return 0 if ok else 1


def main(argv):
    mode, port = argv[1], int(argv[2])
    if mode == "trickle":
        return trickle(port, float(argv[3]))
    if mode == "cap":
        return cap(port, int(argv[3]))
    if mode == "flood":
        return flood(port, int(argv[3]), int(argv[4]), int(argv[5]), float(argv[6]))
    if mode == "keepalive":
        return keepalive(port, float(argv[3]))
    if mode == "dropped":
        return dropped(port)
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
