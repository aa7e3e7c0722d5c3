"""The commands work on the base install: `pip install stringart-bench`, no extra.

The test environment has the extras (torch, dask, pytest, ...), so each command runs in a child process
whose ``sitecustomize`` hides every installed distribution the base install would not have brought: the
closure of the project's own requirements without extras. A module imported from a hidden distribution
fails as it would on a maker's machine (``click`` through typer was such a module: typer 0.29 no longer
depends on it, only the test extra's dask brought it in, and ``bench wind`` crashed after the README's
install).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from importlib import metadata

import pytest

PROJECT = "stringart-bench"


def _name(req: str) -> str:
    return re.split(r"[\s\[<>=!~;(]", req.strip(), maxsplit=1)[0].lower().replace("_", "-")


def base_closure() -> set[str]:
    """Distribution names the base install brings: the project's requirements without extras, transitively."""
    seen, todo = set(), [PROJECT]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            reqs = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        todo += [_name(r) for r in reqs if "extra ==" not in r.replace('"', "").replace("'", "")]
    return seen


def hidden_modules() -> list[str]:
    """Top-level modules of installed distributions outside :func:`base_closure`."""
    keep = base_closure()
    out = set()
    for module, dists in metadata.packages_distributions().items():
        if module.startswith("_") or module in {"pkg_resources", "setuptools", "pip", "distutils"}:
            continue
        if not any(d.lower().replace("_", "-") in keep for d in dists):
            out.add(module)
    return sorted(out)


@pytest.fixture(scope="module")
def base_env(tmp_path_factory):
    site = tmp_path_factory.mktemp("base_site")
    (site / "sitecustomize.py").write_text(textwrap.dedent(f"""
        import sys
        HIDDEN = set({hidden_modules()!r})

        class _NotInTheBaseInstall:
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in HIDDEN:
                    raise ModuleNotFoundError(f"No module named {{name!r}} (not in the base install)", name=name)
                return None

        sys.meta_path.insert(0, _NotInTheBaseInstall())
    """))
    env = dict(os.environ, PYTHONPATH=str(site), STRINGART_DEBUG="")
    return env


def bench(env, *args, stdin: str = "", cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bench.cli", *args], env=env, input=stdin, text=True,
                          capture_output=True, cwd=cwd, timeout=300)


def test_the_hidden_set_is_what_the_extras_add(base_env):
    hidden = hidden_modules()
    assert {"torch", "dask", "pytest"} <= set(hidden)
    assert not {"numpy", "numba", "typer", "PIL", "skimage", "matplotlib", "pandas"} & set(hidden)
    got = subprocess.run([sys.executable, "-c", "import torch"], env=base_env, capture_output=True, text=True)
    assert got.returncode != 0 and "not in the base install" in got.stderr


def test_the_makers_commands_on_the_base_install(base_env, tmp_path):
    out = tmp_path / "o"
    r = bench(base_env, "--help")
    assert r.returncode == 0, r.stderr
    r = bench(base_env, "solve", "camera", "--pins", "64", "--lines", "300", "--canvas", "96", "--frame-mm", "300",
              "--kit", "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert (out / "instructions.pdf").is_file() and (out / "template.pdf").is_file()
    r = bench(base_env, "wind", str(out), stdin="  q")
    assert r.returncode == 0, r.stderr
    assert "saved: 2 of 300 lines wound" in r.stdout
    r = bench(base_env, "kit", str(out), "--out", str(tmp_path / "k"))
    assert r.returncode == 0, r.stderr
    r = bench(base_env, "calibrate", "sheet", "--out", str(tmp_path / "cal"))
    assert r.returncode == 0, r.stderr


def test_learned_solvers_are_listed_unavailable_and_refused_in_one_line(base_env):
    r = bench(base_env, "solvers")
    assert r.returncode == 0, r.stderr
    line = next(ln for ln in r.stdout.splitlines() if ln.startswith("ae-target+greedy"))
    assert "unavailable here" in line and "stringart-bench[learned]" in line
    r = bench(base_env, "solve", "camera", "--solver", "ae-target+greedy")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert "not available in this install" in r.stderr and "[learned]" in r.stderr


def test_a_study_and_its_report_on_the_base_install(base_env, tmp_path):
    r = bench(base_env, "run", "-s", "random", "-s", "greedy-view", "-i", "camera", "-l", "60", "--pins", "48",
              "--canvas", "48", "--out", str(tmp_path / "s"), "-j", "1")
    assert r.returncode == 0, r.stderr
    r = bench(base_env, "report", str(tmp_path / "s"))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "s" / "summary.md").is_file()


def test_the_page_solves_on_the_base_install(base_env, tmp_path):
    """`bench serve` starts, lists the learned solvers as unavailable, and a solve through its API finishes with
    its kit: on loopback, on a free port, stopped by the test."""
    import json
    import time
    import urllib.request
    import uuid
    from io import BytesIO

    import numpy as np
    from PIL import Image

    proc = subprocess.Popen([sys.executable, "-m", "bench.cli", "serve", "--port", "0", "--no-browser", "--workers",
                             "1", "--workspace", str(tmp_path / "ws")], env=base_env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        line = proc.stdout.readline()  # "bench serve: http://127.0.0.1:PORT/  (workspace ...)"
        url = re.search(r"http://127\.0\.0\.1:\d+/", line)
        assert url, (line, proc.stderr.read() if proc.poll() is not None else "")
        base = url.group(0)

        def get(path):
            with urllib.request.urlopen(base + path, timeout=30) as r:
                return r.status, r.read()

        deadline = time.time() + 120
        while json.loads(get("api/status")[1])["ready"] < 1:
            assert time.time() < deadline and proc.poll() is None, "the worker did not start"
            time.sleep(0.2)
        assert get("")[0] == 200
        solvers = {s["name"]: s for s in json.loads(get("api/solvers")[1])["solvers"]}
        assert solvers["greedy-view"]["available"] and not solvers["ae+greedy"]["available"]
        buf = BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (120, 160, 3), dtype=np.uint8)).save(buf, "JPEG")
        boundary = uuid.uuid4().hex
        parts = [f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode()
                 for k, v in {"pins": "48", "lines": "200", "canvas": "96", "kit": "true"}.items()]
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="image"; filename="p.jpg"\r\n'
                     f"Content-Type: image/jpeg\r\n\r\n".encode() + buf.getvalue() + b"\r\n")
        body = b"".join(parts) + f"--{boundary}--\r\n".encode()
        req = urllib.request.Request(base + "api/solve", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        with urllib.request.urlopen(req, timeout=30) as r:
            job = json.loads(r.read())["id"]
        while (status := json.loads(get(f"api/jobs/{job}")[1])["status"]) not in ("done", "failed"):
            assert time.time() < deadline + 120, status
            time.sleep(0.2)
        assert status == "done", json.loads(get(f"api/jobs/{job}")[1])
        code, data = get(f"api/jobs/{job}/kit.zip")
        assert code == 200 and data[:2] == b"PK"
    finally:
        proc.terminate()
        proc.wait(timeout=30)
