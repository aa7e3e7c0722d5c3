"""``bench warm``: a solve run in the warm process is the solve run in place (files, output, exit status,
Ctrl-C), only sooner; an edit or another setting finds no warm process; it ends when asked or when idle."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

SMALL = ["--pins", "64", "--lines", "200", "--canvas", "96", "--faces", "off"]
#: a solve that runs for seconds: long enough to interrupt
LONG = ["--pins", "600", "--canvas", "96", "--lines", "150000", "--min-gap", "2", "--solver", "greedy",
        "--faces", "off"]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """This module's settings: a cache folder of its own (so its warm process is its own)."""
    cache = tmp_path_factory.mktemp("warm-cache")
    return dict(os.environ, STRINGART_CACHE_DIR=str(cache), STRINGART_WARM="1")


def bench(env, *args, warm=True, **kw) -> subprocess.CompletedProcess:
    e = dict(env, STRINGART_WARM="1" if warm else "0")
    return subprocess.run([sys.executable, "-m", "bench.launch", *args], env=e, capture_output=True, text=True,
                          timeout=300, **kw)


def in_env(env, code: str):
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout) if out.stdout.strip() else None


@pytest.fixture(scope="module")
def warm(env):
    started = in_env(env, "import json; from bench import warm; "
                          f"print(json.dumps(warm.start(2.0, warm_up={['solve', 'camera', *SMALL]!r})))")
    yield started
    in_env(env, "from bench import warm; warm.stop()")


def status(env):
    return in_env(env, "import json; from bench import warm; print(json.dumps(warm.status()))")


def test_a_warm_solve_is_the_solve_in_place(env, warm, tmp_path):
    served = status(env)["served"]
    hot = bench(env, "solve", "camera", *SMALL, "--out", str(tmp_path / "hot"))
    assert hot.returncode == 0, hot.stderr
    assert status(env)["served"] == served + 1  # it went to the warm process
    cold = bench(env, "solve", "camera", *SMALL, "--out", str(tmp_path / "cold"), warm=False)
    assert cold.returncode == 0, cold.stderr

    def shown(text):  # the solve's seconds differ run to run
        return [ln for ln in text.replace(str(tmp_path / "cold"), "X").replace(str(tmp_path / "hot"), "X")
                .splitlines() if " s, thread " not in ln]

    assert shown(hot.stdout) == shown(cold.stdout) and hot.stderr == cold.stderr
    names = sorted(p.name for p in (tmp_path / "hot").iterdir())
    assert names == sorted(p.name for p in (tmp_path / "cold").iterdir()) and len(names) == 5
    for name in names:
        a, b = (tmp_path / "hot" / name).read_bytes(), (tmp_path / "cold" / name).read_bytes()
        if name.endswith(".json"):  # the solve's seconds
            a, b = (json.loads(x) for x in (a, b))
            for d in (a, b):
                d.pop("seconds", None)
                d.get("solution", {}).pop("seconds", None)
        assert a == b, name


def test_bad_input_is_one_line_and_exit_2_through_the_warm_process(env, warm, tmp_path):
    r = bench(env, "solve", "no-such-photo.png", *SMALL, cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "no-such-photo.png" in r.stderr
    r = bench(env, "solve", "camera", "--pins", "2", cwd=tmp_path)
    assert r.returncode == 2 and r.stderr.startswith("error: ") and r.stderr.count("\n") == 1
    r = bench(env, "solve", "camera", *SMALL, "--out", "rel", cwd=tmp_path)  # the client's folder, not the server's
    assert r.returncode == 0 and (tmp_path / "rel").is_dir()


@pytest.mark.parametrize("where", ["warm", "in place"])
def test_ctrl_c_stops_the_solve_at_once(env, warm, tmp_path, where):
    """Ctrl-C in the middle of a kernel (a solve of tens of seconds) stops it within seconds, writes nothing, and
    a warm process goes on serving."""
    out = tmp_path / "long"
    proc = subprocess.Popen([sys.executable, "-m", "bench.launch", "solve", "camera", *LONG, "--out", str(out)],
                            env=dict(env, STRINGART_WARM="1" if where == "warm" else "0"), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    said = []
    for line in proc.stderr:  # the solve has begun in the warm process: then Ctrl-C
        said.append(line)
        if "solving with" in line:
            break
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=15)  # the whole solve takes ~40 s
    err = "".join(said) + err
    assert proc.returncode == 130, err
    assert "interrupted; nothing was written" in err and not out.exists()
    r = bench(env, "solve", "camera", *SMALL, "--out", str(tmp_path / "after"))
    assert r.returncode == 0 and len(list((tmp_path / "after").iterdir())) == 5


def test_another_setting_finds_no_warm_process(env, warm, tmp_path):
    other = dict(env, STRINGART_CACHE_DIR=str(tmp_path / "other-cache"))
    assert status(other) is None
    served = status(env)["served"]
    r = bench(other, "solve", "camera", *SMALL, "--out", str(tmp_path / "o"))
    assert r.returncode == 0 and status(env)["served"] == served  # run in place


def test_it_ends_when_idle_and_when_asked(tmp_path):
    env = dict(os.environ, STRINGART_CACHE_DIR=str(tmp_path / "cache"))
    in_env(env, "import json; from bench import warm; "
                f"print(json.dumps(warm.start(0.02, warm_up={['solve', 'camera', *SMALL]!r})))")
    sock = Path(in_env(env, "import json; from bench import warm; print(json.dumps(str(warm.socket_path())))"))
    assert sock.exists()
    deadline = time.time() + 30
    while status(env) is not None:  # --idle 0.02 min: it ends by itself
        assert time.time() < deadline, "the idle warm process did not end"
        time.sleep(0.2)
    assert not sock.exists()
    r = subprocess.run([sys.executable, "-m", "bench.cli", "warm", "--status"], env=env, capture_output=True,
                       text=True)
    assert r.returncode == 0 and "no warm process runs" in r.stdout
