"""torch's numerics pinned, so that a learned solver gives the same threads on any x86-64 CPU.

torch picks its CPU kernels at run time from what the processor offers (``ATEN_CPU_CAPABILITY``: AVX-512 on
one machine, AVX2 on another), and MKL and oneDNN do the same for matrix products and convolutions. The
kernels sum in different orders, the scores a decoder ranks differ in their last bits, and a thread can
take another chord: measured here, ``projection+refine`` drew another thread with torch's AVX2 kernels than
with its baseline ones, and an AVX-512 machine reproduced 625 of the default study's 640 pin files, all
15 others from solvers that use torch. :func:`pin` (called before this toolkit imports torch) selects the
baseline kernels every x86-64 processor runs the same way:

* ``ATEN_CPU_CAPABILITY=default`` -- torch's own kernels without processor-specific vectorisation;
* ``MKL_CBWR=COMPATIBLE`` -- MKL's conditional numerical reproducibility: the same results on every processor;
* ``ONEDNN_MAX_CPU_ISA=SSE41`` -- oneDNN's convolutions capped at an instruction set every x86-64 CPU has.

The learned solvers are small; the cost is a few hundredths of a second a solve (``projection+refine``
0.107 -> 0.134 s at 288 pins, 512 px). Set ``STRINGART_TORCH_NATIVE=1`` to let torch use the processor's
fastest kernels (training a model, say), at the price of bit-for-bit results across machines. Threads:
torch runs on one thread while a solver runs (:func:`rendering.jit.set_threads`); within one machine and
one thread count the results are deterministic whatever these settings.
"""

from __future__ import annotations

import os
import sys

#: the settings :func:`pin` makes (before torch is imported)
PINNED = {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "COMPATIBLE", "ONEDNN_MAX_CPU_ISA": "SSE41"}


def pin() -> bool:
    """Pin torch's CPU numerics (:data:`PINNED`) unless ``STRINGART_TORCH_NATIVE`` is set; returns whether they
    hold (False when torch was imported before with other settings: it keeps the kernels it chose)."""
    if os.environ.get("STRINGART_TORCH_NATIVE"):
        return False
    if "torch" in sys.modules:
        return all(os.environ.get(k) == v for k, v in PINNED.items())
    os.environ.update(PINNED)
    return True
