"""The README and the documentation site: every ```python block runs as a plain script, and the site builds.

Each block (README.md and docs/*.md) runs in a fresh interpreter (no ``if __name__ == "__main__":`` guard), in a
temporary working folder (blocks write relative paths such as ``out`` and ``results/mine``), with the
test-wide chord-table cache. A script block that calls ``run_study`` with its default workers starts a real
process pool from a script that has no guard. The site (MkDocs, ``mkdocs.yml``) builds with warnings as
errors: a broken link, a missing anchor or a docstring the API reference cannot read fails here.
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


PAGES = [README, *sorted((REPO / "docs").glob("*.md"))]
BLOCKS = [(p, code) for p in PAGES for code in python_blocks(p.read_text(encoding="utf-8"))]


def test_the_readme_has_a_script():
    assert any(p == README for p, _ in BLOCKS), "README.md holds no ```python block"


def test_the_readme_is_short():
    """The README is the way in (what it is, a maker's and a researcher's quick start, where the rest is):
    250 lines at most; the rest lives in docs/."""
    assert len(README.read_text(encoding="utf-8").splitlines()) <= 250


@pytest.mark.parametrize("page, code", BLOCKS,
                         ids=[f"{p.relative_to(REPO)}:{i}" for i, (p, _) in enumerate(BLOCKS)])
def test_every_python_block_runs_as_a_plain_script(page, code, tmp_path):
    script = tmp_path / "readme_block.py"
    script.write_text(code, encoding="utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH")) if p)
    env.setdefault("STRINGART_CACHE_DIR", os.path.join(str(tmp_path), "cache"))
    r = subprocess.run([sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"exit {r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-6000:]}"
    assert "Traceback" not in r.stderr, r.stderr[-6000:]


def test_the_site_builds_strictly(tmp_path):
    pytest.importorskip("mkdocs")
    r = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
                       cwd=REPO, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, NO_MKDOCS_2_WARNING="1"))
    assert r.returncode == 0, r.stderr[-4000:]
    assert (tmp_path / "site" / "api" / "index.html").is_file()
