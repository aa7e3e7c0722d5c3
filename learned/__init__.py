"""learned: models that propose chords (the seed's autoencoder, a chord-scoring model, warm starts of greedy).

Learned solvers register themselves with :mod:`solvers` through the
``stringart.solvers`` entry point group (see pyproject.toml): ``projection``
and ``projection+refine`` (not learned: the baselines that decode like the
learned ones), ``ae-seed``, ``ae-chords``, ``ae+greedy`` and its ablation
``projection+greedy``.

Modules
-------
data        picture pools (any folder, or the offline default), crops, augmentation
models      AESeed, ChordNet, checkpoints (setup recorded, mismatches refused)
losses      L1 and SSIM inside the frame at a viewing scale (as rendering.metrics scores)
soft_lines  the seed model's renderer: lines with continuous endpoints
decode      chord scores -> chord weights -> one continuous thread (solvers.guide)
train       the training loop behind ``bench train``
solvers     the registered solvers

Chord weights are drawn by the differentiable renderer of :mod:`rendering.torch_render`.
"""

from rendering.torch_env import pin as _pin

_pin()  # torch's numerics the same on every x86-64 CPU, before any module here imports torch
