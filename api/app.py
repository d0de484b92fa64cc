"""The Flask application: read-only results for now (the newsroom API grows here, issue 4)."""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, jsonify
from werkzeug.exceptions import HTTPException

from api import db, store
from api.settings import Settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or Settings.from_env()
    app = Flask(__name__)
    app.json.sort_keys = False  # type: ignore[attr-defined]  # payloads keep the order of their schema
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    engine = db.make_engine(settings.database_url)
    app.extensions["tabulator"] = {"settings": settings, "engine": engine}
    _register_errors(app)

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        with engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
        return {"status": "ok"}

    @app.get("/api/v1/elections/<election>/rounds/<int:number>/results")
    @app.get("/api/v1/elections/<election>/rounds/<int:number>/results/<level>/<code>")
    def results(election: str, number: int, level: str | None = None, code: str | None = None) -> Any:
        return store.results_document(engine, election, number, level, code)

    @app.get("/api/v1/elections/<election>/rounds/<int:number>/turnout")
    def turnout(election: str, number: int) -> Any:
        return store.turnout_document(engine, election, number)

    @app.get("/api/v1/elections/<election>/rounds/<int:number>/timeline")
    def timeline(election: str, number: int) -> Any:
        return store.timeline_document(engine, election, number)

    return app


def _register_errors(app: Flask) -> None:
    """One error envelope for the whole API (DESIGN: API conventions)."""

    def envelope(status: int, code: str, message: str) -> tuple[Response, int]:
        return jsonify({"errors": [{"code": code, "message": message}]}), status

    @app.errorhandler(store.NotFound)
    def not_found(exc: store.NotFound) -> tuple[Response, int]:
        return envelope(404, "not_found", str(exc))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> tuple[Response, int]:
        return envelope(
            exc.code or 500, (exc.name or "error").lower().replace(" ", "_"), exc.description or ""
        )
