"""The routes of `plabel view` (Starlette): pages rendered from Jinja2 templates that escape
every value, images by id, the SQL console and review writes."""
from __future__ import annotations

import csv
import io
from importlib import resources
from typing import Any, cast, get_args
from urllib.parse import parse_qsl, urlencode

import jinja2
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from plabel.cookbook import recipes
from plabel.errors import LockHeld, PlabelError, UsageError
from plabel.view import data as D
from plabel.view.options import PAGE_SIZE, ViewOptions
from plabel.view.review import Action, Review, review
from plabel.view.security import Guard, GuardMiddleware
from plabel.view.snapshot import Snapshots
from plabel.workspace import Workspace


def make_app(ws: Workspace, options: ViewOptions, guard: Guard, snaps: Snapshots | None = None) -> Any:
    """The ASGI app: routes behind the guard (Host, token, CSRF, headers); `snaps`, the workspace's
    snapshots, when the caller made (and warmed) them."""
    folder = resources.files("plabel.view")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(folder.joinpath("templates"))), autoescape=True,
                             undefined=jinja2.StrictUndefined)  # every value escaped; a typo fails loudly
    templates = Jinja2Templates(env=env)
    pages = _Pages(ws, options, templates, guard, snaps or Snapshots(ws))
    routes = [
        Route("/", pages.overview), Route("/round/{round:int}", pages.grid), Route("/image/{image_id}", pages.image),
        Route("/media/{image_id}", pages.media), Route("/thumb/{image_id}", pages.thumb),
        Route("/compare", pages.compare), Route("/duplicates/{round:int}", pages.duplicates),
        Route("/sql", pages.sql), Route("/sql.csv", pages.sql_csv), Route("/review", pages.review, methods=["POST"]),
        Mount("/static", app=StaticFiles(directory=str(folder.joinpath("static"))), name="static"),
    ]
    return GuardMiddleware(Starlette(routes=routes, exception_handlers={PlabelError: pages.error}), guard)


class _Pages:
    def __init__(self, ws: Workspace, options: ViewOptions, templates: Jinja2Templates, guard: Guard,
                 snaps: Snapshots) -> None:
        self.ws, self.o, self.templates, self.guard, self.snaps = ws, options, templates, guard, snaps

    def render(self, request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
        context |= {"csrf": request.scope["state"]["csrf"], "workspace": str(self.ws.root)}
        return self.templates.TemplateResponse(request, name, context, status_code=status)

    def error(self, request: Request, exc: Exception) -> Response:
        status = 409 if isinstance(exc, LockHeld) else 400 if isinstance(exc, UsageError) else 500
        return self.render(request, "error.html", status, message=str(exc))

    def overview(self, request: Request) -> Response:
        return self.render(request, "overview.html", overview=D.overview(self.snaps))

    def grid(self, request: Request) -> Response:
        q = parse_grid(request)
        page = D.grid(self.snaps, q)
        classes = D.classes(self.snaps)
        rounds = D.prediction_rounds(self.snaps)
        next_href = None
        if page.next_cursor is not None:
            keep = {k: v for k, v in request.query_params.items() if k not in ("after_key", "after_id")}
            after = {"after_key": repr(page.next_cursor[0]), "after_id": page.next_cursor[1]}
            next_href = f"/round/{q.round}?{urlencode({**keep, **after})}"
        return self.render(request, "grid.html", q=q, page=page, classes=classes, rounds=rounds,
                           statuses=D.STATUSES, sorts=D.SORTS, next_href=next_href)

    def image(self, request: Request) -> Response:
        detail = D.image_detail(self.snaps, request.path_params["image_id"])
        if detail is None:
            return self.render(request, "error.html", 404, message="No image has this id.")
        return self.render(request, "image.html", d=detail, round=_opt_int(request, "round"))

    def media(self, request: Request) -> Response:
        raw = D.image_bytes(self.ws, request.path_params["image_id"])
        if raw is None:
            return Response("not found", 404, media_type="text/plain")
        return Response(raw, media_type=_image_type(raw))

    def thumb(self, request: Request) -> Response:
        png = D.thumbnail(self.ws, request.path_params["image_id"])
        if png is None:
            return Response("not found", 404, media_type="text/plain")
        return Response(png, media_type="image/png")

    def compare(self, request: Request) -> Response:
        rounds = D.prediction_rounds(self.snaps)
        a = _opt_int(request, "a", rounds[-2] if len(rounds) > 1 else None)
        b = _opt_int(request, "b", rounds[-1] if rounds else None)
        matrix = D.flip_matrix(self.snaps, a, b) if a is not None and b is not None else None
        return self.render(request, "compare.html", a=a, b=b, rounds=rounds, matrix=matrix)

    def duplicates(self, request: Request) -> Response:
        r = request.path_params["round"]
        rows = {s: D.duplicates(self.snaps, r, s) for s in ("unlabeled", "held_out")}
        return self.render(request, "duplicates.html", round=r, rows=rows)

    def sql(self, request: Request) -> Response:
        text = request.query_params.get("q", "")
        slug = request.query_params.get("recipe")
        text = next((r.sql for r in recipes() if r.slug == slug), text) if slug else text
        result, error = (None, None)
        if text.strip():
            try:
                result = run_sql(self.ws, text, self.o)
            except UsageError as e:
                error = str(e)
        return self.render(request, "sql.html", text=text, result=result, error=error, recipes=recipes(),
                           limit=self.o.sql_rows)

    def sql_csv(self, request: Request) -> Response:
        columns, rows, _ = run_sql(self.ws, request.query_params.get("q", ""), self.o)
        buf = io.StringIO()
        w = csv.writer(buf)
        w.writerow(columns)
        w.writerows(rows)
        return Response(buf.getvalue(), media_type="text/csv; charset=utf-8",
                        headers={"content-disposition": 'attachment; filename="plabel-query.csv"'})

    async def review(self, request: Request) -> Response:
        # an HTML form's body (urlencoded); bounded: a review is a few short fields
        body = await request.body()
        if len(body) > 16_384:
            return Response("request too large", 413, media_type="text/plain")
        fields = dict(parse_qsl(body.decode("utf-8", "replace")))
        state = request.scope["state"]
        if not self.guard.csrf_ok(state["session"], fields.get("csrf") or request.headers.get("x-csrf-token")):
            return Response("CSRF token missing or wrong", 403, media_type="text/plain")
        action = fields.get("action", "")
        if action not in get_args(Action):
            raise UsageError(f"action must be one of {', '.join(get_args(Action))}")
        r = Review(image_id=fields.get("image_id", ""), round=_int_field(fields, "round"),
                   action=cast(Action, action), label=fields.get("label") or None)
        await run_in_threadpool(review, self.ws, r, self.o.reviewer)
        back = fields.get("next", "/")
        # only a page of this site: never //host or /\host (browsers read both as another host)
        return RedirectResponse(back if back.startswith("/") and back[1:2] not in ("/", "\\") else "/", 303)


def run_sql(ws: Workspace, text: str, o: ViewOptions) -> tuple[list[str], list[list[Any]], bool]:
    """(columns, at most o.sql_rows rows, whether there were more) of a read-only query, stopped
    after o.sql_seconds."""
    import duckdb

    from plabel.readonly_sql import run_query, stopped

    result = run_query(ws, text, timeout=o.sql_seconds)
    rows: list[list[Any]] = []
    try:
        for batch in result.reader:
            rows += [list(r.values()) for r in batch.to_pylist()]
            if len(rows) > o.sql_rows:
                break
    except duckdb.InterruptException:
        raise UsageError(stopped(o.sql_seconds)) from None
    except duckdb.Error as e:
        raise UsageError(f"SQL error: {' '.join(str(e).split())}") from None
    finally:
        result.close()
    return result.columns, rows[:o.sql_rows], len(rows) > o.sql_rows


def parse_grid(request: Request) -> D.GridQuery:
    """The grid's filters from the query string; UsageError names a bad one."""
    p = request.query_params
    status, sort = p.get("status") or None, p.get("sort") or "confidence"
    if status is not None and status not in D.STATUSES:
        raise UsageError(f"status must be one of {', '.join(D.STATUSES)}")
    if sort not in D.SORTS:
        raise UsageError(f"sort must be one of {', '.join(D.SORTS)}")
    return D.GridQuery(round=request.path_params["round"], split=p.get("split") or "unlabeled",
                       class_id=_opt_int(request, "class_id"), min_confidence=_float(request, "min", 0.0),
                       max_confidence=_float(request, "max", 1.0), status=cast(D.Status | None, status),
                       other=_opt_int(request, "other"), flipped=p.get("flipped") == "1",
                       other_class_id=_opt_int(request, "other_class_id"),
                       reviewed=_tristate(p.get("reviewed")), correct=_tristate(p.get("correct")),
                       sort=cast(D.Sort, sort), ascending=p.get("asc") == "1",
                       after_key=_float(request, "after_key", None), after_id=p.get("after_id"),
                       limit=max(1, _opt_int(request, "limit", PAGE_SIZE) or PAGE_SIZE))


def _int_field(fields: dict[str, str], name: str) -> int:
    try:
        return int(fields.get(name, ""))
    except ValueError:
        raise UsageError(f"{name} must be a whole number (got {fields.get(name)!r})") from None


def _opt_int(request: Request, name: str, default: int | None = None) -> int | None:
    text = request.query_params.get(name)
    if text in (None, ""):
        return default
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"{name} must be a whole number (got {text!r})") from None


def _float(request: Request, name: str, default: float | None) -> Any:
    import math

    text = request.query_params.get(name)
    if text in (None, ""):
        return default
    try:
        value = float(text)
    except ValueError:
        raise UsageError(f"{name} must be a number (got {text!r})") from None
    if not math.isfinite(value):
        raise UsageError(f"{name} must be a finite number (got {text!r})")
    return value


def _tristate(text: str | None) -> bool | None:
    return {"1": True, "0": False}.get(text or "")


def _image_type(raw: bytes) -> str:
    """The media type of image bytes by their signature (never by a name from the request)."""
    for magic, kind in ((b"\x89PNG", "image/png"), (b"\xff\xd8", "image/jpeg"), (b"GIF8", "image/gif"),
                        (b"RIFF", "image/webp"), (b"BM", "image/bmp")):
        if raw.startswith(magic):
            return kind
    return "application/octet-stream"
