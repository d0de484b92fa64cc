# tabulator: the service on gunicorn, non-root, configured by the environment (README: "Docker").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    TABULATOR_INSTANCE_PATH=/var/lib/tabulator \
    TABULATOR_DATABASE_URL=sqlite:////var/lib/tabulator/tabulator.sqlite3

RUN useradd --system --uid 10001 --home-dir /var/lib/tabulator --create-home tabulator

WORKDIR /srv/tabulator
COPY pyproject.toml README.md ./
COPY tabulator ./tabulator
COPY api ./api
RUN pip install . && rm -rf build
COPY deploy ./deploy
COPY data ./data

USER tabulator
EXPOSE 8000
# /healthz runs a query: a container whose database is gone is unhealthy, not merely alive.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2)"]
CMD ["deploy/start"]
