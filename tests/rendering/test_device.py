"""Whether CUDA can run here, and what the user is told when it cannot."""

import pytest

from rendering import InputError
from rendering import device as D


@pytest.fixture
def fresh_status(monkeypatch):
    monkeypatch.setattr(D, "_status", None)
    yield
    D._status = None


def test_no_driver_is_said_without_importing_numba_cuda(fresh_status, monkeypatch):
    monkeypatch.setattr(D, "gpu_driver_present", lambda: False)
    monkeypatch.setattr(D, "_import_numba_cuda", lambda: pytest.fail("numba.cuda imported"))
    monkeypatch.delitem(__import__("sys").modules, "numba.cuda", raising=False)
    ok, why = D.cuda_status()
    assert not ok and "no NVIDIA driver" in why
    assert D.auto_fallback_notice() is None  # no GPU: --device auto says nothing
    assert D.resolve_device("auto") == "cpu"
    with pytest.raises(InputError, match="device 'cuda' was asked but no NVIDIA driver"):
        D.resolve_device("cuda")


def test_numba_cuda_that_needs_an_older_numpy_says_what_to_install(fresh_status, monkeypatch):
    def broken():
        raise AttributeError("module 'numpy' has no attribute 'row_stack'")

    monkeypatch.setattr(D, "gpu_driver_present", lambda: True)
    monkeypatch.setattr(D, "_import_numba_cuda", broken)
    ok, why = D.cuda_status()
    assert not ok and "numpy.row_stack, which numpy 2.5 removed" in why and 'pip install -e ".[cuda]"' in why
    notice = D.auto_fallback_notice()
    assert notice.startswith("running on the CPU: numba-cuda does not import")
    assert D.resolve_device("auto") == "cpu"
    with pytest.raises(InputError) as e:
        D.resolve_device("cuda")
    assert "row_stack" in str(e.value) and "\n" not in str(e.value)
