"""gunicorn's settings for tabulator, the same in the image, in `make run` and in the tests.

Threads serve the many small reads of pollers; a few processes use the cores. Writes are small and
queue on the database, so more processes do not make them faster (bench/writes.py).
Every value can be set from the environment without rebuilding the image.
"""

import os
import signal
import threading
import time

bind = os.environ.get("TABULATOR_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("TABULATOR_WORKERS", str(os.cpu_count() or 2)))
worker_class = "gthread"
# 16: a clerk's request waiting for its shared transaction (api.store.db.write_together) holds a
# thread; with 8, 32 clerks left pollers queueing (make loadtest: reads p50 362 ms with 8 threads,
# 24 ms with 16).
threads = int(os.environ.get("TABULATOR_THREADS", "16"))
# Each worker builds its own app and database pool after the fork: nothing shared across processes.
preload_app = False
timeout = 60  # a 70,000-bureau upload takes a few seconds; a request running longer ends its worker (below)
graceful_timeout = 30
keepalive = 5  # newsroom pollers keep their connections
# Whose X-Forwarded-Proto gunicorn believes (the request's scheme; gunicorn never rewrites the client's
# address). compose.yaml sets `*`: there the app is reachable through nginx alone. The client's address
# for the audit is werkzeug's ProxyFix, set by TABULATOR_TRUSTED_PROXIES (api/settings.py).
forwarded_allow_ips = os.environ.get("TABULATOR_FORWARDED_ALLOW_IPS", "127.0.0.1")
accesslog = os.environ.get("TABULATOR_ACCESS_LOG", "-") or None  # empty: no access log
errorlog = "-"
loglevel = os.environ.get("TABULATOR_LOG_LEVEL", "info")


# A request running past `timeout` ends its worker. gunicorn's own timeout cannot see it: the gthread worker's
# main loop tells the arbiter it is alive every second whatever its request threads do, so a request that
# burns CPU is never timed out; and a worker that is told to stop waits, as Python exits, for its pool's
# threads, so it burns on after logging "Worker exiting". Hence three hooks: each request's start is noted
# (pre_request, post_request); a watchdog thread in each worker sends the worker SIGABRT, as the arbiter
# would, when a request has run past `timeout`; and worker_abort ends the process at once with os._exit,
# without waiting for threads. The other requests in flight on that worker get a closed connection (a write
# among them rolls back: nothing half-done is kept) and the arbiter starts a new worker.
# This is the backstop. Reading an upload has its own deadline (TABULATOR_UPLOAD_SECONDS, 30 s), checked
# between stages, that answers the clerk with a sentence well before. A request holding the GIL in C code
# for long stops the watchdog and the main loop alike: the arbiter then sees no heartbeat for `timeout`
# seconds and sends SIGABRT, then SIGKILL.
WATCHDOG_SECONDS = 1.0


def pre_request(worker, req):
    worker.requests_started[threading.get_ident()] = (time.monotonic(), f"{req.method} {req.path}")


def post_request(worker, req, environ, resp):
    worker.requests_started.pop(threading.get_ident(), None)


def worker_abort(worker):
    worker.log.error("worker %s aborted: ended now, without waiting for its request threads", worker.pid)
    os._exit(1)


def _watch_requests(worker):
    limit = worker.cfg.timeout  # as set, here or by --timeout
    while True:
        time.sleep(WATCHDOG_SECONDS)
        now = time.monotonic()
        running = list(worker.requests_started.values())  # one C call: no thread changes it meanwhile
        overdue = [what for started, what in running if now - started > limit]
        if overdue:
            worker.log.error("%s ran past %s s: ending worker %s", ", ".join(overdue), limit, worker.pid)
            os.kill(worker.pid, signal.SIGABRT)
            return


def warm_and_set_aside(engine):
    """Build every election's registry now, each set aside from the garbage collector once built, as are
    those this worker builds later (api/collector.py)."""
    from api.collector import set_aside_what_is_built
    from api.store import warm_indexes
    from api.store.caches import engine_caches

    engine_caches(engine).build_guard = set_aside_what_is_built
    warm_indexes(engine)


def post_worker_init(worker):  # gunicorn's hook: the worker's app is built
    """Each worker builds the elections' registries (a second or two for a national one) beside its first
    requests rather than inside one. A database not there yet only means the first request builds them.
    And each worker watches its requests' time (above)."""
    from api.web.state import EXTENSION, AppState

    worker.requests_started = {}  # thread -> (when its request started, what it is)
    threading.Thread(target=_watch_requests, args=(worker,), name="request-watchdog", daemon=True).start()
    state = getattr(worker.wsgi, "extensions", {}).get(EXTENSION)
    if not isinstance(state, AppState):  # another app under this config: the benchmarks' bare Flask route
        return
    engine = state.engine

    def warm():
        try:
            warm_and_set_aside(engine)
        except Exception as exc:  # the service starts all the same
            worker.log.warning("registries not built ahead: %s", exc)

    threading.Thread(target=warm, name="warm-indexes", daemon=True).start()
    # The audit's hash chain is sealed beside the writes, never inside them (api.store.audit_chain).
    from api.store.audit_chain import keep_sealing

    seconds = float(os.environ.get("TABULATOR_AUDIT_SEAL_SECONDS", "2"))
    threading.Thread(
        target=keep_sealing, args=(engine, seconds, worker.log.warning), name="seal-audit", daemon=True
    ).start()
