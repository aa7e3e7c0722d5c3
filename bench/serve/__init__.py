"""``bench serve``: the maker's page -- make, compare, download and wind -- over a JSON API.

* :mod:`~bench.serve.app`: :func:`create_app` (the ASGI app, built from its settings without a socket), the
  routes, the Host/Origin guard.
* :mod:`~bench.serve.jobs`: job records in the workspace, their event streams, the solve workers' scheduler.
* :mod:`~bench.serve.worker`: a solve worker process (warm kernels and chord tables; progress and cancel over
  its pipe).
* :mod:`~bench.serve.options`: the options (from ``bench solve``'s own definitions), parsed and checked.
* :mod:`~bench.serve.uploads`: the upload's size and pixel caps, the photo's checks.
* :mod:`~bench.serve.crop`: where the crop frame starts.
* ``static/``: the four pages, their script and style (served from the package; nothing from elsewhere).

The web stack (Starlette, uvicorn) is imported only here, inside ``bench serve``: ``bench --help`` stays fast.
"""


def create_app(*args, **kwargs):
    """:func:`bench.serve.app.create_app` (imported on first use)."""
    from .app import create_app as make

    return make(*args, **kwargs)
