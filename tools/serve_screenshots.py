"""Screenshots of ``bench serve``'s four pages for the docs: ``docs/images/serve-{make,compare,wind,runs}.png``.

Run from the repository root (playwright and Debian's chromium installed, as for the browser tests)::

    python tools/serve_screenshots.py [--out docs/images]

It serves a fresh workspace on a loopback port, drives the pages as a maker would (the astronaut photo, the
default options; the compare page's default set at 2000 lines; the wind page part-way through), and saves
one screenshot of each page.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


def main() -> None:
    import uvicorn
    from PIL import Image
    from playwright.sync_api import sync_playwright
    from skimage import data

    from bench.serve import create_app

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=ROOT / "docs" / "images")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix="serve-shots-"))
    photo = tmp / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(photo, quality=92)
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    server = uvicorn.Server(uvicorn.Config(create_app(tmp / "workspace"), log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()

    def get(path):
        with urllib.request.urlopen(url + path, timeout=30) as r:
            return json.loads(r.read())

    while True:
        try:
            s = get("/api/status")
            if s["ready"] == s["workers"]:
                break
        except OSError:
            pass
        time.sleep(0.3)
    try:
        with sync_playwright() as p:
            ctx = p.chromium.launch_persistent_context(str(tmp / "profile"), executable_path="/usr/bin/chromium",
                                                       headless=True, args=ARGS, bypass_csp=True,
                                                       viewport={"width": 1400, "height": 1000})
            page = ctx.new_page()
            page.goto(url + "/")
            page.wait_for_selector("body[data-ready='1']")
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("#crop .ring", state="visible")
            page.click("#solve")
            page.wait_for_function("() => !document.querySelector('#result').hidden && "
                                   "!document.querySelector('#zip').classList.contains('disabled')", timeout=180_000)
            page.wait_for_function("() => [...document.querySelectorAll('#result img')].every("
                                   "i => i.closest('figure').hidden || (i.complete && i.naturalWidth > 0))")
            page.wait_for_timeout(800)
            page.screenshot(path=str(args.out / "serve-make.png"), full_page=True)
            job = page.url.split("job=")[1]
            print("make:", job)

            page.goto(url + "/compare")
            page.wait_for_selector("body[data-ready='1']")
            page.set_input_files("#file", str(photo))
            page.wait_for_selector("#crop .ring", state="visible")
            page.fill("#opt-lines", "2000")
            page.click("#go")
            page.wait_for_function("() => document.querySelectorAll('.card').length > 0 && "
                                   "document.querySelectorAll('.card-scores table').length == "
                                   "document.querySelectorAll('.card').length", timeout=300_000)
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.out / "serve-compare.png"), full_page=True)
            print("compare: done")

            req = urllib.request.Request(f"{url}/api/jobs/{job}/wind", data=b'{"done": 1236}', method="POST",
                                         headers={"Content-Type": "application/json", "Origin": url})
            urllib.request.urlopen(req).read()
            page.goto(f"{url}/wind?job={job}")
            page.wait_for_function("() => document.querySelector('#pin').textContent !== '–'")
            for _ in range(3):
                page.keyboard.press("Space")
            page.wait_for_timeout(500)
            page.screenshot(path=str(args.out / "serve-wind.png"), full_page=True)
            print("wind: done")

            page.goto(url + "/runs")
            page.wait_for_selector("#runs tbody tr")
            page.wait_for_timeout(800)
            page.screenshot(path=str(args.out / "serve-runs.png"), full_page=True)
            print("runs: done")
            ctx.close()
    finally:
        server.should_exit = True
        thread.join(20)
    for name in ("make", "compare", "wind", "runs"):
        print(f"wrote {args.out / f'serve-{name}.png'}")


if __name__ == "__main__":
    main()
