"""Test-wide setup: a private chord-table cache so tests never touch the user's."""

import atexit
import os
import shutil
import signal
import tempfile

import pytest

os.environ.setdefault("STRINGART_CACHE_DIR", os.path.join(tempfile.gettempdir(), "stringart-test-cache"))
os.environ.setdefault("NUMBA_NUM_THREADS", "2")

# A suite started where Ctrl-C is ignored (a background job of a shell without job control, as `cmd &` in a
# script) would pass the ignoring on to every command it runs, and the tests that press Ctrl-C would see it do
# nothing: the suite's children get Ctrl-C as a terminal's foreground job does (a handler is reset at exec).
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: numba's cache for the CUDA children (one at a time, so they share it): never the cache the parent and other
#: processes write. numba's cache is not safe against two processes compiling the same functions at once (an
#: index can point at another process's object code); a child that loaded such an entry crashed once.
_CHILD_NUMBA_CACHE = tempfile.mkdtemp(prefix="stringart-cuda-child-numba-")
atexit.register(shutil.rmtree, _CHILD_NUMBA_CACHE, ignore_errors=True)


def _has_nvidia_device() -> bool:
    return os.path.exists("/dev/nvidiactl") or os.path.exists("/dev/nvidia0")


@pytest.fixture
def run_cuda_child():
    """Run a CUDA test file in a child process, on numba's simulator or on the GPU; fail with its output.

    numba reads ``NUMBA_ENABLE_CUDASIM`` once, at import, so simulator tests need a process of
    their own. The child sees ``STRINGART_CUDA_TESTS=1`` and must pass without skipping anything.
    ``simulate=False`` skips where the machine has no NVIDIA device.
    """
    import subprocess
    import sys

    def run(path: str, *, simulate: bool) -> None:
        if not simulate and not _has_nvidia_device():
            pytest.skip("no NVIDIA device on this machine")
        env = dict(os.environ, STRINGART_CUDA_TESTS="1", NUMBA_CACHE_DIR=_CHILD_NUMBA_CACHE)
        if simulate:
            env["NUMBA_ENABLE_CUDASIM"] = "1"
        else:
            env.pop("NUMBA_ENABLE_CUDASIM", None)
        r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-x", path], env=env,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, f"CUDA tests failed (simulate={simulate}):\n{r.stdout[-6000:]}\n{r.stderr[-3000:]}"
        assert " passed" in r.stdout and "skipped" not in r.stdout, r.stdout[-2000:]

    return run

@pytest.fixture
def run_cuda_sim_script():
    """Run a Python script in a child process under numba's CUDA simulator; it must print ``SIM OK``."""
    import subprocess
    import sys

    def run(code: str) -> None:
        env = dict(os.environ, NUMBA_ENABLE_CUDASIM="1", NUMBA_CACHE_DIR=_CHILD_NUMBA_CACHE)
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env)
        assert out.returncode == 0 and "SIM OK" in out.stdout, out.stdout[-3000:] + out.stderr[-3000:]

    return run


@pytest.fixture
def tiny_problem():
    """A 64 px, 32-pin problem on camera: small enough for every solver in a test."""
    from solvers import Problem

    return Problem.create("camera", pins=32, lines=40, canvas=64, min_gap=3)
