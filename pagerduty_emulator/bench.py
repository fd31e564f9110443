"""Measure emulator start-up time and /incidents pages per second.

``python -m pagerduty_emulator.bench [--incidents 100000] [--threads 4] [--pages 1000]``

Starts ``python -m pagerduty_emulator`` as a subprocess (rate limit off), then fetches 100-record
/incidents pages over keep-alive connections from a few client threads: once over not yet
rendered incidents ("cold") and again over the same pages ("warm").
"""

from __future__ import annotations

import argparse
import http.client
import socket
import subprocess
import sys
import threading
import time

HEADERS = {
    "Authorization": "Token token=emulator-token",
    "Accept": "application/vnd.pagerduty+json;version=2",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(port: int, threads: int, pages: int) -> float:
    per = max(1, pages // threads)
    done = []

    def worker(k: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        n = 0
        for j in range(per):
            off = ((k * per + j) * 100) % 9900
            conn.request(
                "GET", f"/incidents?date_range=all&limit=100&offset={off}", headers=HEADERS
            )
            resp = conn.getresponse()
            resp.read()
            if resp.status != 200:
                raise RuntimeError(f"HTTP {resp.status}")
            n += 1
        done.append(n)
        conn.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join(300)
    return sum(done) / (time.monotonic() - t0)


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--incidents", type=int, default=100000)
    p.add_argument("--threads", type=int, default=4)
    p.add_argument("--pages", type=int, default=1000)
    a = p.parse_args()
    port = _free_port()
    cmd = [sys.executable, "-m", "pagerduty_emulator", "--port", str(port), "--rate-limit", "0"]
    cmd += ["--incidents", str(a.incidents), "--now", "2026-11-01T00:00:00Z"]
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None  # a pipe, asked for above
        line = proc.stdout.readline().strip()
        print(f"start-up (wall, incl. interpreter): {time.monotonic() - t0:.1f} s")
        print(line)
        cold = _run(port, a.threads, min(a.pages, 99))
        warm = _run(port, a.threads, a.pages)
        print(f"cold: {cold:.0f} pages/s   warm: {warm:.0f} pages/s   ({a.threads} threads)")
        try:
            with open(f"/proc/{proc.pid}/status") as fh:
                rss = fh.read().split("VmRSS:")[1].split()[0]
            print(f"server RSS: {int(rss) // 1024} MB")
        except OSError:
            pass
    finally:
        proc.terminate()
        proc.wait(30)
    return 0


if __name__ == "__main__":
    sys.exit(main())
