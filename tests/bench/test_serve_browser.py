"""``bench serve`` in a real browser (Playwright driving Debian's chromium): what a maker sees.

One live server (uvicorn on a loopback port, one worker) and one browser for the module. Journeys: upload a
photo and watch the canvas fill while the solve runs (its pixels change batch by batch, before the result is
shown), download the kit's zip and open it; wind: press space three times, reload, find the same pin. And the
guard, on the wire: raw requests with ``..`` in their path and a foreign Host.

Skipped, with the reason, only where playwright or chromium is missing (``.ci/run`` installs chromium).
"""

from __future__ import annotations

import http.client
import json
import shutil
import socket
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from PIL import Image

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
if CHROMIUM is None:
    pytest.skip("chromium is not installed (apt-get install chromium): no browser to drive", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install playwright)")
pytest.importorskip("uvicorn")

#: how chromium runs here: headless, no sandbox (root in CI), nothing fetched from the network
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]


class LiveServer:
    """The app on a loopback port, served by uvicorn from a thread."""

    def __init__(self, app):
        import uvicorn

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self):
        self.thread.start()
        deadline = time.time() + 120
        while True:
            try:
                if self.get("/api/status")["ready"] >= 1:
                    return self
            except OSError:
                pass
            assert time.time() < deadline, "the server or its worker did not start"
            time.sleep(0.1)

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(15)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.loads(r.read())


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from bench.serve import create_app

    app = create_app(tmp_path_factory.mktemp("workspace"), workers=1, warm_kit=False, event_interval=0.01)
    with LiveServer(app) as live:
        yield live


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("profile")), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1280, "height": 900}, accept_downloads=True, bypass_csp=True)
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def photo(tmp_path_factory) -> Path:
    from skimage import data

    path = tmp_path_factory.mktemp("photo") / "astronaut.jpg"
    Image.fromarray(data.astronaut()).save(path, quality=90)
    return path


#: after each batch drawn, the canvas's ink and the lines on it (the page's own ThreadCanvas, wrapped)
WATCH_CANVAS = """() => {
  window.__draws = [];
  const draw = ThreadCanvas.prototype.draw;
  ThreadCanvas.prototype.draw = function (threads) {
    draw.call(this, threads);
    const d = this.ctx.getImageData(0, 0, this.canvas.width, this.canvas.height).data;
    let ink = 0;
    for (let i = 0; i < d.length; i += 4) ink += 255 - d[i];
    window.__draws.push({ink, lines: this.lines, shown: !document.querySelector('#result').hidden});
  };
}"""


@pytest.fixture(scope="module")
def made(server, browser, photo, tmp_path_factory):
    """The make-page journey: a photo uploaded and solved; returns the job id, the draws seen and the zip."""
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(server.url + "/")
    page.wait_for_selector("body[data-ready='1']")
    page.evaluate(WATCH_CANVAS)
    page.set_input_files("#file", str(photo))
    page.wait_for_selector("#crop .ring", state="visible")
    page.fill("#opt-pins", "200")
    page.fill("#opt-lines", "2500")
    page.click("details:has(#opt-canvas) > summary")
    page.fill("#opt-canvas", "256")
    page.click("#solve")
    page.wait_for_function("() => !document.querySelector('#result').hidden", timeout=60_000)
    page.wait_for_function("() => !document.querySelector('#zip').classList.contains('disabled')", timeout=90_000)
    draws = page.evaluate("() => window.__draws")
    job_id = page.url.split("job=")[1]
    with page.expect_download() as info:
        page.click("#zip")
    target = tmp_path_factory.mktemp("download") / "kit.zip"
    info.value.save_as(target)
    shown = {k: page.get_attribute(k, "src") for k in ("#img-target", "#img-preview", "#img-real")}
    page.close()
    assert not errors, errors
    return {"id": job_id, "draws": draws, "zip": target, "shown": shown}


def test_the_canvas_fills_while_the_solve_runs(made):
    streamed = [d for d in made["draws"] if 0 < d["lines"] < 2500 and not d["shown"]]
    assert len(streamed) >= 3, made["draws"]
    inks = [d["ink"] for d in streamed]
    assert all(b > a for a, b in zip(inks, inks[1:])), inks  # each batch adds thread to the picture
    assert inks[0] > 0


def test_the_zip_downloads_and_opens(made):
    z = zipfile.ZipFile(made["zip"])
    names = set(z.namelist())
    assert {"template.pdf", "template.svg", "instructions.pdf", "instructions.txt", "replay.gif",
            "preview.png"} <= names
    stem = next(n[:-5] for n in names if n.endswith(".json"))
    assert len(z.read(f"{stem}.txt").split()) == 2501 and z.testzip() is None
    assert all(made["shown"].values())


def test_wind_keeps_its_place_across_a_reload(server, browser, made):
    page = browser.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(f"{server.url}/wind?job={made['id']}")
    page.wait_for_function("() => document.querySelector('#pin').textContent !== '–'")
    state = server.get(f"/api/jobs/{made['id']}/wind")
    pairs = state["pairs"]
    assert page.text_content("#pin") == str(pairs[2 * state["done"] + 1])
    start = state["done"]
    for _ in range(3):
        page.keyboard.press("Space")
    expected = str(pairs[2 * (start + 3) + 1])
    assert page.text_content("#pin") == expected
    deadline = time.time() + 10
    while server.get(f"/api/jobs/{made['id']}/wind")["done"] != start + 3:
        assert time.time() < deadline, "the page did not save its place"
        time.sleep(0.05)
    page.reload()
    page.wait_for_function("() => document.querySelector('#pin').textContent !== '–'")
    assert page.text_content("#pin") == expected
    page.keyboard.press("ArrowLeft")
    assert page.text_content("#pin") == str(pairs[2 * (start + 2) + 1])
    page.close()
    assert not errors, errors


def test_runs_and_compare_pages_show_the_run(server, browser, made):
    page = browser.new_page()
    page.goto(server.url + "/runs")
    page.wait_for_selector(f"a[href='/wind?job={made['id']}']")
    assert "astronaut" in page.text_content("#runs")
    page.goto(f"{server.url}/compare?jobs={made['id']}")
    page.wait_for_selector(".card-scores table")
    assert "SSIM" in page.text_content(".card")
    page.close()


def raw(server, path, host=None):
    """A request sent as written (no client tidies its path)."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    conn.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
    conn.putheader("Host", host or f"127.0.0.1:{server.port}")
    conn.endheaders()
    resp = conn.getresponse()
    body = resp.read().decode(errors="replace")
    conn.close()
    return resp.status, body


def test_traversal_and_rebinding_on_the_wire(server, made):
    job = made["id"]
    for path in (f"/api/jobs/{job}/files/../../../../etc/passwd", f"/api/jobs/{job}/files/..%2f..%2fjob.json",
                 f"/api/jobs/{job}/files/%2e%2e/%2e%2e/etc/passwd", "/api/jobs/../../etc/passwd",
                 f"/api/jobs/{job}/files//etc/passwd"):
        status, body = raw(server, path)
        assert status in (400, 403, 404), (path, status)
        assert "root:" not in body and json.loads(body)["error"]
    status, body = raw(server, "/api/status", host="rebind.example")
    assert status == 403 and "DNS rebinding" in body
    assert raw(server, f"/api/jobs/{job}/files/template.svg")[0] == 200


def test_the_page_is_served_from_the_package_alone(server):
    body = urllib.request.urlopen(server.url + "/").read().decode()
    assert "http://" not in body.replace("http://www.w3.org", "") and "https://" not in body
    for name in ("common.js", "make.js", "app.css"):
        text = urllib.request.urlopen(f"{server.url}/static/{name}").read().decode()
        assert "https://" not in text and "@import" not in text and "url(" not in text

