"""Delivery of the browser side (issue 17): compressed, kept with validation, pages never stored.

Files under /web/ are gzipped for browsers that accept it and kept with an
ETag (``no-cache``: revalidated on every use, a 304 when unchanged); pages
(/, /join, /console) stay ``no-store`` and carry a modulepreload link for each
module their entry script imports. The strict security headers are on all of
them. Also: ``/`` and the favicon answer, and ``chatserver facilitator add``
checks the password's length before asking for it a second time.
"""

from __future__ import annotations

import gzip
import re
import sys
from pathlib import Path

import httpx
import pytest
from conftest import Env

from chatserver import cli, web

GZIP = {"accept-encoding": "gzip"}
IDENTITY = {"accept-encoding": "identity"}
ROOM_JS = web.WEB_DIR / "room.js"


def assert_strict(r: httpx.Response) -> None:
    csp = r.headers.get("content-security-policy", "")
    assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp, r.request.url
    assert r.headers.get("x-content-type-options") == "nosniff"
    assert r.headers.get("referrer-policy") == "no-referrer"
    assert r.headers.get("x-frame-options") == "DENY"
    # One Cache-Control, never two that contradict each other.
    assert len(r.headers.get_list("cache-control")) == 1


async def raw_get(env: Env, path: str, **headers: str) -> tuple[httpx.Response, bytes]:
    """The response and its body as sent (not decompressed)."""
    async with env.http() as http, http.stream("GET", path, headers=headers) as r:
        return r, b"".join([chunk async for chunk in r.aiter_raw()])


# ---- static files: gzip, ETag, 304 ------------------------------------------------------


async def test_a_module_is_sent_gzipped_and_kept_with_an_etag(env: Env) -> None:
    r, body = await raw_get(env, "/web/room.js", **GZIP)
    assert r.status_code == 200
    assert r.headers["content-encoding"] == "gzip"
    assert "accept-encoding" in r.headers["vary"].lower()
    assert r.headers["content-type"].startswith("text/javascript")
    assert r.headers["cache-control"] == "no-cache"
    assert re.fullmatch(r'"[A-Za-z0-9_-]+-gz"', r.headers["etag"])
    assert gzip.decompress(body) == ROOM_JS.read_bytes()
    assert len(body) < ROOM_JS.stat().st_size
    assert int(r.headers["content-length"]) == len(body)
    assert_strict(r)


async def test_an_unchanged_module_is_revalidated_with_a_304(env: Env) -> None:
    first, _ = await raw_get(env, "/web/codec.js", **GZIP)
    etag = first.headers["etag"]
    again, body = await raw_get(env, "/web/codec.js", **GZIP, **{"if-none-match": etag})
    assert again.status_code == 304
    assert body == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "no-cache"
    assert_strict(again)
    # The forms browsers and proxies send: weak, in a list.
    for header in (f"W/{etag}", f'"other", {etag}'):
        r, _ = await raw_get(env, "/web/codec.js", **GZIP, **{"if-none-match": header})
        assert r.status_code == 304, header
    # Another version's tag: the file itself.
    r, body = await raw_get(env, "/web/codec.js", **GZIP, **{"if-none-match": '"old"'})
    assert r.status_code == 200 and gzip.decompress(body) == (web.WEB_DIR / "codec.js").read_bytes()


async def test_without_gzip_the_file_goes_as_it_is_under_its_own_etag(env: Env) -> None:
    r, body = await raw_get(env, "/web/room.js", **IDENTITY)
    assert r.status_code == 200
    assert "content-encoding" not in r.headers
    assert body == ROOM_JS.read_bytes()
    gz, _ = await raw_get(env, "/web/room.js", **GZIP)
    assert r.headers["etag"] != gz.headers["etag"]
    # Each encoding's tag validates only that encoding.
    plain, _ = await raw_get(
        env, "/web/room.js", **IDENTITY, **{"if-none-match": r.headers["etag"]}
    )
    assert plain.status_code == 304
    cross, _ = await raw_get(
        env, "/web/room.js", **IDENTITY, **{"if-none-match": gz.headers["etag"]}
    )
    assert cross.status_code == 200
    refused, _ = await raw_get(env, "/web/room.js", **{"accept-encoding": "gzip;q=0"})
    assert "content-encoding" not in refused.headers


async def test_styles_svg_and_vendor_modules_are_cached_too(env: Env) -> None:
    for path, kind in [
        ("/web/room.css", "text/css"),
        ("/web/console.css", "text/css"),
        ("/web/favicon.svg", "image/svg+xml"),
        ("/web/vendor/msgpack/index.mjs", "text/javascript"),
    ]:
        r, _ = await raw_get(env, path, **GZIP)
        assert r.status_code == 200, path
        assert r.headers["content-type"].startswith(kind), path
        assert r.headers["cache-control"] == "no-cache", path
        assert "etag" in r.headers, path
        assert_strict(r)


async def test_head_answers_the_headers_alone(env: Env) -> None:
    async with env.http() as http:
        r = await http.head("/web/room.js", headers=GZIP)
        post = await http.post("/web/room.js")
    assert r.status_code == 200
    assert r.content == b""
    assert r.headers["content-encoding"] == "gzip"
    assert int(r.headers["content-length"]) > 0
    assert post.status_code == 405


async def test_not_found_under_web_is_never_stored(env: Env) -> None:
    async with env.http() as http:
        r = await http.get("/web/nothing-here.js")
    assert r.status_code == 404
    assert r.headers["cache-control"] == "no-store"
    assert_strict(r)


def test_the_etag_follows_the_content(tmp_path: Path) -> None:
    path = tmp_path / "a.js"
    path.write_text("export const a = 1;\n" * 100)
    first = web.prepared_file(path)
    assert first is not None and first.gzipped is not None
    assert web.prepared_file(path) is first  # kept: not read again
    path.write_text("export const a = 2;\n" * 100)
    second = web.prepared_file(path)
    assert second is not None and second.tag != first.tag
    # The same bytes give the same tag (every node behind a proxy, every start).
    assert web.prepare(path.read_bytes(), ".js") == second
    tiny = web.prepare(b"export {};", ".js")
    assert tiny.gzipped is None  # too small to gain from gzip


# ---- pages: no-store, gzip, modulepreload ----------------------------------------------


@pytest.mark.parametrize("path", ["/", "/join", "/console"])
async def test_pages_are_never_stored_but_are_compressed(env: Env, path: str) -> None:
    r, body = await raw_get(env, path, **GZIP)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    assert "etag" not in r.headers and "last-modified" not in r.headers
    assert r.headers["content-encoding"] == "gzip"
    assert b"</html>" in gzip.decompress(body)
    assert_strict(r)
    # A validator sent anyway changes nothing: the page itself, every time.
    again, _ = await raw_get(env, path, **GZIP, **{"if-none-match": "*"})
    assert again.status_code == 200


@pytest.mark.parametrize(
    "path, entry", [("/join", "/web/room.js"), ("/console", "/web/console.js")]
)
async def test_a_page_preloads_its_module_graph(env: Env, path: str, entry: str) -> None:
    async with env.http() as http:
        page = await http.get(path)
        preloaded = re.findall(r'<link rel="modulepreload" href="([^"]+)">', page.text)
        assert preloaded == web.module_graph([entry])
        assert len(preloaded) > 10 and len(set(preloaded)) == len(preloaded)
        assert entry not in preloaded
        for url in preloaded:
            r = await http.get(url)
            assert r.status_code == 200, url
            assert r.headers["content-type"].startswith("text/javascript"), url
    head = page.text[: page.text.index("</head>")]
    assert all(f'href="{url}"' in head for url in preloaded)


def test_the_import_scanner_reads_every_form_the_clients_use() -> None:
    source = """
import { a,
  b } from "./a.js";
import * as c from './c.js';
import "./side.js";
export { d } from "./d.js";
export * from "../e.js";
// import { no } from "./commented.js";
/** @type {import("./typedef.js").T} */
/* import x from "./block.js"; */
const later = () => import("./dynamic.js");
const text = "not an import";
"""
    assert web.imports_of(source) == ["./a.js", "./c.js", "./side.js", "./d.js", "../e.js"]


def test_the_graph_follows_relative_imports_and_skips_what_is_not_served(tmp_path: Path) -> None:
    (tmp_path / "lib").mkdir()
    (tmp_path / "node_modules").mkdir()
    (tmp_path / "main.js").write_text(
        'import "./lib/a.js";\nimport "./missing.js";\nimport "bare";\n'
        'import "./node_modules/x.js";\nimport "../outside.js";\n'
    )
    (tmp_path / "lib" / "a.js").write_text('import "../main.js";\nimport "./b.mjs";\n')
    (tmp_path / "lib" / "b.mjs").write_text('import "/web/lib/a.js";\n')
    (tmp_path / "node_modules" / "x.js").write_text("")
    assert web.module_graph(["/web/main.js"], tmp_path) == ["/web/lib/a.js", "/web/lib/b.mjs"]
    page = tmp_path / "p.html"
    page.write_text(
        '<head>\n<script type="module" src="/web/main.js"></script>\n'
        '<link rel="modulepreload" href="/web/lib/a.js">\n</head>'
    )
    ready = web.prepared_page(page, tmp_path)
    assert ready is not None
    html = ready.body.decode()
    assert html.count('href="/web/lib/a.js"') == 1  # already there: not twice
    assert '<link rel="modulepreload" href="/web/lib/b.mjs">\n</head>' in html
    # A new import deep in the graph shows in the page at once.
    (tmp_path / "lib" / "c.js").write_text("")
    (tmp_path / "lib" / "b.mjs").write_text('import "./c.js";\n// a longer file now\n')
    again = web.prepared_page(page, tmp_path)
    assert again is not None and 'href="/web/lib/c.js"' in again.body.decode()


# ---- / and the favicon ------------------------------------------------------------------


async def test_the_bare_address_says_what_this_is_and_where_to_go(env: Env) -> None:
    async with env.http() as http:
        r = await http.get("/")
    assert r.status_code == 200
    text = r.text
    assert "support group" in text
    assert "private link" in text
    assert 'href="/console"' in text
    assert "<script" not in text  # nothing runs there
    assert_strict(r)


@pytest.mark.parametrize("path", ["/favicon.ico", "/web/favicon.svg"])
async def test_the_favicon_answers(env: Env, path: str) -> None:
    async with env.http() as http:
        r = await http.get(path)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("image/svg+xml")
    assert r.content.startswith(b"<svg")
    assert r.headers["cache-control"] == "no-cache"
    assert_strict(r)


@pytest.mark.parametrize("page", ["index.html", "room.html", "console.html"])
def test_every_page_names_the_favicon(page: str) -> None:
    html = (web.WEB_DIR / page).read_text()
    head = html[: html.index("</head>")]
    assert '<link rel="icon" href="/web/favicon.svg" type="image/svg+xml">' in head


# ---- chatserver facilitator add: the length first ---------------------------------------


class Tty:
    def isatty(self) -> bool:
        return True

    def readline(self) -> str:
        raise AssertionError("read from stdin while a terminal is there")


def run_add(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, answers: list[str]) -> list[str]:
    """``chatserver facilitator add alex`` at a terminal; the prompts it showed."""
    prompts: list[str] = []

    def getpass(prompt: str = "") -> str:
        prompts.append(prompt)
        return answers[len(prompts) - 1]

    monkeypatch.setattr(sys, "stdin", Tty())
    monkeypatch.setattr("getpass.getpass", getpass)
    store = f"sqlite:///{tmp_path / 'db.sqlite3'}"
    code = cli.main(["--store", store, "facilitator", "add", "alex"])
    prompts.append(f"exit {code}")
    return prompts


def test_a_short_password_is_refused_before_it_is_asked_again(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_add(monkeypatch, tmp_path, ["short"]) == ["Password: ", "exit 2"]
    assert "at least 10 characters" in capsys.readouterr().err


def test_a_long_enough_password_is_asked_twice(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good = "long enough password"
    assert run_add(monkeypatch, tmp_path, [good, good]) == [
        "Password: ",
        "Password again: ",
        "exit 0",
    ]
    assert "Facilitator alex added." in capsys.readouterr().out


def test_two_different_passwords_are_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with pytest.raises(SystemExit, match="differ"):
        run_add(monkeypatch, tmp_path, ["long enough password", "another long one"])


def test_the_readme_documents_password_stdin() -> None:
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert "facilitator add alex --password-stdin" in readme
