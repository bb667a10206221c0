#!/usr/bin/env python3
"""Concurrent visitors against a running Atelier, as people would use it (standard library only).

    python3 bench/load.py burst  [--base URL] [--count 10] [--pid PID]
        One visitor uploads a photo, then opens its editor page COUNT times at once.
    python3 bench/load.py mixed  [--base URL] [--visitors 50] [--seconds 120] [--pid PID]
        VISITORS people, each with their own session, for SECONDS: open the workspace, upload a
        small photo, open its thumbnail, its editor page, the gallery, the privacy and cookie pages.

Prints, per route, how many answered, how many failed or never finished (20 s limit), p50 and p95;
with --pid, the server's resident memory before, after the load, and after 10 s idle.
Exits 1 when any request failed or stalled.
"""

import argparse
import http.cookiejar
import json
import pathlib
import sys
import threading
import time
import urllib.error
import urllib.request

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / "end2end" / "fixtures"
LIMIT = 20.0


class Visitor:
    """One browser: its own cookie jar, so its own session."""

    def __init__(self, base):
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def request(self, route, path, results, data=None, headers=None):
        request = urllib.request.Request(self.base + path, data=data, headers={"accept": "text/html", **(headers or {})})
        started = time.monotonic()
        try:
            with self.opener.open(request, timeout=LIMIT) as response:
                body = response.read()
                status = response.status
        except urllib.error.HTTPError as error:
            body, status = error.read(), error.code
        except Exception as error:  # a time-out or a dropped connection: the request stalled
            results.record(route, None, time.monotonic() - started, repr(error))
            return None
        results.record(route, status, time.monotonic() - started, None)
        return body

    def upload(self, results, name="chelsea.jpg"):
        data = (FIXTURES / name).read_bytes()
        body = self.request("POST /api/photos", "/api/photos", results, data, {"x-file-name": name, "content-type": "image/jpeg"})
        return json.loads(body) if body else None


class Results:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_route = {}

    def record(self, route, status, seconds, error):
        with self.lock:
            self.by_route.setdefault(route, []).append((status, seconds, error))

    def report(self):
        bad = 0
        print(f"{'route':<28} {'answered':>8} {'failed':>6} {'p50 ms':>8} {'p95 ms':>8}")
        for route, rows in sorted(self.by_route.items()):
            ok = sorted(s for status, s, _ in rows if status is not None and status < 500)
            failed = len(rows) - len(ok)
            bad += failed
            p = lambda q: f"{ok[min(len(ok) - 1, int(q * len(ok)))] * 1000:.0f}" if ok else "-"
            print(f"{route:<28} {len(ok):>8} {failed:>6} {p(0.5):>8} {p(0.95):>8}")
            for status, _, error in [r for r in rows if r[0] is None or r[0] >= 500][:3]:
                print(f"    {status or 'no answer'}: {error or ''}")
        return bad


def rss_mb(pid):
    if not pid:
        return None
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return None


def burst(args, results):
    visitor = Visitor(args.base)
    photo = visitor.upload(results)
    if not photo:
        sys.exit("the upload failed")
    threads = [threading.Thread(target=visitor.request, args=("GET /photos/{id}", f"/photos/{photo['id']}", results)) for _ in range(args.count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def mixed(args, results):
    deadline = time.monotonic() + args.seconds

    def person():
        while time.monotonic() < deadline:
            visitor = Visitor(args.base)
            visitor.request("GET /", "/", results)
            photo = visitor.upload(results, "coffee.png")
            if photo:
                visitor.request("GET thumbnail", photo["thumbnail_url"], results)
                visitor.request("GET /photos/{id}", f"/photos/{photo['id']}", results)
            for path in ["/gallery", "/privacy", "/cookies"]:
                visitor.request(f"GET {path}", path, results)

    threads = [threading.Thread(target=person) for _ in range(args.visitors)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("mode", choices=["burst", "mixed"])
    parser.add_argument("--base", default="http://127.0.0.1:3000")
    parser.add_argument("--count", type=int, default=10)
    parser.add_argument("--visitors", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--pid", type=int, help="the server's process id, to read its memory")
    args = parser.parse_args()
    results = Results()
    before = rss_mb(args.pid)
    started = time.monotonic()
    (burst if args.mode == "burst" else mixed)(args, results)
    took = time.monotonic() - started
    after = rss_mb(args.pid)
    bad = results.report()
    print(f"{sum(len(r) for r in results.by_route.values())} requests in {took:.1f} s; {bad} failed or never finished")
    if before is not None:
        time.sleep(10)
        print(f"server RSS: {before:.0f} MB before, {after:.0f} MB after, {rss_mb(args.pid):.0f} MB after 10 s idle")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
