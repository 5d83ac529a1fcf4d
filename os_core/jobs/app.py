"""The job service's HTTP API and dashboard (FastAPI; served by uvicorn, see ``qnodeos jobs serve``).

API (JSON; ``Authorization: Bearer <token>``; a user sees only their own jobs, others' ids are 404):

========================================  =========================================================
``POST /api/jobs``                        multipart form: ``archive`` (zip / tar[.gz] of an app
                                          directory), ``inputs`` (JSON ``{"role": {"name": value}}``),
                                          ``runs``, ``timeout_s`` (per run), limits of the job:
                                          ``wall_time_s``, ``cpu_time_s``, ``memory_mb``
``GET /api/jobs``                         your jobs, newest first
``GET /api/jobs/{id}``                    status, error, and statistics over the runs so far
``GET /api/jobs/{id}/runs``               per-run results and errors
``GET /api/jobs/{id}/stats``              mean ± standard error, outcome histograms
``GET /api/jobs/{id}/logs[/{path}]``      the log files, one log file
``GET /api/jobs/{id}/timeline``           the latest run's timeline (``/runs/{i}/timeline``: run i;
                                          ``/timeline.png``: the latest run's, drawn)
``GET /api/jobs/{id}/plots/{q}.svg``      a plot of quantity ``q`` (e.g. ``receiver.fidelity``)
``DELETE /api/jobs/{id}``                 cancel a queued or running job
``GET /api/nodes``, ``GET /api/events``   node states; server-sent events for the dashboard
========================================  =========================================================

The dashboard (``/``) signs in with a token once (``POST /api/session`` sets an HttpOnly, SameSite
cookie); the cookie is accepted for reading only, so another site cannot submit or cancel jobs.
"""
from __future__ import annotations

import asyncio
import json
from contextlib import asynccontextmanager
from importlib import resources
from typing import Any, AsyncIterator

from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException

from ..errors import QNodeOSError
from .archive import UploadError
from .auth import user_for_token
from .db import Database, Job, RunRecord, User
from .manager import JobManager
from .middleware import GuardMiddleware
from .monitor import NodeMonitor
from .plots import histogram_svg, numeric_svg, timeline_png
from .settings import ServiceSettings
from ..run_stats import flatten
from .submission import parse_inputs, parse_number
from .views import job_statistics, job_summary, log_file, log_files, run_view

COOKIE = "qnodeos_token"
FORM_FIELDS = ("archive", "inputs", "runs", "timeout_s", "wall_time_s", "cpu_time_s", "memory_mb")
class _Streams:
    """Counts open event streams (each costs the service a task)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = 0


def create_app(settings: ServiceSettings, *, db: Database | None = None) -> FastAPI:
    """The service for ``settings``; starts its job manager and node monitor when served."""
    database = db or Database(settings.database_url)
    manager = JobManager(database, settings)
    monitor = NodeMonitor(settings.network, settings.poll_interval_s, settings.node_timeout_s,
                          settings.dashboard_rows)
    streams = _Streams(settings.max_event_streams)
    stopping = asyncio.Event()

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        manager.start()
        monitor.start()
        try:
            yield
        finally:
            stopping.set()
            await run_in_threadpool(manager.stop)
            await run_in_threadpool(monitor.stop)
            database.dispose()

    app = FastAPI(title="qnodeos job service", lifespan=lifespan, docs_url="/api/docs", redoc_url=None,
                  openapi_url="/api/openapi.json")
    app.state.manager, app.state.monitor, app.state.db = manager, monitor, database

    # ---- plumbing --------------------------------------------------------------------------------
    app.add_middleware(GuardMiddleware, upload_limit=settings.archive.max_upload_bytes + (64 << 10),
                       archive_limit=settings.archive.max_upload_bytes)

    @app.exception_handler(UploadError)
    async def refused(_request: Request, exc: UploadError) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, exc.status)

    def authenticate(request: Request, allow_cookie: bool) -> User:
        token = None
        header = request.headers.get("authorization")
        if header:
            scheme, _, value = header.partition(" ")
            if scheme.lower() == "bearer":
                token = value.strip()
        elif allow_cookie:
            token = request.cookies.get(COOKIE)
        user = user_for_token(database, token) if token else None
        if user is None:
            raise HTTPException(401, "a valid bearer token is required (Authorization: Bearer <token>; "
                                     "`qnodeos jobs add-user NAME` makes one)", {"WWW-Authenticate": "Bearer"})
        return user

    async def reader(request: Request) -> User:
        return await run_in_threadpool(authenticate, request, True)

    async def writer(request: Request) -> User:
        return await run_in_threadpool(authenticate, request, False)

    def owned(session: Any, job_id: str, user: User) -> Job:
        job = session.get(Job, job_id) if job_id.isalnum() and len(job_id) <= 32 else None
        if job is None or job.owner_id != user.id:
            raise HTTPException(404, f"no job {job_id!r}")
        return job

    # ---- the dashboard ---------------------------------------------------------------------------
    static = resources.files("qnodeos.jobs") / "static"

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        return Response((static / "dashboard.html").read_bytes(), media_type="text/html; charset=utf-8",
                        headers={"Cache-Control": "no-cache"})

    @app.get("/static/{name}", include_in_schema=False)
    async def static_file(name: str) -> Response:
        types = {"dashboard.js": "text/javascript; charset=utf-8", "dashboard.css": "text/css; charset=utf-8"}
        if name not in types:
            raise HTTPException(404, f"no file {name!r}")
        return Response((static / name).read_bytes(), media_type=types[name], headers={"Cache-Control": "no-cache"})

    @app.post("/api/session", status_code=204)
    async def sign_in(request: Request) -> Response:
        try:
            body = await request.json()
            token = str(body["token"])
        except (ValueError, KeyError, TypeError):
            raise HTTPException(400, 'send {"token": "<your token>"} as JSON') from None
        user = await run_in_threadpool(user_for_token, database, token)
        if user is None:
            raise HTTPException(401, "unknown token")
        response = Response(status_code=204)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    @app.delete("/api/session", status_code=204)
    async def sign_out() -> Response:
        response = Response(status_code=204)
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/api/whoami")
    async def whoami(request: Request) -> dict[str, Any]:
        """Who the token or cookie belongs to (``user`` null when none: the page then asks to sign in)."""
        try:
            user: User | None = await reader(request)
        except HTTPException:
            user = None
        return {"user": user.name if user else None, "network": settings.network.name,
                "nodes": list(settings.network.nodes)}

    # ---- jobs ------------------------------------------------------------------------------------
    @app.post("/api/jobs", status_code=201)
    async def submit(request: Request) -> JSONResponse:
        user = await writer(request)
        if not request.headers.get("content-type", "").startswith("multipart/form-data"):
            raise UploadError("send the job as a multipart/form-data form (fields: " + ", ".join(FORM_FIELDS) + ")",
                              415)
        try:
            form = await request.form(max_files=1, max_fields=len(FORM_FIELDS))
        except StarletteHTTPException:  # (the upload limit, from the middleware)
            raise
        except Exception as exc:  # python-multipart's and Starlette's parse errors
            raise UploadError(f"the form cannot be read: {exc}", 400) from None
        try:
            return await _submit(user, form)
        finally:
            await form.close()

    async def _submit(user: User, form: Any) -> JSONResponse:
        unknown = sorted(set(form.keys()) - set(FORM_FIELDS))
        if unknown:
            raise UploadError(f"unknown form field(s) {', '.join(unknown)} (fields: {', '.join(FORM_FIELDS)})")
        archive = form.get("archive")
        if not isinstance(archive, UploadFile):
            raise UploadError("the form has no 'archive' file (a zip or tar.gz of the application directory)")
        data = await archive.read(settings.archive.max_upload_bytes + 1)
        fields = {k: form.get(k) for k in FORM_FIELDS[1:]}
        for name, value in fields.items():
            if value is not None and not isinstance(value, str):
                raise UploadError(f"form field {name!r} must be text, not a file")
        limits = settings.job
        inputs = parse_inputs(fields["inputs"])
        runs = int(parse_number(fields["runs"], "runs", 1, 1, limits.max_runs, integer=True))
        timeout_s = parse_number(fields["timeout_s"], "timeout_s", limits.default_run_timeout_s, 0.1,
                                 limits.max_run_timeout_s)
        wall_time_s = parse_number(fields["wall_time_s"], "wall_time_s", limits.default_wall_time_s, 0.5,
                                   limits.max_wall_time_s)
        cpu_time_s = parse_number(fields["cpu_time_s"], "cpu_time_s", limits.default_cpu_time_s, 1,
                                  limits.max_cpu_time_s)
        memory_mb = int(parse_number(fields["memory_mb"], "memory_mb", limits.default_memory_mb, limits.min_memory_mb,
                                     limits.max_memory_mb, integer=True))
        job = await run_in_threadpool(manager.submit, user.id, data, archive.filename or "", inputs, runs,
                                      timeout_s, wall_time_s, cpu_time_s, memory_mb)
        return JSONResponse(job_summary(job), 201, headers={"Location": f"/api/jobs/{job.id}"})

    def list_jobs(user_id: int, limit: int = 100) -> list[dict[str, Any]]:
        with database() as session:
            jobs = session.scalars(select(Job).where(Job.owner_id == user_id)
                                   .order_by(Job.created_at.desc()).limit(limit))
            return [job_summary(j) for j in jobs]

    @app.get("/api/jobs")
    async def jobs(request: Request, limit: int = 100) -> list[dict[str, Any]]:
        user = await reader(request)
        return await run_in_threadpool(list_jobs, user.id, max(1, min(limit, 1000)))

    def job_document(job_id: str, user: User) -> dict[str, Any]:
        with database() as session:
            job = owned(session, job_id, user)
            runs = list(job.run_records)
            return {**job_summary(job), "statistics": job_statistics(runs)}

    @app.get("/api/jobs/{job_id}")
    async def job(job_id: str, request: Request) -> dict[str, Any]:
        user = await reader(request)
        return await run_in_threadpool(job_document, job_id, user)

    @app.get("/api/jobs/{job_id}/stats")
    async def stats(job_id: str, request: Request) -> dict[str, Any]:
        user = await reader(request)
        return (await run_in_threadpool(job_document, job_id, user))["statistics"]

    def job_runs(job_id: str, user: User, offset: int, limit: int) -> list[dict[str, Any]]:
        with database() as session:
            owned(session, job_id, user)
            rows = session.scalars(select(RunRecord).where(RunRecord.job_id == job_id).order_by(RunRecord.index)
                                   .offset(offset).limit(limit))
            return [run_view(r) for r in rows]

    @app.get("/api/jobs/{job_id}/runs")
    async def runs(job_id: str, request: Request, offset: int = 0, limit: int = 1000) -> list[dict[str, Any]]:
        user = await reader(request)
        return await run_in_threadpool(job_runs, job_id, user, max(0, offset), max(1, min(limit, 1000)))

    @app.delete("/api/jobs/{job_id}")
    async def cancel(job_id: str, request: Request) -> dict[str, Any]:
        user = await writer(request)

        def do() -> dict[str, Any]:
            with database() as session:
                owned(session, job_id, user)
            if not manager.cancel(job_id):
                raise HTTPException(409, f"job {job_id} has already ended")
            with database() as session:
                return job_summary(owned(session, job_id, user))

        return await run_in_threadpool(do)

    def owned_dir(job_id: str, user: User) -> Any:
        with database() as session:
            owned(session, job_id, user)
        return manager.job_dir(job_id)

    @app.get("/api/jobs/{job_id}/logs")
    async def logs(job_id: str, request: Request) -> list[dict[str, Any]]:
        user = await reader(request)
        return log_files(await run_in_threadpool(owned_dir, job_id, user))

    @app.get("/api/jobs/{job_id}/logs/{path:path}")
    async def log(job_id: str, path: str, request: Request) -> Response:
        user = await reader(request)
        found = log_file(await run_in_threadpool(owned_dir, job_id, user), path)
        if found is None:
            raise HTTPException(404, f"job {job_id} has no log file {path!r} (GET /api/jobs/{job_id}/logs lists them)")
        media = "application/json" if found.suffix == ".json" else "text/plain; charset=utf-8"
        return FileResponse(found, media_type=media)

    def timeline_of(job_id: str, user: User, index: int | None) -> Any:
        with database() as session:
            owned(session, job_id, user)
            query = select(RunRecord).where(RunRecord.job_id == job_id, RunRecord.log_dir.is_not(None))
            query = query.where(RunRecord.index == index) if index is not None else query.order_by(RunRecord.index.desc())
            run = session.scalars(query.limit(1)).first()
        if run is None:
            raise HTTPException(404, f"job {job_id} has no timeline" + (f" for run {index}" if index is not None else
                                                                        " yet (no run has finished)"))
        return manager.job_dir(job_id) / str(run.log_dir) / "timeline.json"

    @app.get("/api/jobs/{job_id}/timeline")
    async def timeline(job_id: str, request: Request) -> Response:
        user = await reader(request)
        return _json_file(await run_in_threadpool(timeline_of, job_id, user, None))

    def timeline_picture(job_id: str, user: User) -> Any:
        try:
            return timeline_png(timeline_of(job_id, user, None))
        except ValueError as exc:
            raise HTTPException(404, f"job {job_id}: no timeline to draw: {exc}") from None
        except QNodeOSError as exc:  # matplotlib missing
            raise HTTPException(501, str(exc)) from None

    @app.get("/api/jobs/{job_id}/timeline.png")
    async def timeline_png_of(job_id: str, request: Request) -> Response:
        user = await reader(request)
        return FileResponse(await run_in_threadpool(timeline_picture, job_id, user), media_type="image/png",
                            headers={"Cache-Control": "no-cache"})

    @app.get("/api/jobs/{job_id}/runs/{index}/timeline")
    async def run_timeline(job_id: str, index: int, request: Request) -> Response:
        user = await reader(request)
        return _json_file(await run_in_threadpool(timeline_of, job_id, user, index))

    def plot(job_id: str, user: User, quantity: str) -> str:
        with database() as session:
            job = owned(session, job_id, user)
            runs = [r for r in job.run_records if r.ok]
        stats = job_statistics(runs)["quantities"].get(quantity)
        if stats is None:
            raise HTTPException(404, f"job {job_id} has no quantity {quantity!r} to plot (see its statistics)")
        title = f"{job.app_name}: {quantity}"
        if "histogram" in stats and ("mean" not in stats or len(stats["histogram"]) <= 8):
            return histogram_svg(title, stats["histogram"])
        values = [float(flatten(r.results)[quantity]) for r in runs]
        return numeric_svg(title, values, stats["mean"], stats["std_error"])

    @app.get("/api/jobs/{job_id}/plots/{quantity}.svg")
    async def plot_svg(job_id: str, quantity: str, request: Request) -> Response:
        user = await reader(request)
        svg = await run_in_threadpool(plot, job_id, user, quantity)
        return Response(svg, media_type="image/svg+xml", headers={"Cache-Control": "no-cache"})

    # ---- nodes -----------------------------------------------------------------------------------
    @app.get("/api/nodes")
    async def nodes(request: Request) -> dict[str, Any]:
        await reader(request)
        _, states = monitor.snapshot()
        return {"network": settings.network.name, "nodes": states}

    @app.get("/api/events")
    async def events(request: Request) -> Response:
        user = await reader(request)
        if streams.open >= streams.limit:
            return PlainTextResponse(f"too many dashboards connected (limit {streams.limit})", 503)

        async def stream() -> AsyncIterator[str]:
            streams.open += 1
            try:
                seen_nodes = seen_jobs = -1
                quiet = 0.0
                yield "retry: 2000\n\n"
                while not stopping.is_set() and not await request.is_disconnected():
                    version, states = monitor.snapshot()
                    if version != seen_nodes:
                        seen_nodes = version
                        yield _event("nodes", {"network": settings.network.name, "nodes": states})
                    if manager.version != seen_jobs:
                        seen_jobs = manager.version
                        yield _event("jobs", await run_in_threadpool(list_jobs, user.id, 50))
                        quiet = 0.0
                    await asyncio.sleep(0.2)
                    quiet += 0.2
                    if quiet >= 15:
                        quiet = 0.0
                        yield ": keep-alive\n\n"
            finally:
                streams.open -= 1

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    @app.get("/api/health")
    async def health() -> dict[str, Any]:
        _, states = monitor.snapshot()
        return {"ok": True, "running_jobs": manager.running_jobs(),
                "nodes": {n: bool(s.get("reachable")) for n, s in states.items()}}

    return app


def _event(kind: str, data: Any) -> str:
    from ..commands.output import jsonable

    return f"event: {kind}\ndata: {json.dumps(jsonable(data), allow_nan=False)}\n\n"


def _json_file(path: Any) -> Response:
    if not path.is_file():
        raise HTTPException(404, "that run left no timeline")
    return FileResponse(path, media_type="application/json")
