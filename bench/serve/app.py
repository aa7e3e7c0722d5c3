"""The ``bench serve`` web app: :func:`create_app` builds it from its settings, without a socket.

Four pages (make, compare, wind, runs), each a static page of the package that calls the JSON API below;
scripts and tests use the same API (``docs/serve.md`` documents it). Solves run in worker processes
(:class:`bench.serve.jobs.Scheduler`); the server only checks requests, records jobs and relays events.

Every answer to a bad request is ``{"error": "<one line>"}`` with a 4xx status, in the CLI's words
(:func:`bench.cli_common.error_line`). A request whose ``Host`` is not this server's (DNS rebinding) or a
state-changing request whose ``Origin`` is another site's is refused (403) before it reaches a route.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import ipaddress
import json
import mimetypes
import os
import time
import zipfile
from pathlib import Path
from urllib.parse import urlsplit

from rendering import InputError

from . import jobs as jobs_mod
from .uploads import MAX_PIXELS, MAX_UPLOAD_BYTES, Photo, UploadError

#: the pages, by route -> (its name: ``static/NAME.html`` holds its ``<main>``, ``static/NAME.js`` its code; its
#: title; whether the top bar links to it)
PAGES = {"/": ("make", "Make", True), "/compare": ("compare", "Compare", True), "/runs": ("runs", "Runs", True),
         "/wind": ("wind", "Wind", False)}
#: what a page's top bar shows on its right: the workers' state, or (winding) the run's title
_STATUS = {"wind": "title"}
_BODY_CLASS = {"wind": "wind-body"}


def page_html(route: str, assets: dict[str, tuple[bytes, str]]) -> bytes:
    """A page: ``static/shell.html`` (the head, the top bar with its links) around the page's ``<main>``, in
    which a line ``<!-- include: FILE -->`` stands for that file of ``static`` (the photo picker)."""
    import re

    name, title, _ = PAGES[route]
    current = ' aria-current="page"'
    nav = "".join(f'<a href="{r}"{current if r == route else ""}>{t}</a>' for r, (_, t, linked) in PAGES.items()
                  if linked)
    cls = _BODY_CLASS.get(name)
    return assets["shell.html"][0].decode().format(
        title=title, page=name, nav=nav, status=_STATUS.get(name, "workers"),
        body_class=f' class="{cls}"' if cls else "",
        main=re.sub(r"<!-- include: ([\w.-]+) -->", lambda m: assets[m.group(1)][0].decode().rstrip("\n"),
                    assets[f"{name}.html"][0].decode().rstrip("\n"))).encode()


LOCAL_NAMES = {"localhost", "127.0.0.1", "::1"}
#: the pages' own policy: scripts and styles of this server only, pictures also from blob: (the photo picked)
PAGE_CSP = ("default-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; style-src 'self'; "
            "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'")
#: files of a job are data, never a page: nothing in them runs
FILE_CSP = "default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; sandbox"
#: files that are compressed already: stored in the zip as they are
_STORED = {".png", ".gif", ".mp4", ".pdf", ".jpg", ".jpeg", ".webp", ".heic"}
#: the job's files that are not part of its download (the server's record, half-written temporaries)
_NOT_IN_ZIP = {jobs_mod.RECORD}


def _error(message: str, status: int = 400):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


def _host_name(value: str) -> str:
    """The host name of a ``Host`` header or an origin's netloc, without the port (``[::1]:8000`` -> ``::1``)."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1:value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def host_allowed(name: str, bound: str) -> bool:
    """Whether a request naming host ``name`` may reach a server bound to ``bound``: the bound name itself and
    the local names always; any address literal (no name a foreign DNS can point here) when bound to all
    interfaces.

    >>> host_allowed("localhost", "127.0.0.1"), host_allowed("evil.example", "127.0.0.1")
    (True, False)
    >>> host_allowed("192.168.1.20", "0.0.0.0"), host_allowed("evil.example", "0.0.0.0")
    (True, False)
    """
    name, bound = name.strip("[]").lower(), bound.strip("[]").lower()
    if name in LOCAL_NAMES or name == bound:
        return True
    if bound in ("0.0.0.0", "::", ""):
        try:
            ipaddress.ip_address(name)
            return True
        except ValueError:
            return False
    return False


class GuardMiddleware:
    """Refuse (403, one line) a request whose ``Host`` is not this server's, and a POST, PUT, PATCH or DELETE
    whose ``Origin`` is not this server's own page (another site, another port, an opaque ``null``). A pure
    ASGI middleware: it adds no buffering to the event streams."""

    def __init__(self, app, bound: str):
        self.app = app
        self.bound = bound

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        host = _host_name(headers.get("host", ""))
        if not host or not host_allowed(host, self.bound):
            resp = _error(f"host '{host or 'none'}' is not this server's ({self.bound}); open the page at "
                          f"http://{self.bound if self.bound not in ('0.0.0.0', '::') else '127.0.0.1'}:PORT/ "
                          f"(requests through another name are refused against DNS rebinding)", 403)
            return await resp(scope, receive, send)
        if scope["method"] in ("POST", "PUT", "PATCH", "DELETE"):
            origin = headers.get("origin")
            # a browser names the page a request comes from: it must be this server's own (scheme, host and
            # port as the Host header says them); scripts and curl send no Origin
            if origin is not None and urlsplit(origin).netloc.lower() != headers.get("host", "").strip().lower():
                resp = _error(f"a {scope['method']} from another site ({origin}) is refused; use the page this "
                              f"server serves", 403)
                return await resp(scope, receive, send)
        return await self.app(scope, receive, send)


def _assets() -> dict[str, tuple[bytes, str]]:
    """Every file of ``bench/serve/static`` (importlib.resources: inside the installed package) -> (bytes,
    media type), read once."""
    from importlib.resources import files

    out = {}
    for entry in files("bench.serve").joinpath("static").iterdir():
        if entry.is_file() and not entry.name.startswith("."):
            kind = mimetypes.guess_type(entry.name)[0] or "application/octet-stream"
            if kind.startswith("text/") or kind in ("application/javascript", "image/svg+xml"):
                kind += "; charset=utf-8"
            out[entry.name] = (entry.read_bytes(), kind)
    return out


def default_workspace() -> Path:
    """Where results go without ``--workspace``: ``user_data_dir("stringart-bench")/workspace``."""
    import platformdirs

    return Path(platformdirs.user_data_dir("stringart-bench")) / "workspace"


def create_app(workspace=None, *, workers: int | None = None, host: str = "127.0.0.1", start_workers: bool = True,
               warm_kit: bool = True, max_upload_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_PIXELS,
               cores: int | None = None, event_interval: float = 0.05):
    """The ``bench serve`` app (an ASGI app: run it with uvicorn, or test it with Starlette's TestClient).

    Parameters
    ----------
    workspace : folder of the jobs and results (created if needed; default :func:`default_workspace`)
    workers : solve worker processes (default: one per core); they start with the app (its lifespan)
    host : the address the server is bound to: requests must name it (or localhost) as their ``Host``
    start_workers : start the workers with the app (False: jobs wait in the queue; tests of the API alone)
    warm_kit : warm the workers up with a tiny kit too (the first job's kit as quick as the next)
    max_upload_bytes, max_pixels : the caps of an upload (413 past them)
    cores : the cores the workers share (default: this machine's)
    event_interval : seconds between two batches of chords on a job's stream while it solves

    Returns
    -------
    starlette.applications.Starlette, with ``app.state.store`` (:class:`~bench.serve.jobs.Store`) and
    ``app.state.scheduler`` (:class:`~bench.serve.jobs.Scheduler`)
    """
    from starlette.applications import Starlette
    from starlette.exceptions import HTTPException
    from starlette.middleware import Middleware
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    store = jobs_mod.Store(workspace if workspace is not None else default_workspace())
    interrupted = store.load()
    n_workers = int(workers) if workers else (os.cpu_count() or 1)
    scheduler = jobs_mod.Scheduler(store, n_workers, {"warm_kit": bool(warm_kit)}, cores=cores,
                                   interval=event_interval)
    assets = _assets()
    api = _Api(store, scheduler, max_upload_bytes=max_upload_bytes, max_pixels=max_pixels)

    def page(route):
        body, kind = page_html(route, assets), "text/html; charset=utf-8"

        async def serve(request):
            return Response(body, media_type=kind, headers={"Cache-Control": "no-cache",
                                                             "Content-Security-Policy": PAGE_CSP,
                                                             "X-Content-Type-Options": "nosniff"})
        return serve

    async def static(request):
        name = request.path_params["name"]
        if name not in assets:
            return _error(f"no asset '{name}'", 404)
        body, kind = assets[name]
        return Response(body, media_type=kind, headers={"Cache-Control": "no-cache", "X-Content-Type-Options":
                                                        "nosniff"})

    routes = [Route(path, page(path)) for path in PAGES]
    routes += [
        Route("/static/{name}", static),
        Route("/api/status", api.status),
        Route("/api/solvers", api.solvers),
        Route("/api/crop", api.crop, methods=["POST"]),
        Route("/api/preview", api.preview, methods=["POST"]),
        Route("/api/solve", api.solve, methods=["POST"]),
        Route("/api/compare", api.compare, methods=["POST"]),
        Route("/api/jobs", api.list_jobs),
        Route("/api/jobs/{id}", api.job, methods=["GET"]),
        Route("/api/jobs/{id}", api.cancel, methods=["DELETE"]),
        Route("/api/jobs/{id}/events", api.events),
        Route("/api/jobs/{id}/picture", api.picture),
        Route("/api/jobs/{id}/kit.zip", api.kit_zip),
        Route("/api/jobs/{id}/files/{name:path}", api.file),
        Route("/api/jobs/{id}/wind", api.wind, methods=["GET", "POST"]),
    ]

    async def http_error(request, exc):
        if request.url.path.startswith("/api/"):
            what = {404: f"no such route {request.url.path}; see GET /api/solvers and docs/serve.md",
                    405: f"{request.method} is not allowed on {request.url.path}"}.get(exc.status_code, exc.detail)
            return JSONResponse({"error": what}, status_code=exc.status_code)
        return Response(f"{exc.status_code} {exc.detail}", status_code=exc.status_code, media_type="text/plain")

    @contextlib.asynccontextmanager
    async def lifespan(app):
        if start_workers:
            scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()

    app = Starlette(routes=routes, middleware=[Middleware(GuardMiddleware, bound=host)],
                    exception_handlers={HTTPException: http_error}, lifespan=lifespan)
    app.state.store = store
    app.state.scheduler = scheduler
    app.state.interrupted = interrupted
    return app


def _line(e: BaseException) -> str:
    from bench.cli_common import error_line

    return error_line(e)


class _Api:
    """The JSON API's handlers (one instance per app)."""

    def __init__(self, store, scheduler, *, max_upload_bytes: int, max_pixels: int):
        self.store = store
        self.scheduler = scheduler
        self.max_upload_bytes = max_upload_bytes
        self.max_pixels = max_pixels
        self._geometry: dict = {}

    # ------------------------------------------------------------------ helpers
    def _job_or_error(self, request, *, result: bool = False):
        job_id = request.path_params["id"]
        if not jobs_mod.valid_id(job_id):
            return None, _error(f"'{job_id}' is not a job id (letters, digits, '.', '_', '-'); see GET /api/jobs",
                                400)
        if self.store.folder_of(job_id) is None:
            return None, _error(f"no job '{job_id}' in this workspace; see GET /api/jobs", 404)
        if result and self.store.result_json(job_id) is None:
            job = self.store.get(job_id)
            status = job.status if job is not None else "no result"
            return None, _error(f"job '{job_id}' has no result yet (status {status}); wait for its done event", 409)
        return job_id, None

    async def _photo_and_fields(self, request):
        from starlette.concurrency import run_in_threadpool

        from .uploads import check_photo, parse_form, read_body

        body = await read_body(request, self.max_upload_bytes)
        fields, files = await parse_form(request, body)
        photo = None
        if "image" in files:
            name, data = files.pop("image")
            photo = await run_in_threadpool(check_photo, data, name, max_pixels=self.max_pixels)
        if files:
            raise UploadError(f"unexpected file field '{next(iter(files))}'; send the photo in field 'image'")
        return photo, fields

    # ------------------------------------------------------------------ routes
    async def status(self, request):
        from starlette.responses import JSONResponse

        return JSONResponse({**self.scheduler.status(), "workspace": str(self.store.workspace),
                             "interrupted": request.app.state.interrupted})

    async def solvers(self, request):
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        from .options import solvers_doc

        return JSONResponse(await run_in_threadpool(_cached_solvers_doc, solvers_doc))

    async def crop(self, request):
        """``POST /api/crop``: the photo (field ``image``) -> ``{"crop": "LEFT,TOP,SIZE", "width", "height"}``."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        from .crop import suggest_crop

        photo = await self._one_photo(request)
        if not isinstance(photo, Photo):
            return photo  # the error's response
        try:  # faces are looked for (about 0.1 s): off the event loop
            crop = await run_in_threadpool(suggest_crop, photo.width, photo.height, photo.data, photo.suffix)
        except InputError as e:
            return _error(_line(e), 400)
        return JSONResponse({"crop": crop, "width": photo.width, "height": photo.height, "format": photo.format})

    async def preview(self, request):
        """``POST /api/preview``: the photo as a JPEG a browser can show (at most 1600 px), for formats it cannot
        (HEIC); the same checks as an upload."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        photo = await self._one_photo(request)
        if not isinstance(photo, Photo):
            return photo  # the error's response
        return Response(await run_in_threadpool(_shown_jpeg, photo.data), media_type="image/jpeg")

    async def _one_photo(self, request):
        """The request's checked photo (field ``image``), or the response refusing it (4xx, one line)."""
        try:
            photo, _ = await self._photo_and_fields(request)
        except UploadError as e:
            return _error(_line(e), e.status)
        if photo is None:
            return _error("no photo: send it in field 'image' (multipart/form-data)", 400)
        return photo

    async def _create_jobs(self, photo, fields: list, solvers: list[str] | None):
        """Check the options (for each solver of ``solvers``; None: the form's one solver), then write each job's
        folder and queue it. Returns ``(group id or None, jobs)``."""
        from starlette.concurrency import run_in_threadpool

        from .options import check_options, compare_default, parse_form

        from_job = [v for k, v in fields if k == "from_job"]
        fields = [(k, v) for k, v in fields if k != "from_job"]
        base_record: dict = {}
        if photo is None and from_job:
            job = self.store.get(from_job[0]) if jobs_mod.valid_id(from_job[0]) else None
            if job is None or not (job.folder / job.record.get("photo", "")).is_file():
                raise UploadError(f"no job '{from_job[0]}' with a photo in this workspace; see GET /api/jobs", 404)
            from .uploads import check_photo

            photo = await run_in_threadpool(check_photo, (job.folder / job.record["photo"]).read_bytes(),
                                            job.record["photo"], max_pixels=self.max_pixels)
            given = {k for k, _ in fields}
            old = job.record.get("options") or {}
            fields = [(k, _field_text(v)) for k, v in old.items() if k not in given and k != "solver"
                      and v is not None and k != "option"] + fields
            base_record["image"] = job.record.get("image")
        if photo is None:
            raise UploadError("no photo: send it in field 'image' (multipart/form-data), or from_job=ID")
        options = parse_form(fields)
        names = [options["solver"]] if solvers is None else (solvers or compare_default())
        checked = []
        for name in names:
            opts = {**options, "solver": name}
            checked.append((opts, await run_in_threadpool(check_options, opts, photo.width, photo.height)))
        from .uploads import safe_filename

        filename = safe_filename(photo.filename, photo.suffix)
        group = jobs_mod.new_id() if solvers is not None else None
        created = []
        for opts, args in checked:
            record = {"image": base_record.get("image") or Path(filename).stem, "photo": filename,
                      "width": photo.width, "height": photo.height, "options": opts, "args": args,
                      "kit": bool(opts["kit"]), "kit_options": {"paper": opts["paper"], "pin_mm": opts["pin_mm"]},
                      "group": group}
            created.append(await run_in_threadpool(self.store.create, record, {filename: photo.data}))
        for job in created:
            self.scheduler.submit(job)
        return group, created

    async def solve(self, request):
        """``POST /api/solve``: multipart form, the photo in ``image``, options as fields -> ``{"id"}`` (202)."""
        from starlette.responses import JSONResponse

        try:
            photo, fields = await self._photo_and_fields(request)
            _, created = await self._create_jobs(photo, fields, None)
        except UploadError as e:
            return _error(_line(e), e.status)
        except (InputError, ValueError) as e:
            return _error(_line(e), 400)
        job = created[0]
        return JSONResponse({"id": job.id, "status": job.status, "events": f"/api/jobs/{job.id}/events"},
                            status_code=202)

    async def compare(self, request):
        """``POST /api/compare``: like ``/api/solve`` with ``solvers`` (comma-separated or repeated; default the
        compare set) -> ``{"id": group, "jobs": [ids]}`` (202). ``from_job=ID`` reuses a job's photo and
        options (fields given override them)."""
        from starlette.responses import JSONResponse

        try:
            photo, fields = await self._photo_and_fields(request)
            solvers = [s.strip() for k, v in fields if k == "solvers" for s in v.split(",") if s.strip()]
            fields = [(k, v) for k, v in fields if k not in ("solvers", "solver")]
            group, created = await self._create_jobs(photo, fields, solvers)
        except UploadError as e:
            return _error(_line(e), e.status)
        except (InputError, ValueError) as e:
            return _error(_line(e), 400)
        return JSONResponse({"id": group, "jobs": [j.id for j in created]}, status_code=202)

    async def list_jobs(self, request):
        """``GET /api/jobs``: every run of the workspace, newest first."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        def build():
            runs = [s for s in (self.store.summary(i) for i in self.store.ids()) if s is not None]
            runs.sort(key=lambda r: r.get("created") or 0, reverse=True)
            return runs

        return JSONResponse({"jobs": await run_in_threadpool(build), **self.scheduler.status()})

    async def job(self, request):
        """``GET /api/jobs/{id}``: the job's status, options, scores, files (and its result's summary)."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        job_id, err = self._job_or_error(request)
        if err:
            return err
        job = self.store.get(job_id)
        out = dict(job.record) if job is not None else {"id": job_id, "status": "done", "imported": True}
        out.pop("args", None)
        summary = await run_in_threadpool(self.store.summary, job_id)
        if summary:
            out["summary"] = summary
        folder = self.store.folder_of(job_id)
        out["files"] = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
        if job is not None and job.status == "queued":
            with self.scheduler.lock:
                out["position"] = next((i + 1 for i, j in enumerate(self.scheduler.queue) if j is job), None)
        return JSONResponse(out)

    async def cancel(self, request):
        """``DELETE /api/jobs/{id}``: cancel a queued or running job."""
        from starlette.responses import JSONResponse

        job_id, err = self._job_or_error(request)
        if err:
            return err
        job = self.store.get(job_id)
        if job is None or job.finished:
            status = job.status if job is not None else "done"
            return _error(f"job '{job_id}' has finished (status {status}); there is nothing to cancel", 409)
        if job.status == "solved":
            return _error(f"job '{job_id}' is solved and its kit is being made; there is nothing to cancel", 409)
        what = self.scheduler.cancel(job)
        return JSONResponse({"id": job_id, "status": what}, status_code=202)

    async def events(self, request):
        """``GET /api/jobs/{id}/events``: server-sent events, one JSON object a ``data:`` line, until the job
        ends (the last event has status done, failed, cancelled or interrupted)."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import StreamingResponse

        job_id, err = self._job_or_error(request)
        if err:
            return err
        job = self.store.get(job_id)
        q: asyncio.Queue = asyncio.Queue()
        backlog = job.subscribe(asyncio.get_running_loop(), q) if job is not None else None

        async def stream():
            try:
                if backlog is None:
                    yield _sse(await run_in_threadpool(self._finished_event, job_id))
                    return
                for ev in backlog:
                    yield _sse(ev)
                while True:
                    try:
                        ev = await asyncio.wait_for(q.get(), 15.0)
                    except asyncio.TimeoutError:
                        yield b": still here\n\n"
                        continue
                    if ev is None:
                        return
                    # events that came meanwhile go out in one write
                    batch = [ev]
                    while not q.empty():
                        nxt = q.get_nowait()
                        if nxt is None:
                            yield b"".join(_sse(e) for e in batch)
                            return
                        batch.append(nxt)
                    yield b"".join(_sse(e) for e in batch)
            finally:
                if job is not None:
                    job.unsubscribe(q)

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    def _finished_event(self, job_id: str) -> dict:
        """The one event of a finished job's stream: its last event, with the whole thread and its frame."""
        job = self.store.get(job_id)
        ev = jobs_mod.Scheduler.final_event(job) if job is not None else {"status": "done"}
        ev.update(self._picture(job_id) or {})
        return ev

    def _picture(self, job_id: str) -> dict | None:
        from rendering import InputError as _InputError

        try:
            loaded = self.store.load_result(job_id)
        except _InputError:
            return None
        if loaded is None:
            return None
        return {**picture_of(loaded.solution), "final": [[int(k), [int(p) for p in pins]]
                                                          for k, pins in loaded.solution.threads],
                "scores": loaded.scores, "title": loaded.title, "stem": loaded.stem}

    async def picture(self, request):
        """``GET /api/jobs/{id}/picture``: a result's frame (pins, colours) and its whole thread."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        job_id, err = self._job_or_error(request, result=True)
        if err:
            return err
        pic = await run_in_threadpool(self._picture, job_id)
        if pic is None:
            return _error(f"the result of job '{job_id}' cannot be read; solve it again", 409)
        return JSONResponse(pic)

    async def file(self, request):
        """``GET /api/jobs/{id}/files/{name}``: one file of the job's own folder (``?download=1``: as an
        attachment). Names with separators or ``..``, and links that lead out of the folder, are refused."""
        from starlette.responses import FileResponse

        job_id, err = self._job_or_error(request)
        if err:
            return err
        name = request.path_params["name"]
        folder = self.store.folder_of(job_id)
        path, problem = safe_file(folder, name)
        if problem:
            return _error(problem[0], problem[1])
        kind = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        disposition = "attachment" if request.query_params.get("download") else "inline"
        return FileResponse(path, media_type=kind, filename=path.name, content_disposition_type=disposition,
                            headers={"Content-Security-Policy": FILE_CSP, "X-Content-Type-Options": "nosniff",
                                     "Cache-Control": "no-cache"})

    async def kit_zip(self, request):
        """``GET /api/jobs/{id}/kit.zip``: the result and its kit in one zip."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import Response

        job_id, err = self._job_or_error(request, result=True)
        if err:
            return err
        folder = self.store.folder_of(job_id)
        stem = self.store.result_json(job_id).stem
        data = await run_in_threadpool(_zip_folder, folder)
        return Response(data, media_type="application/zip",
                        headers={"Content-Disposition": f'attachment; filename="{stem}-kit.zip"',
                                 "Cache-Control": "no-cache"})

    # ------------------------------------------------------------------ winding
    def _winder(self, job_id: str):
        from kit.geometry import Geometry
        from kit.wind import Winder, progress_path

        path = self.store.result_json(job_id)
        key = (job_id, path.stat().st_mtime_ns)
        cached = self._geometry.get(key)
        if cached is None:
            loaded = self.store.load_result(job_id)
            job = self.store.get(job_id)
            pin_mm = float(((job.record.get("kit_options") or {}) if job else {}).get("pin_mm") or 1.5)
            cached = (Geometry.from_solution(loaded.solution, pin_mm, check=False), loaded.title)
            if len(self._geometry) > 8:
                self._geometry.clear()
            self._geometry[key] = cached
        geo, title = cached
        return Winder(geo, progress_path(path), title=title), geo

    def _wind_state(self, job_id: str, action: dict | None) -> dict:
        from kit.instructions import blocks

        winder, geo = self._winder(job_id)
        winder.check_writable() if action is not None else None
        winder.load()
        if action is not None:
            if "done" in action:
                done = action["done"]
                if isinstance(done, bool) or not isinstance(done, int) or not 0 <= done <= winder.n:
                    raise InputError(f"done must be a whole number of lines from 0 to {winder.n}, got {done!r}; "
                                     f"e.g. {{\"done\": 12}}")
                winder.done = done
            else:
                move = action.get("action")
                if move == "next":
                    winder.next()
                elif move == "back":
                    winder.back()
                elif move == "restart":
                    winder.done = 0
                else:
                    raise InputError(f"action must be next, back or restart (or give done: N), got {move!r}; "
                                     f"e.g. {{\"action\": \"next\"}}")
            winder.save()
            return {"done": winder.done, "lines": winder.n}
        return {"title": winder.title, "done": winder.done, "lines": winder.n, "note": winder.note,
                "shape": geo.shape, "frame_mm": geo.frame_mm, "pin_mm": geo.pin_mm,
                "pins_mm": [[round(float(x), 3), round(float(y), 3)] for x, y in geo.pins],
                "pairs": [int(v) for v in geo.pairs.ravel()], "colours": [int(c) for c in geo.colours],
                "colour_hex": list(geo.colour_hex), "colour_names": list(geo.colour_names),
                "board_hex": geo.board_hex, "continuous": geo.continuous,
                "running_m": [round(float(v), 3) for v in geo.running_m],
                "blocks": [list(b) for b in blocks(geo)], "runs": [list(r) for r in geo.runs],
                "progress_file": winder.progress_file.name}

    async def wind(self, request):
        """``GET /api/jobs/{id}/wind``: the thread to wind and where the maker is (the same ``<result>.wind.json``
        ``bench wind`` keeps). ``POST``: JSON ``{"done": N}`` or ``{"action": "next" | "back" | "restart"}``."""
        from starlette.concurrency import run_in_threadpool
        from starlette.responses import JSONResponse

        job_id, err = self._job_or_error(request, result=True)
        if err:
            return err
        action = None
        if request.method == "POST":
            try:
                action = json.loads(await request.body() or b"null")
            except ValueError:
                return _error("expected a JSON body like {\"done\": 12} or {\"action\": \"next\"}", 400)
            if not isinstance(action, dict):
                return _error("expected a JSON object like {\"done\": 12} or {\"action\": \"next\"}", 400)
        try:
            return JSONResponse(await run_in_threadpool(self._wind_state, job_id, action))
        except (InputError, ValueError) as e:
            return _error(_line(e), 400)


_SOLVERS_DOC: list = []


def _cached_solvers_doc(make) -> dict:
    if not _SOLVERS_DOC:
        _SOLVERS_DOC.append(make())
    return _SOLVERS_DOC[0]


def _field_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _sse(event: dict) -> bytes:
    return b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n"


def picture_of(solution) -> dict:
    """What the canvas needs to draw a solution's threads: the frame (canvas px, pins), board and thread
    colours, the thread's width in canvas pixels."""
    p = solution.problem
    pal = p.palette
    return {"canvas": int(p.layout.canvas), "pins_xy": [[round(float(x), 2), round(float(y), 2)]
                                                        for x, y in p.layout.positions],
            "board": pal.board_hex, "colours": [pal.hex(k) for k in range(pal.n)], "names": list(pal.names),
            "shape": p.layout.shape, "opacity": float(p.thread.opacity), "thread_px": float(p.width_px)}


def safe_file(folder: Path, name: str) -> tuple[Path | None, tuple[str, int] | None]:
    """``(path, None)`` for a plain file of ``folder`` named ``name``, or ``(None, (message, status))``: a name
    with a separator, ``..`` or a leading dot (400), a link that leads out of the folder (403), no such file
    (404)."""
    if not name or "/" in name or "\\" in name or "\x00" in name or name.startswith(".") or ":" in name:
        return None, (f"file name '{name}' is not a plain name of a file in the job's folder; ask for one of the "
                      f"names GET /api/jobs/ID lists", 400)
    root = folder.resolve()
    path = folder / name
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return None, (f"no file '{name}' in this job's folder; GET /api/jobs/ID lists its files", 404)
    if real.parent != root:
        return None, (f"file '{name}' leads out of the job's folder; only the job's own files are served", 403)
    if not real.is_file():
        return None, (f"'{name}' is not a file; GET /api/jobs/ID lists the job's files", 404)
    return real, None


def _zip_folder(folder: Path) -> bytes:
    """The result and kit files of a job's folder as one zip (the photo and the server's record left out)."""
    buf = io.BytesIO()
    root = folder.resolve()
    with zipfile.ZipFile(buf, "w") as z:
        for p in sorted(folder.iterdir()):
            if p.name.startswith(".") or p.name in _NOT_IN_ZIP or not p.is_file() or p.resolve().parent != root:
                continue
            method = zipfile.ZIP_STORED if p.suffix.lower() in _STORED else zipfile.ZIP_DEFLATED
            info = zipfile.ZipInfo(p.name, date_time=time.localtime(p.stat().st_mtime)[:6])
            info.compress_type = method
            info.external_attr = 0o644 << 16
            z.writestr(info, p.read_bytes())
    return buf.getvalue()


def _shown_jpeg(data: bytes, side: int = 1600) -> bytes:
    """A photo as a JPEG a browser shows (EXIF orientation applied, at most ``side`` px)."""
    from PIL import Image, ImageOps

    from .uploads import _register_heif

    _register_heif()
    with Image.open(io.BytesIO(data)) as im:
        im = ImageOps.exif_transpose(im).convert("RGB")
        im.thumbnail((side, side))
        out = io.BytesIO()
        im.save(out, "JPEG", quality=88)
    return out.getvalue()
