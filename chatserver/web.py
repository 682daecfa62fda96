"""The browser side's files (clients/web), served as they are: no build step.

Only what a page loads is served: ES modules, styles, pages and images. The
npm tree and the package files stay private, and so does anything else that
may lie in the folder on a developer's machine.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath

from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

# Beside chatserver/ in the checkout (the project runs from its checkout, as
# the README's two commands do).
WEB_DIR = Path(__file__).resolve().parent.parent / "clients" / "web"
SERVED_SUFFIXES = frozenset({".js", ".mjs", ".css", ".html", ".svg", ".png", ".woff2"})
HIDDEN_PARTS = frozenset({"node_modules"})


class WebFiles(StaticFiles):
    def __init__(self) -> None:
        # check_dir=False: a checkout without clients/web still serves the API.
        super().__init__(directory=str(WEB_DIR), check_dir=False)

    async def get_response(self, path: str, scope: Scope) -> Response:
        parts = PurePosixPath(path).parts
        if (
            PurePosixPath(path).suffix not in SERVED_SUFFIXES
            or HIDDEN_PARTS.intersection(parts)
            or any(part.startswith(".") for part in parts)
        ):
            raise HTTPException(404)
        response = await super().get_response(path, scope)
        if path.endswith((".js", ".mjs")):
            # Module scripts must be served as JavaScript, whatever the
            # platform's mimetypes table says about .mjs.
            response.headers["content-type"] = "text/javascript; charset=utf-8"
        return response
