"""``bench serve``'s JSON API through Starlette's TestClient: every endpoint and error, the upload caps, the
Host/Origin guard, file traversal, cancel, a killed worker, a restart, and the winding file shared with
``bench wind``. One app (one real worker process) for the module; small pictures and few lines."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import time
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytest.importorskip("starlette")
pytest.importorskip("httpx")
with warnings.catch_warnings():  # starlette 1.x suggests httpx2 for its TestClient; httpx works the same here
    warnings.simplefilter("ignore")
    from starlette.testclient import TestClient

from bench.serve import create_app

BASE = "http://127.0.0.1:8765"
SMALL = {"pins": "48", "lines": "200", "canvas": "96", "kit": "false"}
#: a solve that runs for seconds (many pins, a tiny canvas): long enough to cancel or kill in the middle
LONG = {"pins": "300", "canvas": "96", "lines": "25000", "min_gap": "2", "solver": "greedy", "kit": "false"}


def photo_bytes(w=160, h=120, fmt="JPEG", seed=0) -> bytes:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 255 / w), (yy * 255 / h), rng.uniform(0, 255, (h, w))], -1).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, fmt)
    return buf.getvalue()


PHOTO = photo_bytes()


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return tmp_path_factory.mktemp("workspace")


@pytest.fixture(scope="module")
def client(workspace):
    app = create_app(workspace, workers=1, warm_kit=False)
    with TestClient(app, base_url=BASE) as c:
        deadline = time.time() + 120
        while c.get("/api/status").json()["ready"] < 1:
            assert time.time() < deadline, "the worker did not start"
            time.sleep(0.1)
        yield c


def events(client, job_id, *, until=("done", "failed", "cancelled", "interrupted")):
    """The job's events, read from its stream until the last one."""
    out = []
    with client.stream("GET", f"/api/jobs/{job_id}/events") as resp:
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/event-stream")
        for line in resp.iter_lines():
            if line.startswith("data:"):
                out.append(json.loads(line[5:]))
                if out[-1]["status"] in until:
                    break
    return out


def submit(client, fields=None, data=PHOTO, name="photo.jpg"):
    return client.post("/api/solve", files={"image": (name, data, "image/jpeg")}, data={**SMALL, **(fields or {})})


@pytest.fixture(scope="module")
def done_job(client):
    """A finished job (with its kit): its id and its events."""
    r = submit(client, {"kit": "true", "lines": "150"}, name="my photo.jpg")
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    return job_id, events(client, job_id)


def folders(workspace):
    return sorted(p.name for p in Path(workspace).iterdir())


# ---------------------------------------------------------------------------- options and solvers
def test_solvers_and_options_come_from_the_cli(client):
    import typing

    from bench import solve_cmd

    doc = client.get("/api/solvers").json()
    opts = {o["name"]: o for o in doc["options"]}
    hints = typing.get_type_hints(solve_cmd.solve_cmd, include_extras=True)
    assert opts["pins"]["default"] == 288 and opts["pins"]["flag"] == "--pins"
    assert opts["pins"]["help"] == hints["pins"].__metadata__[0].help
    assert opts["lines"]["default"] == "4000" and opts["frame_mm"]["flag"] == "--frame-mm"
    assert {"image", "out", "timings"}.isdisjoint(opts) and {"paper", "pin_mm", "kit"} <= set(opts)
    names = [s["name"] for s in doc["solvers"]]
    assert doc["default"] == "greedy-view" and "greedy-view" in names
    assert doc["compare"][:3] == ["greedy", "greedy-view", "greedy-view+refine"]
    assert len(doc["compare"]) == 4  # the learned extra is installed with [test]
    assert doc["thread_colours"]["black"] == "#000000"


def test_crop_suggestion_is_a_centred_square_without_the_faces_extra(client, monkeypatch):
    import rendering.faces

    def missing():
        raise rendering.InputError("face detection needs the faces extra")

    monkeypatch.setattr(rendering.faces, "check_available", missing)
    r = client.post("/api/crop", files={"image": ("p.png", photo_bytes(640, 480, "PNG"), "image/png")})
    assert r.status_code == 200 and r.json()["crop"] == "80,0,480" and r.json()["width"] == 640
    r = client.post("/api/crop", files={"image": ("p.jpg", photo_bytes(100, 300), "image/jpeg")})
    assert r.json()["crop"] == "0,100,100"


def test_crop_suggestion_frames_the_face_as_bench_solve_crop_auto(client):
    pytest.importorskip("cv2")
    import skimage.data

    from rendering.faces import auto_crop

    astronaut = skimage.data.astronaut()
    wide = np.full((512, 900, 3), 255, np.uint8)  # the face off-centre in a wide photo
    wide[:, 388:] = astronaut
    buf = io.BytesIO()
    Image.fromarray(wide).save(buf, "PNG")
    r = client.post("/api/crop", files={"image": ("wide.png", buf.getvalue(), "image/png")})
    assert r.status_code == 200
    left, top, size = auto_crop(wide.astype(np.float32) / 255)
    assert r.json()["crop"] == f"{left},{top},{size}"
    assert left > (900 - 512) // 2  # not the centred square: the face is right of the middle


def test_preview_is_a_jpeg_the_browser_can_show(client):
    r = client.post("/api/preview", files={"image": ("p.png", photo_bytes(64, 48, "PNG"), "image/png")})
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(r.content)).size == (64, 48)


# ---------------------------------------------------------------------------- a solve, end to end
def test_solve_streams_chords_then_scores(client, done_job, workspace):
    job_id, evs = done_job
    statuses = [e["status"] for e in evs]
    assert statuses[-1] == "done" and "solved" in statuses, statuses
    pic = next(e["picture"] for e in evs if "picture" in e)
    assert pic["canvas"] == 96 and len(pic["pins_xy"]) == 48 and pic["colours"] == ["#000000"]
    batches = [e for e in evs if e.get("threads")]
    assert batches and sum(len(p) - 1 for e in batches for _, p in e["threads"]) == 150
    final = evs[-1]
    assert 0 < final["scores"]["ssim"] <= 1 and final["n_lines"] == 150 and final["thread_length_m"] > 0
    assert {"template.pdf", "instructions.txt", "replay.gif", "preview_real.png"} <= set(final["kit_files"])
    record = json.loads((Path(workspace) / job_id / "job.json").read_text())
    assert record["status"] == "done" and record["stem"] == "my-photo-greedy-view-150"
    job = client.get(f"/api/jobs/{job_id}").json()
    assert job["status"] == "done" and "my-photo.jpg" in job["files"] and "args" not in job
    assert job["summary"]["title"] == "my-photo.jpg · greedy-view · 150 lines"
    # a late subscriber gets one event: the whole thread and its frame
    late = events(client, job_id)
    assert len(late) == 1 and late[0]["status"] == "done" and len(late[0]["final"][0][1]) == 151


def test_files_and_the_zip(client, done_job):
    job_id, evs = done_job
    stem = evs[-1]["stem"]
    r = client.get(f"/api/jobs/{job_id}/files/{stem}.txt?download=1")
    assert r.status_code == 200 and r.headers["content-disposition"].startswith("attachment")
    assert len(r.text.split()) == 151
    r = client.get(f"/api/jobs/{job_id}/files/template.pdf")
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF")
    assert "sandbox" in r.headers["content-security-policy"]
    r = client.get(f"/api/jobs/{job_id}/kit.zip")
    assert r.status_code == 200 and r.headers["content-type"] == "application/zip"
    names = zipfile.ZipFile(io.BytesIO(r.content)).namelist()
    assert {f"{stem}.json", f"{stem}.txt", "template.pdf", "instructions.pdf", "replay.gif"} <= set(names)
    assert "job.json" not in names
    assert zipfile.ZipFile(io.BytesIO(r.content)).testzip() is None


def test_runs_list_newest_first_with_results_put_there_by_hand(client, done_job, workspace):
    from kit.results import write_result
    from solvers import Problem, make_solver

    sol = make_solver("random").solve(Problem.create("camera", pins=32, lines=30, canvas=48), rng=0)
    write_result(sol, Path(workspace) / "by-hand", stem="camera-random")
    second = submit(client).json()["id"]
    events(client, second)
    runs = client.get("/api/jobs").json()["jobs"]
    ids = [r["id"] for r in runs]
    assert ids.index(second) < ids.index(done_job[0])
    hand = next(r for r in runs if r["id"] == "by-hand")
    assert hand["imported"] and hand["lines"] == 30 and hand["wind"] == {"done": 0, "lines": 30}
    assert client.get("/api/jobs/by-hand/wind").json()["lines"] == 30


def test_compare_makes_one_job_per_solver(client):
    r = client.post("/api/compare", files={"image": ("c.jpg", PHOTO, "image/jpeg")},
                    data={**SMALL, "solvers": "random,greedy"})
    assert r.status_code == 202, r.text
    group = r.json()
    assert len(group["jobs"]) == 2
    solvers = []
    for job_id in group["jobs"]:
        assert events(client, job_id)[-1]["status"] == "done"
        job = client.get(f"/api/jobs/{job_id}").json()
        assert job["group"] == group["id"]
        solvers.append(job["options"]["solver"])
    assert solvers == ["random", "greedy"]
    again = client.post("/api/compare", data={"from_job": group["jobs"][0], "solvers": "random"})
    assert again.status_code == 202 and events(client, again.json()["jobs"][0])[-1]["status"] == "done"


# ---------------------------------------------------------------------------- errors: one line, the CLI's
@pytest.mark.parametrize("fields, cli", [
    ({"pins": "2"}, ["--pins", "2"]),
    ({"lines": "abc"}, ["--lines", "abc"]),
    ({"solver": "nope"}, ["--solver", "nope"]),
    ({"thread_mm": "0"}, ["--thread-mm", "0"]),
    ({"colors": "black,nocolour"}, ["--colors", "black,nocolour"]),
    ({"min_gap": "200"}, ["--pins", "48", "--min-gap", "200"]),
    ({"pins": "x"}, ["--pins", "x"]),
])
def test_bad_options_say_what_the_cli_says(client, workspace, tmp_path, fields, cli):
    from typer.testing import CliRunner

    from bench.cli import app

    before = folders(workspace)
    r = submit(client, fields)
    assert r.status_code == 400 and set(r.json()) == {"error"}
    res = CliRunner().invoke(app, ["solve", "camera", "--out", str(tmp_path / "o"), *cli])
    assert res.exit_code == 2
    said = [ln for ln in res.output.splitlines() if ln.strip()][-1]
    said = said.split("Error: ", 1)[-1].strip(" │").replace("error: ", "", 1)
    assert r.json()["error"] == said
    assert folders(workspace) == before  # nothing written for a refused job


def test_bad_form_fields_and_requests(client, workspace):
    before = folders(workspace)
    r = submit(client, {"bogus": "1"})
    assert r.status_code == 400 and r.json()["error"].startswith("unknown option 'bogus'")
    r = submit(client, {"crop": "100,100,500"})
    assert r.status_code == 400 and "does not fit image" in r.json()["error"]
    r = client.post("/api/solve", data=SMALL)
    assert r.status_code == 400 and r.json()["error"].startswith("no photo")
    r = client.post("/api/solve", content=b"{}", headers={"content-type": "application/json"})
    assert r.status_code == 400 and "expected a form" in r.json()["error"]
    r = submit(client, {"option": "checkpoint=/etc/passwd", "solver": "ae-chords"})
    assert r.status_code == 400 and "checkpoint" in r.json()["error"]
    assert folders(workspace) == before
    assert client.get("/api/nope").json()["error"].startswith("no such route")
    assert client.put("/api/solve").status_code == 405


def test_upload_caps_and_unreadable_photos(client, workspace):
    before = folders(workspace)
    big = client.post("/api/solve", files={"image": ("big.jpg", b"\xff" * (31 * 1024 * 1024), "image/jpeg")})
    assert big.status_code == 413 and "30 MB" in big.json()["error"]
    caps = create_app(workspace, max_upload_bytes=50_000, max_pixels=40_000, start_workers=False)
    with TestClient(caps, base_url=BASE) as small:
        r = small.post("/api/solve", files={"image": ("p.png", os.urandom(60_000), "image/png")})
        assert r.status_code == 413
        bomb = io.BytesIO()
        Image.new("L", (400, 400)).save(bomb, "PNG")  # 160,000 pixels in a few hundred bytes
        r = small.post("/api/solve", files={"image": ("bomb.png", bomb.getvalue(), "image/png")})
        assert r.status_code == 413 and "MP" in r.json()["error"]
    for data, words in [(b"not a picture at all", "is not a picture"), (PHOTO[: len(PHOTO) // 2], "could not be read"),
                        (b"", "no photo")]:
        r = submit(client, data=data, name="x.jpg")
        assert r.status_code == 400 and words in r.json()["error"], r.json()
        assert "\n" not in r.json()["error"]
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    from bench.serve import uploads

    real = uploads._register_heif
    uploads._register_heif = lambda: False  # a server without pillow-heif: told what to install
    try:
        r = submit(client, data=heic, name="x.heic")
    finally:
        uploads._register_heif = real
    assert r.status_code == 400 and "pillow-heif" in r.json()["error"]
    r = submit(client, data=heic, name="x.heic")  # with it (the test install): a broken HEIC, one line
    assert r.status_code == 400 and "\n" not in r.json()["error"]
    assert folders(workspace) == before


# ---------------------------------------------------------------------------- the guard
def test_host_and_origin_are_checked(client):
    assert client.get("/api/status", headers={"host": "evil.example:8765"}).status_code == 403
    assert client.get("/", headers={"host": "localhost:8765"}).status_code == 200
    r = submit_with(client, {"origin": "http://evil.example"})
    assert r.status_code == 403 and "another site" in r.json()["error"]
    assert submit_with(client, {"origin": "http://127.0.0.1:9999"}).status_code == 403  # another local port
    assert submit_with(client, {"origin": "null"}).status_code == 403
    assert client.delete("/api/jobs/x", headers={"origin": "http://evil.example"}).status_code == 403
    assert submit_with(client, {"origin": BASE}).status_code == 400  # through the guard: the photo is missing


def submit_with(client, headers):
    return client.post("/api/solve", data=SMALL, headers=headers)


def test_host_rules():
    from bench.serve.app import host_allowed

    assert host_allowed("127.0.0.1", "127.0.0.1") and host_allowed("::1", "127.0.0.1")
    assert not host_allowed("attacker.example", "127.0.0.1") and not host_allowed("10.0.0.5", "127.0.0.1")
    assert host_allowed("10.0.0.5", "0.0.0.0") and not host_allowed("rebind.example", "0.0.0.0")


def test_files_are_served_only_from_the_jobs_folder(client, done_job, workspace):
    job_id, _ = done_job
    folder = Path(workspace) / job_id
    (Path(workspace) / "secret.txt").write_text("TOP-SECRET-CONTENT")
    (folder / "link-out.txt").symlink_to(Path(workspace) / "secret.txt")
    (folder / "link-etc").symlink_to("/etc/passwd")
    url = f"/api/jobs/{job_id}/files/"
    for name, status in [("..%2Fsecret.txt", 400), ("%2e%2e%2fsecret.txt", 400), ("%2e%2e", 400),
                         ("%2Fetc%2Fpasswd", 400), ("..%5Csecret.txt", 400), (".hidden", 400),
                         ("link-out.txt", 403), ("link-etc", 403), ("missing.png", 404)]:
        r = client.get(url + name)
        assert r.status_code == status, (name, r.status_code, r.text)
        assert "TOP-SECRET" not in r.text and "root:" not in r.text
    assert client.get("/api/jobs/%2e%2e/files/secret.txt").status_code in (400, 404)
    assert client.get("/api/jobs/..%2F..%2Fetc/files/passwd").status_code in (400, 404)
    assert client.get("/api/jobs/nope/files/x").status_code == 404
    (folder / "link-out.txt").unlink()
    (folder / "link-etc").unlink()


# ---------------------------------------------------------------------------- jobs: cancel, death, restart
def test_cancel_stops_a_running_solve_within_half_a_second(client):
    job_id = submit(client, LONG).json()["id"]
    seen, t_cancel, t_end = [], None, None
    with client.stream("GET", f"/api/jobs/{job_id}/events") as resp:
        for line in resp.iter_lines():
            if not line.startswith("data:"):
                continue
            ev = json.loads(line[5:])
            seen.append(ev)
            if ev.get("threads") and t_cancel is None:
                t_cancel = time.perf_counter()
                assert client.delete(f"/api/jobs/{job_id}").json()["status"] == "cancelling"
            if ev["status"] in ("done", "failed", "cancelled"):
                t_end = time.perf_counter()
                break
    assert seen[-1]["status"] == "cancelled", seen[-1]
    assert t_end - t_cancel < 0.5
    drawn = max(e.get("lines", 0) for e in seen)
    assert drawn < 25000
    assert client.delete(f"/api/jobs/{job_id}").status_code == 409


def test_cancel_a_queued_job(client):
    first = submit(client, LONG).json()["id"]
    second = submit(client).json()["id"]
    assert client.get(f"/api/jobs/{second}").json()["status"] == "queued"
    assert client.delete(f"/api/jobs/{second}").json()["status"] == "cancelled"
    assert events(client, second)[-1]["status"] == "cancelled"
    client.delete(f"/api/jobs/{first}")
    assert events(client, first)[-1]["status"] == "cancelled"


def test_a_killed_worker_fails_its_job_and_is_replaced(client, workspace):
    app = client.app
    job_id = submit(client, LONG).json()["id"]
    with client.stream("GET", f"/api/jobs/{job_id}/events") as resp:
        for line in resp.iter_lines():
            if line.startswith("data:") and json.loads(line[5:]).get("threads"):
                break
    pid = app.state.scheduler.slots[0].pid
    os.kill(pid, signal.SIGKILL)
    last = events(client, job_id)[-1]
    assert last["status"] == "failed" and "worker process" in last["error"] and "\n" not in last["error"]
    assert client.get("/api/status").status_code == 200  # the server goes on
    again = submit(client).json()["id"]
    assert events(client, again)[-1]["status"] == "done"  # a fresh worker took its place
    assert app.state.scheduler.slots[0].pid != pid


def test_a_restart_lists_finished_runs_and_marks_those_in_flight(done_job, workspace, tmp_path):
    ws = tmp_path / "ws"
    shutil.copytree(Path(workspace) / done_job[0], ws / done_job[0])
    flying = ws / "20200101-000000-abcdef"
    flying.mkdir()
    (flying / "job.json").write_text(json.dumps({"id": flying.name, "status": "running", "created": 1.0,
                                                 "options": {"solver": "greedy"}, "photo": "p.jpg"}))
    app = create_app(ws, start_workers=False)
    with TestClient(app, base_url=BASE) as c:
        runs = {r["id"]: r for r in c.get("/api/jobs").json()["jobs"]}
        assert runs[done_job[0]]["status"] == "done" and runs[done_job[0]]["scores"]["ssim"] > 0
        assert runs[flying.name]["status"] == "interrupted" and "server stopped" in runs[flying.name]["error"]
        assert c.get("/api/status").json()["interrupted"] == [flying.name]
        assert events(c, flying.name)[-1]["status"] == "interrupted"
    assert json.loads((flying / "job.json").read_text())["status"] == "interrupted"


def test_unknown_and_unfinished_jobs(client):
    assert client.get("/api/jobs/nope").status_code == 404
    assert client.get("/api/jobs/..").status_code in (400, 404)
    assert client.get("/api/jobs/a..b").status_code == 400
    assert client.get("/api/jobs/nope/kit.zip").status_code == 404


# ---------------------------------------------------------------------------- winding, shared with bench wind
def test_winding_is_saved_where_bench_wind_reads_it(client, done_job, workspace):
    from typer.testing import CliRunner

    from bench.cli import app
    from kit import load_solution
    from kit.geometry import Geometry
    from kit.wind import Winder, progress_path

    job_id, _ = done_job
    url = f"/api/jobs/{job_id}/wind"
    state = client.get(url).json()
    assert state["done"] == 0 and state["lines"] == 150 and len(state["pairs"]) == 300
    assert len(state["running_m"]) == 150 and state["blocks"][0] == [1, 0, 99]
    for _ in range(3):
        client.post(url, json={"action": "next"})
    loaded = load_solution(Path(workspace) / job_id)
    winder = Winder(Geometry.from_solution(loaded.solution, check=False), progress_path(loaded.json_path))
    assert winder.load() == 3  # the terminal sees the page's place
    res = CliRunner().invoke(app, ["wind", str(Path(workspace) / job_id)], input="  q")
    assert res.exit_code == 0, res.output
    assert client.get(url).json()["done"] == 5  # and the page the terminal's
    assert client.post(url, json={"done": 2}).json() == {"done": 2, "lines": 150}
    assert client.post(url, json={"done": 151}).status_code == 400
    assert client.post(url, json={"action": "jump"}).status_code == 400
    assert client.post(url, content=b"nope").status_code == 400
    assert client.post(url, json={"action": "restart"}).json()["done"] == 0


def test_bench_help_does_not_load_the_web_stack():
    import subprocess
    import sys

    code = "import sys; from bench import cli; print(sorted(m for m in ('starlette', 'uvicorn', 'multipart') " \
           "if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_serve_command_refuses_a_bad_port():
    from typer.testing import CliRunner

    from bench.cli import app

    res = CliRunner().invoke(app, ["serve", "--port", "70000", "--no-browser"])
    assert res.exit_code == 2 and "--port must be at most 65535" in res.output
