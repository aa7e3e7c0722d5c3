"""Every ```python block of README.md runs as a plain script (no ``if __name__ == "__main__":`` guard).

Each block runs in a fresh interpreter, in a temporary working folder (blocks write relative paths such as
``out`` and ``results/mine``), with the test-wide chord-table cache. The script block calls ``run_study`` with
its default workers: a real process pool, started from a script that has no guard.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
README = REPO / "README.md"


def python_blocks(text: str) -> list[str]:
    """The bodies of the fenced ```python blocks of a Markdown text, in order.

    >>> python_blocks("a\\n```python\\nprint(1)\\n```\\n```bash\\nls\\n```\\n")
    ['print(1)\\n']
    """
    return re.findall(r"^```python[ \t]*\n(.*?)^```", text, flags=re.M | re.S)


BLOCKS = python_blocks(README.read_text(encoding="utf-8"))


def test_the_readme_has_a_script():
    assert BLOCKS, "README.md holds no ```python block"


@pytest.mark.parametrize("code", BLOCKS, ids=[f"block{i}" for i in range(len(BLOCKS))])
def test_readme_block_runs_as_a_plain_script(code, tmp_path):
    script = tmp_path / "readme_block.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("STRINGART_CACHE_DIR", os.path.join(str(tmp_path), "cache"))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    assert "Traceback" not in r.stderr, r.stderr[-6000:]
