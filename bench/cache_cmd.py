"""``bench cache``: what the chord-table cache holds, and clearing it (a thin layer over :mod:`rendering.cache`)."""

import time
from typing import Annotated

import typer

from .cli_common import user_errors


def _size(n: int) -> str:
    if n >= 1e9:
        return f"{n / 1e9:.2f} GB"
    return f"{n / 1e6:.0f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _age(seconds: float) -> str:
    for unit, span in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= span:
            return f"{seconds / span:.0f} {unit} ago"
    return "just now"


@user_errors
def cache_cmd(
    clear: Annotated[bool, typer.Option("--clear", help="Remove every cached table.  [default: only list them]")]
    = False,
):
    """List the cached chord tables (location, size, settings, last use), or --clear them.

    Tables are rebuilt on demand (about 0.5 s at 288 pins, 512 px). The cache keeps at most
    $STRINGART_CACHE_MAX_GB (default 8 GB), dropping the least recently used tables first;
    $STRINGART_CACHE_DIR moves it.
    """
    from rendering import cache

    folder = cache.cache_dir()
    if clear:
        n, freed = cache.clear()
        typer.echo(f"removed {n} cached table(s), {_size(freed)}, from {folder}")
        return
    items = cache.entries()
    total = sum(e["bytes"] for e in items)
    typer.echo(f"chord-table cache: {folder}")
    typer.echo(f"{len(items)} table(s), {_size(total)} of at most {_size(cache.max_bytes())} "
               f"($STRINGART_CACHE_MAX_GB); `bench cache --clear` empties it")
    now = time.time()
    for e in items:
        info = e["info"]
        if info.get("stale"):
            what = "from an older version (unused; --clear removes it)"
        else:
            what = (f"{info.get('n_pins')} pins, {info.get('canvas')} px, {info.get('shape')}, min gap "
                    f"{info.get('min_gap')}, thread {info.get('width_px', 0):.3g} px")
        typer.echo(f"  {_size(e['bytes']):>9s}  {_age(now - e['last_used']):>12s}  {what}")
