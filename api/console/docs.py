"""/docs (Swagger UI) and /redoc served with assets from the app itself, never a CDN.

The assets come from the `fastapi-offline` package (a PyPI dependency shipping the Swagger
UI bundle, its CSS, the ReDoc standalone script and a favicon); only its files are used, the
pages themselves are FastAPI's own. create_app passes docs_url=None and redoc_url=None so
FastAPI's CDN-backed pages are not registered.
"""

from __future__ import annotations

from collections.abc import Sequence
from importlib.resources import files
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_ASSETS_URL = "/docs-assets"
# The pages may load only from this app. ReDoc's sidebar footer loads a logo from its
# vendor's CDN unconditionally; the browser refuses it here instead of fetching it.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' blob:; "
    "style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; "
    "worker-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'"
)


def docs_assets_dir() -> Path:
    return Path(str(files("fastapi_offline") / "static"))


def install_offline_docs(app: FastAPI, *, dependencies: Sequence[Any] = ()) -> None:
    app.mount(DOCS_ASSETS_URL, StaticFiles(directory=docs_assets_dir()), name="docs-assets")
    openapi_url = app.openapi_url or "/openapi.json"
    title = app.title

    @app.get("/docs", include_in_schema=False, dependencies=list(dependencies))
    def swagger_ui() -> HTMLResponse:
        response = get_swagger_ui_html(
            openapi_url=openapi_url,
            title=f"{title} API",
            swagger_js_url=f"{DOCS_ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{DOCS_ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            # Swagger UI would otherwise ask an outside validator service about the spec.
            swagger_ui_parameters={"validatorUrl": None},
        )
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response

    @app.get("/redoc", include_in_schema=False, dependencies=list(dependencies))
    def redoc() -> HTMLResponse:
        response = get_redoc_html(
            openapi_url=openapi_url,
            title=f"{title} API",
            redoc_js_url=f"{DOCS_ASSETS_URL}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS_URL}/favicon.png",
            with_google_fonts=False,
        )
        response.headers["Content-Security-Policy"] = DOCS_CSP
        return response
