"""The physical thread model.

A thread of diameter ``thread_mm`` on a frame ``frame_mm`` across (the pin
circle's diameter, or the square's side) drawn on a canvas whose frame spans
``layout.span_px`` pixels is ``thread_mm * span_px / frame_mm`` pixels wide.

Each pass of a thread over a pixel multiplies the pixel's brightness by
``1 - opacity * coverage`` where ``coverage`` in [0, 1] is the fraction of the
pixel's area under the thread. With ``opacity = 1`` this is the expected
brightness when opaque threads land at random sub-pixel offsets, so it stays
right where many threads cross. The second model (``"opaque"``) renders at
``k`` times the resolution, clamps the summed coverage at black and box-averages
down, as Birsak et al. (2018) do; it is there for checking.

Defaults: a 600 mm frame and 0.20 mm black thread give a 0.17 px thread at
512 px; with opacity 1 the 4000 lines of a 288-pin picture leave a disk of mean
brightness near that of an ordinary photo, so 4000 lines look right at 512 px.
"""

from __future__ import annotations

from dataclasses import dataclass

from .errors import InputError, check_float

MODELS = ("multiplicative", "opaque")
#: the thinnest a frame may be, in thread diameters: string art is many threads side by side (a 0.2 mm thread
#: needs a frame of at least 10 mm; frames are usually 300-1000 mm)
MIN_FRAME_THREADS = 50


@dataclass(frozen=True, kw_only=True)
class ThreadModel:
    """Thread and frame in physical units.

    Parameters
    ----------
    frame_mm : float > 0
        Frame diameter (circle) or side (square) in millimetres.
    thread_mm : float > 0
        Thread diameter in millimetres.
    opacity : float in (0, 1]
        Darkening of one full-coverage pass.
    """

    frame_mm: float = 600.0
    thread_mm: float = 0.20
    opacity: float = 1.0

    def __post_init__(self):
        check_float("frame_mm", self.frame_mm, low=0.0, low_open=True, hint="the frame size must be positive")
        check_float("thread_mm", self.thread_mm, low=0.0, low_open=True,
                    hint="the thread width must be positive, e.g. --thread-mm 0.2")
        check_float("opacity", self.opacity, low=0.0, high=1.0, low_open=True)
        if self.frame_mm < MIN_FRAME_THREADS * self.thread_mm:
            raise InputError(f"frame_mm must be at least {MIN_FRAME_THREADS} thread widths, here "
                             f"{MIN_FRAME_THREADS * self.thread_mm:g} mm for a {self.thread_mm:g} mm thread, got "
                             f"{self.frame_mm:g} mm; a frame is usually 300-1000 mm across (or use a thinner "
                             f"--thread-mm)")

    def px_per_mm(self, span_px: float) -> float:
        """Pixels per millimetre for a frame spanning ``span_px`` pixels."""
        return span_px / self.frame_mm

    def width_px(self, span_px: float) -> float:
        """Thread width in pixels for a frame spanning ``span_px`` pixels.

        >>> round(ThreadModel().width_px(510.0), 4)
        0.17
        """
        return self.thread_mm * self.px_per_mm(span_px)
