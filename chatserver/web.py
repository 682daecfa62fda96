"""The browser side's files (clients/web), served as they are: no build step.

Only what a page loads is served: ES modules, styles, pages and images. The
npm tree and the package files stay private, and so does anything else that
may lie in the folder on a developer's machine.

Delivery (docs/operations.md, "Caching and compression"):

* Files under /web/ are kept by the browser and revalidated on every use
  (``Cache-Control: no-cache`` with an ``ETag`` made from the file's content):
  an unchanged file costs a 304 and no body, a changed one is fetched at once,
  so a page never runs a mix of old and new modules.
* Text files are sent gzipped to browsers that accept it, compressed once per
  version of the file and kept in memory.
* The pages (/, /join, /console) are never stored (``no-store``, the default
  of every response, chatserver/app.py). Each page is served with a
  ``<link rel="modulepreload">`` for every module its entry script imports,
  directly or not, worked out from the files themselves, so the browser asks
  for the whole module graph at once instead of one import level at a time,
  and the list cannot fall behind the code.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import mimetypes
import os
import re
import stat
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import anyio.to_thread
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Beside chatserver/ in the checkout (the project runs from its checkout, as
# the README's two commands do).
WEB_DIR = Path(__file__).resolve().parent.parent / "clients" / "web"
SERVED_SUFFIXES = frozenset({".js", ".mjs", ".css", ".html", ".svg", ".png", ".woff2"})
HIDDEN_PARTS = frozenset({"node_modules"})
WEB_PREFIX = "/web/"

# Kept, and asked about again before each use.
REVALIDATE = "no-cache"
# What is worth compressing (PNG and WOFF2 are compressed already), and from
# which size on (below it the gzip header eats the gain).
COMPRESSIBLE = frozenset({".js", ".mjs", ".css", ".html", ".svg", ".json"})
MIN_COMPRESS_BYTES = 512
MEDIA_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".html": "text/html; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".woff2": "font/woff2",
    ".json": "application/json",
}


@dataclass(frozen=True)
class Prepared:
    """One version of a file, ready to send: as it is, and gzipped if that pays."""

    body: bytes
    gzipped: bytes | None
    tag: str  # of the content; the ETag of each encoding is made from it
    media_type: str

    def etag(self, gzipped: bool) -> str:
        return f'"{self.tag}-gz"' if gzipped else f'"{self.tag}"'


def prepare(body: bytes, suffix: str) -> Prepared:
    gzipped = None
    if suffix in COMPRESSIBLE and len(body) >= MIN_COMPRESS_BYTES:
        # mtime=0: the same bytes on every node behind a proxy, every start.
        packed = gzip.compress(body, compresslevel=9, mtime=0)
        if len(packed) < len(body):
            gzipped = packed
    tag = base64.urlsafe_b64encode(hashlib.sha256(body).digest()[:18]).decode()
    media_type = MEDIA_TYPES.get(suffix) or mimetypes.guess_type(f"x{suffix}")[0] or "text/plain"
    return Prepared(body, gzipped, tag, media_type)


def _version(st: os.stat_result) -> tuple[int, int, int]:
    return (st.st_ino, st.st_mtime_ns, st.st_size)


_prepared: dict[Path, tuple[tuple[int, int, int], Prepared]] = {}


def kept_file(path: Path) -> Prepared | None:
    """The file at ``path`` as last prepared, if it has not changed since (one stat)."""
    kept = _prepared.get(path)
    if kept is None:
        return None
    try:
        version = _version(path.stat())
    except OSError:
        return None
    return kept[1] if kept[0] == version else None


def prepared_file(path: Path) -> Prepared | None:
    """The file at ``path`` ready to send (None if it is not a regular file).

    Read and compressed once per version (inode, mtime and size), so an edited
    file is served new at once while an unchanged one is never read again.
    """
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    version = _version(st)
    kept = _prepared.get(path)
    if kept is not None and kept[0] == version:
        return kept[1]
    try:
        body = path.read_bytes()
    except OSError:
        return None
    ready = prepare(body, path.suffix)
    _prepared[path] = (version, ready)
    return ready


# ---- the module graph -------------------------------------------------------------------

_COMMENTS = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
# `import x from "./a.js"`, `import {a,\n b} from "./a.js"`, `export * from "./a.js"`,
# `import "./a.js"`. Dynamic imports (`import("...")`) are not preloaded: a
# page asks for those when it needs them.
_STATIC_IMPORTS = re.compile(
    r"""(?:^|[;}\s])(?:import|export)\b[^;'"`]*?\bfrom\s*(['"])([^'"\n]+)\1"""
    r"""|(?:^|[;}\s])import\s*(['"])([^'"\n]+)\3""",
    re.M,
)
_ENTRY = re.compile(r"""<script\b[^>]*\btype=["']module["'][^>]*\bsrc=["']([^"']+)["']""", re.I)
_PRELOADED = re.compile(
    r"""<link\b[^>]*\brel=["']modulepreload["'][^>]*\bhref=["']([^"']+)["']""", re.I
)
_imports: dict[Path, tuple[tuple[int, int, int], tuple[str, ...]]] = {}


def imports_of(source: str) -> list[str]:
    """The specifiers a module imports statically, in order."""
    code = _COMMENTS.sub(" ", source)
    return [m.group(2) or m.group(4) for m in _STATIC_IMPORTS.finditer(code)]


def _module_imports(path: Path) -> tuple[str, ...]:
    try:
        st = path.stat()
    except OSError:
        return ()
    kept = _imports.get(path)
    if kept is not None and kept[0] == _version(st):
        return kept[1]
    try:
        found = tuple(imports_of(path.read_text("utf-8", errors="replace")))
    except OSError:
        return ()
    _imports[path] = (_version(st), found)
    return found


def _web_path(url: str, web_dir: Path) -> Path | None:
    """The file a /web/ URL names, if it is one the server serves."""
    if not url.startswith(WEB_PREFIX):
        return None
    rel = PurePosixPath(url[len(WEB_PREFIX) :].split("?", 1)[0].split("#", 1)[0])
    if (
        rel.suffix not in (".js", ".mjs")
        or ".." in rel.parts
        or HIDDEN_PARTS.intersection(rel.parts)
        or any(part.startswith(".") for part in rel.parts)
    ):
        return None
    path = web_dir.joinpath(*rel.parts)
    return path if path.is_file() else None


def module_graph(entries: list[str], web_dir: Path = WEB_DIR) -> list[str]:
    """Every module URL (``/web/...``) the entry modules import, directly or not.

    Breadth first, each once, the entries themselves left out; imports that
    name no file the server serves are skipped (the browser reports those).
    """
    seen = set(entries)
    order: list[str] = []
    queue = list(entries)
    while queue:
        url = queue.pop(0)
        path = _web_path(url, web_dir)
        if path is None:
            continue
        base = PurePosixPath(url)
        for spec in _module_imports(path):
            if spec.startswith(("./", "../")):
                target = _normalise(base.parent / spec)
            elif spec.startswith("/"):
                target = _normalise(PurePosixPath(spec))
            else:
                continue  # a bare name or a full URL: nothing this server maps
            if target is None or target in seen or _web_path(target, web_dir) is None:
                continue
            seen.add(target)
            order.append(target)
            queue.append(target)
    return order


def _normalise(path: PurePosixPath) -> str | None:
    parts: list[str] = []
    for part in path.parts[1:]:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/" + "/".join(parts)


def with_modulepreload(html: str, web_dir: Path = WEB_DIR) -> str:
    """The page with a modulepreload link for each module its scripts import."""
    entries = _ENTRY.findall(html)
    present = set(_PRELOADED.findall(html))
    links = [
        f'<link rel="modulepreload" href="{url}">'
        for url in module_graph(entries, web_dir)
        if url not in present
    ]
    end = html.lower().find("</head>")
    if not links or end < 0:
        return html
    return html[:end] + "\n".join(links) + "\n" + html[end:]


Versions = tuple[tuple[int, int, int] | None, ...]
_pages: dict[Path, tuple[tuple[str, ...], Versions, Prepared]] = {}


def prepared_page(path: Path, web_dir: Path = WEB_DIR) -> Prepared | None:
    """An HTML page with its modulepreload links, kept until it or a module changes."""
    kept = _pages.get(path)
    if kept is not None:
        files, versions, ready = kept
        if _versions(path, files, web_dir) == versions:
            return ready
    try:
        html = path.read_text("utf-8")
    except OSError:
        return None
    entries = _ENTRY.findall(html)
    files = (*entries, *module_graph(entries, web_dir))
    ready = prepare(with_modulepreload(html, web_dir).encode("utf-8"), ".html")
    _pages[path] = (files, _versions(path, files, web_dir), ready)
    return ready


def _versions(page: Path, modules: tuple[str, ...], web_dir: Path) -> Versions:
    """The versions of a page and of each module it loads: any change is noticed."""
    paths = [page, *(_web_path(url, web_dir) for url in modules)]
    return tuple(_stat_version(p) if p is not None else None for p in paths)


def _stat_version(path: Path) -> tuple[int, int, int] | None:
    try:
        return _version(path.stat())
    except OSError:
        return None


# ---- responses --------------------------------------------------------------------------


def _accepts_gzip(headers: Headers) -> bool:
    for item in headers.get("accept-encoding", "").split(","):
        name, _, params = item.strip().partition(";")
        if name.strip().lower() in ("gzip", "*"):
            q = params.strip().lower()
            return not (q.startswith("q=") and _is_zero(q[2:]))
    return False


def _is_zero(q: str) -> bool:
    try:
        return float(q) == 0
    except ValueError:
        return False


def _matches(if_none_match: str, etag: str) -> bool:
    tags = [t.strip().removeprefix("W/") for t in if_none_match.split(",")]
    return "*" in tags or etag in tags


def send(ready: Prepared, scope: Scope, *, cache: bool) -> Response:
    """``ready`` for this request: gzipped if accepted, 304 if the browser has it.

    ``cache=False`` (pages): no validator and no Cache-Control of its own, so the
    app's ``no-store`` applies.
    """
    request_headers = Headers(scope=scope)
    use_gzip = ready.gzipped is not None and _accepts_gzip(request_headers)
    body = ready.gzipped if use_gzip and ready.gzipped is not None else ready.body
    headers = {"vary": "Accept-Encoding"}
    if use_gzip:
        headers["content-encoding"] = "gzip"
    if cache:
        etag = ready.etag(use_gzip)
        headers["etag"] = etag
        headers["cache-control"] = REVALIDATE
        if _matches(request_headers.get("if-none-match", ""), etag):
            return Response(status_code=304, headers=headers)
    if scope.get("method") == "HEAD":
        response = Response(status_code=200, headers=headers, media_type=ready.media_type)
        response.headers["content-length"] = str(len(body))
        return response
    return Response(body, headers=headers, media_type=ready.media_type)


async def page_response(request: Request, name: str) -> Response:
    """One of the HTML pages of clients/web (never stored: the app's ``no-store``)."""
    ready = await anyio.to_thread.run_sync(prepared_page, WEB_DIR / name)
    if ready is None:
        raise HTTPException(404)
    return send(ready, request.scope, cache=False)


async def _file(path: Path) -> Prepared | None:
    # Unchanged since last prepared: one stat, no thread. Else read and
    # compressed off the event loop.
    return kept_file(path) or await anyio.to_thread.run_sync(prepared_file, path)


async def file_response(request: Request, path: Path) -> Response:
    """A public file at a fixed address outside /web/ (the favicon, the content rules)."""
    ready = await _file(path)
    if ready is None:
        raise HTTPException(404)
    return send(ready, request.scope, cache=True)


class WebFiles(StaticFiles):
    def __init__(self) -> None:
        # check_dir=False: a checkout without clients/web still serves the API.
        super().__init__(directory=str(WEB_DIR), check_dir=False)

    async def get_response(self, path: str, scope: Scope) -> Response:
        parts = PurePosixPath(path).parts
        suffix = PurePosixPath(path).suffix
        if (
            suffix not in SERVED_SUFFIXES
            or HIDDEN_PARTS.intersection(parts)
            or any(part.startswith(".") for part in parts)
        ):
            raise HTTPException(404)
        if scope["method"] not in ("GET", "HEAD"):
            raise HTTPException(405, headers={"Allow": "GET, HEAD"})
        # StaticFiles' own lookup: no way out of the folder (.., symlinks). A
        # few system calls on a local folder: not worth a thread.
        full_path, _ = self.lookup_path(path)
        if not full_path:
            raise HTTPException(404)
        if suffix == ".html":
            ready = await anyio.to_thread.run_sync(prepared_page, Path(full_path))
        else:
            ready = await _file(Path(full_path))
        if ready is None:
            raise HTTPException(404)
        # Module scripts go as JavaScript whatever the platform's mimetypes
        # table says about .mjs (MEDIA_TYPES); HTML is never stored.
        return send(ready, scope, cache=suffix != ".html")
