"""``bench serve`` under measurement: a warm server on loopback, in one run (it stops by itself).

Run from the repository root (in the project's environment, ``bench`` on the PATH)::

    python benchmarks/serve.py --out results/serve/serve.md
    python benchmarks/serve.py --quick          # fewer repeats, 10 solves for the memory check

It starts ``bench serve`` as a separate process (its default two workers on this 2-core machine, warmed up),
on a free loopback port with a fresh workspace, waits until its workers are warm, then measures the issue's
targets:

* **first chords**: from the POST of a photo (288 pins, 4000 lines, 512 px, the default solver) to the first
  event carrying chords on its stream (target <= 0.3 s), median and max of ``--repeat``;
* **solve through the API vs in this process**: POST to the ``done`` event (kit off) against
  :func:`bench.single.solve` called warm in this process with the same photo and options, writing the same
  result files (target <= 1.2x), median of ``--repeat`` each, interleaved so both see the same machine;
* **memory**: the server process's resident memory before and after ``--solves`` consecutive solves (target
  growth < 50 MB);
* **load**: 20 small solves at once (256 px, 1000 lines) while 200 page and API requests are made from 8
  threads: every job must finish (done), none lost, no 5xx; p50/p95 of the requests' latency;
* **responsiveness**: 200 page and API requests, one after the other, while two solves run (both workers
  busy; target p95 <= 100 ms).
"""

from __future__ import annotations

import argparse
import http.client
import json
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from _common import provenance, publish  # noqa: E402

DEFAULT = {"pins": "288", "lines": "4000", "canvas": "512"}
SMALL = {"pins": "288", "lines": "1000", "canvas": "256", "kit": "false"}
PAGES = ["/", "/runs", "/compare", "/api/status", "/api/jobs", "/api/solvers", "/static/common.js"]


class Client:
    """Plain HTTP/1.1 to the server (a connection per request, as browsers open several)."""

    def __init__(self, port: int):
        self.port = port

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return resp.status, data

    def get(self, path: str) -> tuple[int, float]:
        t = time.perf_counter()
        status, _ = self.request("GET", path)
        return status, time.perf_counter() - t

    def post_photo(self, photo: bytes, fields: dict) -> tuple[int, dict]:
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in fields.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="photo.jpg"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + photo + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        status, data = self.request("POST", "/api/solve", body,
                                    {"Content-Type": f"multipart/form-data; boundary={boundary}"})
        return status, json.loads(data)

    def stream(self, job_id: str):
        """The job's events, as they come, with the time each arrived."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=300)
        conn.request("GET", f"/api/jobs/{job_id}/events")
        resp = conn.getresponse()
        try:
            while True:
                line = resp.fp.readline()
                if not line:
                    return
                if line.startswith(b"data:"):
                    ev = json.loads(line[5:])
                    yield time.perf_counter(), ev
                    if ev["status"] in ("done", "failed", "cancelled", "interrupted"):
                        return
        finally:
            conn.close()

    def solve(self, photo: bytes, fields: dict) -> dict:
        """POST and follow the job: seconds to the first chords, to ``solved``, to the last event; its status."""
        t0 = time.perf_counter()
        status, body = self.post_photo(photo, fields)
        if status != 202:
            return {"status": f"HTTP {status}", "error": body.get("error")}
        out = {"id": body["id"], "first": None, "solved": None}
        for t, ev in self.stream(body["id"]):
            if ev.get("threads") and out["first"] is None:
                out["first"] = t - t0
            if ev["status"] == "solved":
                out["solved"] = t - t0
            out["status"], out["end"] = ev["status"], t - t0
            out["error"] = ev.get("error")
        return out


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024.0
    return float("nan")


def pct(values, q) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q / 100 * (len(values) - 1))))]


def start_server(workspace: Path) -> tuple[subprocess.Popen, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    bench = shutil.which("bench") or f"{sys.executable} -m bench.cli"
    proc = subprocess.Popen([*bench.split(), "serve", "--port", str(port), "--no-browser", "--workspace",
                             str(workspace)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    client = Client(port)
    deadline = time.time() + 300
    while True:
        try:
            status, data = client.request("GET", "/api/status")
            s = json.loads(data)
            if s["ready"] == s["workers"]:
                return proc, port
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            raise SystemExit(f"bench serve did not start: {proc.stdout.read() if proc.stdout else ''}")
        time.sleep(0.2)


def photo_bytes() -> bytes:
    import io

    from PIL import Image
    from skimage import data

    buf = io.BytesIO()
    Image.fromarray(data.astronaut()).save(buf, "JPEG", quality=92)
    return buf.getvalue()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=None, help="write the report here (Markdown)")
    ap.add_argument("--repeat", type=int, default=7, help="repeats of the timed solves")
    ap.add_argument("--solves", type=int, default=50, help="consecutive solves of the memory check")
    ap.add_argument("--quick", action="store_true", help="3 repeats, 10 solves for the memory check")
    args = ap.parse_args()
    if args.quick:
        args.repeat, args.solves = 3, 10
    photo = photo_bytes()
    tmp = Path(tempfile.mkdtemp(prefix="serve-bench-"))
    (tmp / "photo.jpg").write_bytes(photo)
    t_start = time.perf_counter()
    print("starting bench serve (two workers, warmed up)...", flush=True)
    proc, port = start_server(tmp / "workspace")
    c = Client(port)
    rows: list[tuple[str, str, str, str]] = []
    try:
        # ------------------------------------------------------------ warm both sides
        from bench.single import solve

        for _ in range(2):  # the workers' tables for these sizes in memory
            c.solve(photo, {**DEFAULT, "kit": "false"})
            c.solve(photo, SMALL)
        solve(str(tmp / "photo.jpg"), out=tmp / "inproc")  # this process's kernels and table
        # ------------------------------------------------------------ first chords, API vs in-process
        print("first chords and solve time through the API vs in this process...", flush=True)
        firsts, api_solved, api_done, inproc = [], [], [], []
        for _ in range(args.repeat):
            r = c.solve(photo, {**DEFAULT, "kit": "false"})
            assert r["status"] == "done", r
            firsts.append(r["first"])
            api_solved.append(r["solved"])
            api_done.append(r["end"])
            t = time.perf_counter()
            solve(str(tmp / "photo.jpg"), out=tmp / "inproc")
            inproc.append(time.perf_counter() - t)
        ratio = statistics.median(api_done) / statistics.median(inproc)
        rows.append(("POST -> first chords on the stream", "<= 0.3 s",
                     f"median {statistics.median(firsts):.3f} s, max {max(firsts):.3f} s",
                     "yes" if statistics.median(firsts) <= 0.3 else "no"))
        rows.append(("288 pins / 4000 lines / 512 px through the API (POST -> done, kit off) vs "
                     "`bench.single.solve` in-process (warm, same files)", "<= 1.2x",
                     f"{statistics.median(api_done):.3f} s vs {statistics.median(inproc):.3f} s = {ratio:.2f}x "
                     f"(POST -> scores: {statistics.median(api_solved):.3f} s)", "yes" if ratio <= 1.2 else "no"))
        kit = c.solve(photo, DEFAULT)
        # ------------------------------------------------------------ memory over consecutive solves
        print(f"server memory over {args.solves} consecutive solves...", flush=True)
        before = rss_mb(proc.pid)
        for i in range(args.solves):
            r = c.solve(photo, {**DEFAULT, "kit": "false", "seed": str(i)})
            assert r["status"] == "done", r
            for path in PAGES[:5]:
                c.get(path)
        after = rss_mb(proc.pid)
        rows.append((f"server memory growth over {args.solves} consecutive solves", "< 50 MB",
                     f"{after - before:+.1f} MB ({before:.0f} -> {after:.0f} MB resident)",
                     "yes" if after - before < 50 else "no"))
        # ------------------------------------------------------------ load: 20 solves at once + 200 requests
        print("load: 20 small solves at once and 200 page/API requests...", flush=True)
        lat, codes = [], []
        lock = threading.Lock()

        def hit(i):
            path = PAGES[i % len(PAGES)]
            status, dt = c.get(path)
            with lock:
                lat.append(dt)
                codes.append(status)

        t = time.perf_counter()
        with ThreadPoolExecutor(20) as jobs_pool, ThreadPoolExecutor(8) as pages_pool:
            futures = [jobs_pool.submit(c.solve, photo, {**SMALL, "seed": str(i)}) for i in range(20)]
            list(pages_pool.map(hit, range(200)))
            results = [f.result() for f in futures]
        load_s = time.perf_counter() - t
        finished = sum(1 for r in results if r.get("status") == "done")
        lost = 20 - finished
        five = sum(1 for s in codes if s >= 500) + sum(1 for r in results if str(r.get("status")).startswith("HTTP 5"))
        runs = json.loads(c.request("GET", "/api/jobs")[1])["jobs"]
        listed = {r["id"] for r in runs} >= {r["id"] for r in results if "id" in r}
        rows.append(("load: 20 solves at once (256 px, 1000 lines) + 200 page/API requests", "0 lost, 0 5xx",
                     f"{finished}/20 done, {lost} lost, {five} 5xx, all listed: {listed}; requests p50 "
                     f"{pct(lat, 50) * 1000:.0f} ms, p95 {pct(lat, 95) * 1000:.0f} ms; {load_s:.1f} s in all",
                     "yes" if lost == 0 and five == 0 and listed else "no"))
        # ------------------------------------------------------------ responsiveness while two solves run
        print("page and API latency while two solves run...", flush=True)
        busy_jobs = [threading.Thread(target=c.solve, args=(photo, {**DEFAULT, "lines": "6000", "seed": str(i)}))
                     for i in range(2)]
        for th in busy_jobs:
            th.start()
        deadline = time.time() + 30
        while json.loads(c.request("GET", "/api/status")[1])["busy"] < 2 and time.time() < deadline:
            time.sleep(0.02)
        lat2, busy_seen = [], []
        for i in range(200):
            status, dt = c.get(PAGES[i % len(PAGES)])
            assert status == 200, (PAGES[i % len(PAGES)], status)
            lat2.append(dt)
            if i % 20 == 0:
                busy_seen.append(json.loads(c.request("GET", "/api/status")[1])["busy"])
        for th in busy_jobs:
            th.join()
        rows.append(("page and API requests while two solves run", "p95 <= 100 ms",
                     f"p50 {pct(lat2, 50) * 1000:.1f} ms, p95 {pct(lat2, 95) * 1000:.1f} ms, max "
                     f"{max(lat2) * 1000:.0f} ms (workers busy at the samples: {busy_seen})",
                     "yes" if pct(lat2, 95) <= 0.1 else "no"))
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    lines = ["# bench serve: speed, memory and load", "",
             f"{provenance()}; Python {platform.python_version()}; {time.perf_counter() - t_start:.0f} s in all. "
             "A warm `bench serve` (2 workers, one per core) on loopback, started by the benchmark; the astronaut "
             "photo (512 x 512 JPEG); the default solver (greedy-view).", "",
             "| what | target | measured | met |", "|---|---|---|---|"]
    lines += [f"| {a} | {b} | {c_} | {d} |" for a, b, c_, d in rows]
    nan = float("nan")
    lines += ["", f"The same default solve with its kit (template, instructions, replay, previews): POST -> scores "
                  f"{kit.get('solved') or nan:.2f} s, -> done (kit written) {kit.get('end') or nan:.2f} s.",
              "", "Each first-chords and API figure is the median of "
              f"{args.repeat} solves, interleaved with the in-process solves."]
    text = "\n".join(lines) + "\n"
    publish(text, args.out)


if __name__ == "__main__":
    main()
