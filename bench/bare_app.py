"""The baseline of the API benchmark: a bare Flask route returning the same bytes from memory."""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response


def create_app() -> Flask:
    body = Path(os.environ["BENCH_BODY_FILE"]).read_bytes()
    app = Flask(__name__)

    @app.get("/bare")
    def bare() -> Response:
        return Response(body, content_type="application/json; charset=utf-8")

    return app
