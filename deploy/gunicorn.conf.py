"""gunicorn's settings for tabulator, the same in the image, in `make run` and in the tests.

Threads serve the many small reads of pollers; a few processes use the cores. Writes are small and
queue on the database, so more processes do not make them faster (bench/writes.py).
Every value can be set from the environment without rebuilding the image.
"""

import os

bind = os.environ.get("TABULATOR_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("TABULATOR_WORKERS", str(os.cpu_count() or 2)))
worker_class = "gthread"
# 16: a clerk's request waiting for its shared transaction (api.db.write_together) holds a thread; with 8,
# 32 clerks left pollers queueing (make loadtest: reads p50 362 ms with 8 threads, 24 ms with 16).
threads = int(os.environ.get("TABULATOR_THREADS", "16"))
# Each worker builds its own app and database pool after the fork: nothing shared across processes.
preload_app = False
timeout = 60  # a 70,000-bureau upload takes a few seconds; a stuck worker is replaced after this
graceful_timeout = 30
keepalive = 5  # newsroom pollers keep their connections
# Whose X-Forwarded-Proto gunicorn believes (the request's scheme; gunicorn never rewrites the client's
# address). Behind the shipped nginx, compose.yaml names nginx's network. The client's address for the
# audit is werkzeug's ProxyFix, set by TABULATOR_TRUSTED_PROXIES (api/settings.py).
forwarded_allow_ips = os.environ.get("TABULATOR_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("TABULATOR_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("TABULATOR_LOG_LEVEL", "info")


def post_worker_init(worker):  # gunicorn's hook: the worker's app is built
    """Each worker builds the elections' registries (a second or two for a national one) beside its first
    requests rather than inside one. A database not there yet only means the first request builds them."""
    import threading

    from api.store import warm_indexes

    def warm():
        try:
            warm_indexes(worker.wsgi.extensions["tabulator"]["engine"])
        except Exception as exc:  # the service starts all the same
            worker.log.warning("registries not built ahead: %s", exc)

    threading.Thread(target=warm, name="warm-indexes", daemon=True).start()
    # The audit's hash chain is sealed beside the writes, never inside them (api.store.audit_chain).
    from api.store.audit_chain import keep_sealing

    engine = worker.wsgi.extensions["tabulator"]["engine"]
    seconds = float(os.environ.get("TABULATOR_AUDIT_SEAL_SECONDS", "2"))
    threading.Thread(
        target=keep_sealing, args=(engine, seconds, worker.log.warning), name="seal-audit", daemon=True
    ).start()
