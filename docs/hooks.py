"""MkDocs hook: the results the pages show (figures, tables, CSVs under ``results/``) are served from the
repository's own ``results/`` folder, so a page links ``results/default/gallery.png`` and the site carries the
committed file itself (no copy to keep in step)."""

from __future__ import annotations

from pathlib import Path

from mkdocs.structure.files import File

ROOT = Path(__file__).resolve().parents[1]
SUFFIXES = {".png", ".md", ".csv", ".json", ".txt"}


def on_files(files, config):
    for path in sorted((ROOT / "results").rglob("*")):
        if path.is_file() and path.suffix in SUFFIXES and "pins" not in path.parts:
            rel = path.relative_to(ROOT).as_posix()
            if path.suffix == ".md":  # shown as a file, not built as a page
                files.append(File(rel, str(ROOT), config["site_dir"], use_directory_urls=False,
                                  dest_uri=rel))
            else:
                files.append(File(rel, str(ROOT), config["site_dir"], use_directory_urls=False))
    return files
