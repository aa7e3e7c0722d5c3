"""Printed pages with matplotlib: paper sizes, a page in millimetres, PDF and PNG bytes.

Pages are plain :class:`matplotlib.figure.Figure` objects (no pyplot, no GUI) of the paper's size;
:func:`pdf_bytes` writes them with :class:`~matplotlib.backends.backend_pdf.PdfPages`, without dates,
so the same input gives the same bytes. Fonts are embedded as TrueType (``pdf.fonttype`` 42): the text
stays text (searchable, sharp at any zoom).
"""

from __future__ import annotations

import io
import re
from contextlib import contextmanager

from rendering import InputError

#: paper sizes in mm (portrait)
PAPERS = {"a4": (210.0, 297.0), "letter": (215.9, 279.4), "a3": (297.0, 420.0), "legal": (215.9, 355.6)}
#: what most printers cannot print at the edge of the sheet (mm)
PRINTER_MARGIN_MM = 8.0
MM_PER_INCH = 25.4
RC = {"pdf.fonttype": 42, "font.family": "DejaVu Sans", "svg.hashsalt": "stringart-kit", "path.simplify": False,
      "pdf.compression": 6}


def parse_paper(paper: str) -> tuple[str, float, float]:
    """``"A4"``, ``"letter"``, ``"a3"``, ``"legal"`` or ``"WIDTHxHEIGHT"`` in mm -> ``(name, width, height)``.

    >>> parse_paper("A4"), parse_paper("200x250")
    (('A4', 210.0, 297.0), ('200x250 mm', 200.0, 250.0))
    """
    text = str(paper).strip()
    key = text.lower()
    if key in PAPERS:
        w, h = PAPERS[key]
        return ("Letter" if key == "letter" else "Legal" if key == "legal" else text.upper()), w, h
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[x×]\s*(\d+(?:\.\d+)?)(?:\s*mm)?", key)
    if m:
        w, h = float(m.group(1)), float(m.group(2))
        if w > 0 and h > 0:
            return f"{m.group(1)}x{m.group(2)} mm", w, h
    raise InputError(f"unknown paper {text!r}; use A4, Letter, A3, Legal or WIDTHxHEIGHT in mm, e.g. --paper A4")


@contextmanager
def style():
    import matplotlib

    with matplotlib.rc_context(RC):
        yield


def new_page(width_mm: float, height_mm: float):
    """A figure of the paper's size and a full-page axes in millimetres (origin top left, y down)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width_mm / MM_PER_INCH, height_mm / MM_PER_INCH))
    ax = fig.add_axes((0.0, 0.0, 1.0, 1.0))
    mm_axes(ax, 0.0, 0.0, width_mm, height_mm)
    return fig, ax


def mm_axes(ax, x0: float, y0: float, width: float, height: float) -> None:
    """Make ``ax`` show the window ``[x0, x0 + width] x [y0, y0 + height]`` mm, y down, nothing else."""
    ax.set_xlim(x0, x0 + width)
    ax.set_ylim(y0 + height, y0)
    ax.set_axis_off()
    ax.set_aspect("auto")


def add_window(fig, page_w: float, page_h: float, left: float, top: float, width: float, height: float,
               window_x: float, window_y: float):
    """An axes placed at ``(left, top)`` mm on the page, ``width x height`` mm, showing the same size of the
    drawing's coordinates from ``(window_x, window_y)``: 1:1."""
    ax = fig.add_axes((left / page_w, 1.0 - (top + height) / page_h, width / page_w, height / page_h))
    mm_axes(ax, window_x, window_y, width, height)
    return ax


def pdf_bytes(figures, *, title: str = "", subject: str = "") -> bytes:
    """The figures as the pages of one PDF (no creation date: the same pages give the same bytes)."""
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    meta = {"Title": title, "Subject": subject, "Creator": "stringart-bench kit", "Producer": "matplotlib",
            "CreationDate": None, "ModDate": None}
    with style(), PdfPages(buf, metadata=meta) as pdf:
        for fig in figures:
            pdf.savefig(fig)
    return buf.getvalue()


def png_page(fig, *, dpi: float = 100) -> bytes:
    """One page drawn to PNG (for a README or a look), without metadata dates."""
    buf = io.BytesIO()
    with style():
        fig.savefig(buf, format="png", dpi=dpi, metadata={"Software": None}, facecolor="white")
    return buf.getvalue()


def count_pdf_pages(data: bytes) -> int:
    """Pages of a PDF written by matplotlib, counted from its page objects (``/Type /Page``)."""
    return len(re.findall(rb"/Type\s*/Page(?![a-zA-Z])", data))
