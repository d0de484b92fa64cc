"""API benchmark: gunicorn serving the 69,242-bureau presidential round, with its baselines in the same run.

- Our API (gunicorn, 2 workers × 8 threads, SQLite) for the national results, a département, a bureau and a
  304, against a bare Flask route returning the same bytes from memory under the same gunicorn settings.
- The static publication served by nginx, against nginx serving a plain copy of the same file.
- The commune feed (`…/results/commune`, 35,719 rows, the map's one request), gzipped by the API and as a
  static file, with its size, the time to render it cold, and its freshness.
- Freshness: while wrk loads the national results, returns are corrected one by one; for each, the time
  from its commit to the first 200 carrying the new sequence (the same for the commune feed).

wrk (Debian's) at 64 connections, 2 threads; each measurement is run twice, interleaved, and the median of
the runs is reported. Run: `make bench` (or `python -m bench.api`). Needs ../shared/data, wrk and nginx
(Debian: `apt-get install wrk nginx-light`).
"""

from __future__ import annotations

import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

from api import reference, static_publication, store
from api.store import db
from bench import summary
from tabulator.ministry import read_ministry

FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "fr-pres2017" / "PR17_BVot_T2_FE.txt.gz"
ROUND = "/api/v1/elections/presidentielle-2017/rounds/2"
SECONDS = 6
RUNS = 3
CONNECTIONS = 64
GUNICORN = Path(sys.executable).with_name("gunicorn")
API_PORT = 18_731


def main() -> None:
    for tool in ("wrk", "nginx"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            sys.exit(f"bench-api: {tool} is missing (apt-get install wrk nginx-light).")
    if not FILE.exists():
        sys.exit(f"bench-api: {FILE} is absent; this benchmark needs ../shared/data.")
    # The static publication in memory, as compose.yaml keeps it (docs/operations.md).
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryDirectory(dir="/dev/shm") as static:
        run(Path(folder), Path(static))


def run(folder: Path, static: Path) -> None:
    url = f"sqlite:///{folder}/bench.sqlite3"
    step("loading 69,242 bureaux")
    engine, ministry = load(url)
    step("publishing the static files (36,600 areas, 69,242 bureaux)")
    started = time.perf_counter()
    static_publication.publish(engine, "presidentielle-2017", 2, static)
    publish_seconds = time.perf_counter() - started
    national = (static / ROUND.lstrip("/") / "results" / "index.json").read_bytes()
    (folder / "plain").mkdir()
    (folder / "plain" / "results.json").write_bytes(national)
    (folder / "body.json").write_bytes(national)
    ports = {"api": API_PORT, "bare": 18_732, "nginx": 18_733}
    servers = [
        gunicorn("api:create_app()", ports["api"], {"TABULATOR_DATABASE_URL": url}, folder),
        gunicorn(
            "bench.bare_app:create_app()",
            ports["bare"],
            {"BENCH_BODY_FILE": str(folder / "body.json")},
            folder,
        ),
        nginx(folder, ports["nginx"], static),
    ]
    try:
        for port in ports.values():
            wait_for(f"http://127.0.0.1:{port}/")
        bureau = ministry.batch.bureaux[0]
        etag = fetch(f"http://127.0.0.1:{ports['api']}{ROUND}/results")[1]["ETag"]
        feed = commune_feed(f"http://127.0.0.1:{ports['api']}{ROUND}/results/commune")
        areas, bureaux = ministry.registry()  # type: ignore[attr-defined]
        communes = [area.code for area in areas if area.level == "commune"]
        bureau_codes = [b.code for b in bureaux]
        gzip = {"Accept-Encoding": "gzip"}
        targets = {
            "API national results": (f"http://127.0.0.1:{ports['api']}{ROUND}/results", {}),
            "bare Flask, same bytes": (f"http://127.0.0.1:{ports['bare']}/bare", {}),
            "API département 75": (f"http://127.0.0.1:{ports['api']}{ROUND}/results/departement/75", {}),
            f"API bureau {bureau}": (f"http://127.0.0.1:{ports['api']}{ROUND}/results/bureau/{bureau}", {}),
            "API national, 304": (f"http://127.0.0.1:{ports['api']}{ROUND}/results", {"If-None-Match": etag}),
            "nginx, static publication": (f"http://127.0.0.1:{ports['nginx']}{ROUND}/results", {}),
            "nginx, plain file": (f"http://127.0.0.1:{ports['nginx']}/plain/results.json", {}),
            "API random bureau, cold": (cold_paths(folder, "bureau", bureau_codes), {}),
            "API random commune, cold": (cold_paths(folder, "commune", communes), {}),
            "nginx random bureau, static": (cold_paths(folder, "bureau", bureau_codes, ports["nginx"]), {}),
            "API commune feed, gzip": (f"http://127.0.0.1:{ports['api']}{ROUND}/results/commune", gzip),
            "nginx, commune feed, gzip": (f"http://127.0.0.1:{ports['nginx']}{ROUND}/results/commune", gzip),
        }
        for target, headers in targets.values():  # warm every cache once, in both workers
            if target.startswith("http"):
                fetch(target, **headers)
                fetch(target, **headers)
        results: dict[str, list[tuple[float, float, float]]] = {name: [] for name in targets}
        cpu: dict[str, list[float]] = {name: [] for name in targets if name.startswith("API ")}
        for run_number in range(RUNS):
            for name, (target, headers) in targets.items():
                step(f"wrk {name} ({run_number + 1}/{RUNS})")
                before = workers_cpu(servers[0].pid)
                results[name].append(wrk(target, headers))
                if name in cpu:  # the app's CPU per request: what a cold document costs the server
                    requests = results[name][-1][0] * SECONDS
                    cpu[name].append((workers_cpu(servers[0].pid) - before) / requests)
        step("freshness under load")
        freshness = measure_freshness(engine, ministry, f"http://127.0.0.1:{ports['api']}{ROUND}/results")
        step("freshness of the commune feed under load")
        feed["freshness"] = measure_freshness(
            engine, ministry, f"http://127.0.0.1:{ports['api']}{ROUND}/results/commune", samples=5
        )
    finally:
        for server in servers:
            server.terminate()
            server.wait(timeout=10)
    report(results, freshness, publish_seconds, len(national), cpu)
    report_feed(feed)


def step(text: str) -> None:
    print(f"… {text}", file=sys.stderr, flush=True)


def load(url: str) -> tuple[object, object]:
    db.upgrade(url)
    engine = db.make_engine(url)
    ministry = read_ministry(FILE.read_bytes(), reference.departements())
    store.ensure_ministry_election(engine, "presidentielle-2017", 2, ministry, name="Présidentielle 2017")
    store.record_returns(engine, "presidentielle-2017", 2, ministry.batch, author="bench")
    return engine, ministry


def gunicorn(
    app: str,
    port: int,
    environment: dict[str, str],
    folder: Path,
    *,
    workers: int = 2,
    threads: int = 8,
) -> subprocess.Popen[bytes]:
    log = (folder / f"gunicorn-{port}.log").open("wb")
    return subprocess.Popen(
        [
            str(GUNICORN),
            "--config",
            str(Path(__file__).resolve().parents[1] / "deploy" / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--log-level",
            "warning",
            app,
        ],
        # No access log: gunicorn formats every line even for /dev/null (7 % of a worker under pollers);
        # in production nginx in front keeps the access log (docs/operations.md).
        env={**os.environ, "TABULATOR_ACCESS_LOG": "", **environment},
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def nginx(folder: Path, port: int, static: Path | None = None) -> subprocess.Popen[bytes]:
    """nginx serving the static publication in `static` (default: `folder`/static) as deploy/nginx.conf
    does (its map from an API path to its file, gzip_static), and plain files under /plain/."""
    static = static or folder / "static"
    (folder / "nginx").mkdir()
    folder.chmod(0o755)  # nginx's worker reads the files
    config = folder / "nginx" / "nginx.conf"
    config.write_text(
        f"""worker_processes 1;
daemon off;
user {os.environ.get("USER", "root")};
pid {folder}/nginx/nginx.pid;
error_log {folder}/nginx/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    default_type application/json;
    gzip_static on;
    # For both locations alike; below the worker's limit of open files (ulimit -n: 20,000 here), or a
    # crawl of 69,242 bureaux' files fails with EMFILE.
    open_file_cache max=10000 inactive=60s;
    open_file_cache_valid 1s;                 # a new sequence's symlink is seen within a second
    client_body_temp_path {folder}/nginx; proxy_temp_path {folder}/nginx; fastcgi_temp_path {folder}/nginx;
    uwsgi_temp_path {folder}/nginx; scgi_temp_path {folder}/nginx;
{shipped_map()}
    server {{
        listen 127.0.0.1:{port};
        location / {{ return 200 "ok"; }}
        location /api/ {{ root {static}; try_files $published_file $published_file/index.json =404; }}
        location /plain/ {{ root {folder}; }}
    }}
}}
"""
    )
    return subprocess.Popen(["/usr/sbin/nginx", "-c", str(config), "-p", str(folder / "nginx")])


def shipped_map() -> str:
    """deploy/nginx.conf's map from an API path to its file in the static publication, as it is written."""
    text = (Path(__file__).resolve().parents[1] / "deploy" / "nginx.conf").read_text()
    start = text.index("    map $uri $published_file {")
    return text[start : text.index("\n    }\n", start) + 6]


def wait_for(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            fetch(url)
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench-api: {url} did not answer")


def fetch(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


LATENCY = re.compile(r"^\s+(50|99)%\s+([\d.]+)(us|ms|s)\s*$", re.MULTILINE)


def commune_feed(url: str) -> dict[str, Any]:
    """The commune feed's size, plain and gzipped, and how long its first request takes (rendered cold)."""
    started = time.perf_counter()
    status, _, plain = fetch(url, **{"Accept-Encoding": "identity"})
    cold = time.perf_counter() - started
    zipped = fetch(url, **{"Accept-Encoding": "gzip"})[2]
    if status != 200:
        raise SystemExit(f"bench-api: {url} answered {status}")
    return {"rows": plain.count(b'"parents"'), "plain": len(plain), "gzip": len(zipped), "cold": cold}


def cold_paths(folder: Path, level: str, codes: list[str], port: int = API_PORT) -> str:
    """A wrk script asking for the results of a random bureau or commune on every request: with 69,242
    bureaux (35,719 communes) and a few thousand requests a run, nearly every one is a cache miss, as a
    crawler's or the public's drilling down are. Returned as `script:<path>@<port>` for `wrk`."""
    listed = folder / f"{level}-paths.txt"
    listed.write_text("".join(f"{ROUND}/results/{level}/{code}\n" for code in codes))
    script = folder / f"{level}-paths.lua"
    script.write_text(
        f'local paths = {{}}\nfor line in io.lines("{listed}") do paths[#paths + 1] = line end\n'
        "math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))\n"
        'request = function() return wrk.format("GET", paths[math.random(#paths)]) end\n'
    )
    return f"script:{script}@{port}"


def workers_cpu(master: int) -> float:
    """The CPU seconds (user and system) used so far by a gunicorn master's workers."""
    children = " ".join(Path(task, "children").read_text() for task in Path(f"/proc/{master}/task").iterdir())
    ticks = 0
    for child in children.split():
        fields = Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])  # utime and stime: fields 14 and 15 of proc(5)
    return ticks / os.sysconf("SC_CLK_TCK")


def wrk(url: str, headers: dict[str, str]) -> tuple[float, float, float]:
    """Requests per second, p50 and p99 latency in milliseconds. `script:<lua>` asks the API for the
    paths the script picks."""
    if url.startswith("script:"):
        script, port = url.removeprefix("script:").rsplit("@", 1)
        command = ["wrk", "-s", script, "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s"]
        command += ["--latency", f"http://127.0.0.1:{port}"]
    else:
        command = ["wrk", "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency", url]
    for name, value in headers.items():
        command[1:1] = ["-H", f"{name}: {value}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rate = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))  # type: ignore[union-attr]
    if "Non-2xx or 3xx responses" in output:
        raise SystemExit(f"bench-api: errors from {url}:\n{output}")
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0}
    latency = {pct: float(value) * scale[unit] for pct, value, unit in LATENCY.findall(output)}
    return rate, latency["50"], latency["99"]


def measure_freshness(engine: object, ministry: object, url: str, samples: int = 20) -> list[float]:
    """While wrk loads the national results, correct one return at a time and time its first appearance."""
    load = subprocess.Popen(["wrk", "-t2", f"-c{CONNECTIONS}", "-d60s", url], stdout=subprocess.DEVNULL)
    delays = []
    rows = np.random.default_rng(7).choice(len(ministry.batch), samples, replace=False)  # type: ignore[attr-defined]
    try:
        time.sleep(1)
        for row in rows.tolist():
            batch = ministry.batch.select([row])  # type: ignore[attr-defined]
            batch.counts[0, 1:3] += 1  # one more blank and one more null ballot
            batch.counts[0, 0] += 2
            etag = fetch(url)[1]["ETag"]
            store.record_returns(
                engine, "presidentielle-2017", 2, batch, author="bench", reason="freshness probe"
            )  # type: ignore[arg-type]
            committed = time.monotonic()
            while fetch(url, **{"If-None-Match": etag})[0] == 304:
                time.sleep(0.005)
            delays.append(time.monotonic() - committed)
            time.sleep(0.2)
    finally:
        load.terminate()
        load.wait()
    return delays


def paired_ratio(
    measured: list[tuple[float, float, float]], baseline: list[tuple[float, float, float]]
) -> float:
    return statistics.median(m[0] / b[0] for m, b in zip(measured, baseline, strict=True))


def report(
    results: dict[str, list[tuple[float, float, float]]],
    freshness: list[float],
    publish: float,
    size: int,
    cpu: dict[str, list[float]],
) -> None:
    print(f"\nFile: PR17_BVot_T2_FE (69,242 bureaux); national results document: {size:,} bytes.")
    print(
        f"wrk -t2 -c{CONNECTIONS} -d{SECONDS}s, {RUNS} interleaved runs (median); "
        "gunicorn 2 workers × 8 threads.\n"
    )
    print(f"{'resource':<34}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'app CPU ms/req':>16}")
    medians = {}
    for name, runs in results.items():
        rate, p50, p99 = (statistics.median(values) for values in zip(*runs, strict=True))
        medians[name] = rate
        shown = f"{1000 * statistics.median(cpu[name]):>16.2f}" if name in cpu else ""
        print(f"{name:<34}{rate:>10,.0f}{p50:>10.2f}{p99:>10.2f}{shown}")
    # Each run measures a resource and its baseline one after the other: the ratio is taken within a run,
    # so a neighbour's load that comes and goes weighs on both sides alike.
    api_share = paired_ratio(results["API national results"], results["bare Flask, same bytes"])
    static_share = paired_ratio(results["nginx, static publication"], results["nginx, plain file"])
    print(
        f"\nAPI national results / bare Flask route: {100 * api_share:.0f} % (target ≥ 80 %; median of runs)"
    )
    print(
        f"static publication / nginx plain file:  {100 * static_share:.0f} % (target ≥ 90 %; median of runs)"
    )
    for name in ("API random bureau, cold", "API random commune, cold", "nginx random bureau, static"):
        share, shown = (
            paired_ratio(results[name], results["bare Flask, same bytes"]),
            name.removeprefix("API "),
        )
        print(f"{shown} / bare Flask route: {100 * share:.0f} % (target ≥ 25 % and ≥ 1,000 req/s)")
        if name in cpu:
            spent = 1000 * statistics.median(cpu[name])
            summary.record(
                "api", f"{shown}: app CPU per request", (f"{spent:.2f} ms", "", "", "≤ 2 ms"), met=spent <= 2
            )
        summary.record(
            "api",
            f"{shown} (wrk, req/s)",
            (
                f"{medians[name]:,.0f}/s",
                f"{medians['bare Flask, same bytes']:,.0f}/s bare",
                f"{100 * share:.0f} %",
                "≥ 1,000/s and ≥ 25 %",
            ),
            met=medians[name] >= 1_000 and share >= 0.25,
        )
    for goal, share, baseline, target in (
        ("API national results (req/s)", api_share, "bare Flask", 0.8),
        ("static publication via nginx (req/s)", static_share, "nginx plain", 0.9),
    ):
        summary.record(
            "api",
            goal,
            ("", baseline, f"{100 * share:.0f} %", f"≥ {100 * target:.0f} %"),
            met=share >= target,
        )
    p99 = float(np.percentile(freshness, 99))
    print(
        f"freshness under load ({len(freshness)} corrections): "
        f"p50 {1000 * statistics.median(freshness):.0f} ms, "
        f"p99 {1000 * p99:.0f} ms (target p99 ≤ 1000 ms)"
    )
    print(f"static publication of the whole round (36,600 areas and their level feeds): {publish:.1f} s")
    summary.record(
        "api",
        "freshness under load, p99 (commit → 200)",
        (f"{1000 * p99:.0f} ms", "", "", "≤ 1,000 ms"),
        met=p99 <= 1.0,
    )


def report_feed(feed: dict[str, Any]) -> None:
    freshness = feed["freshness"]
    print(
        f"\ncommune feed: {feed['rows']:,} rows, {feed['plain']:,} bytes plain, {feed['gzip']:,} gzipped; "
        f"first request (rendered cold) {1000 * feed['cold']:.0f} ms"
    )
    print(
        f"commune feed freshness under load ({len(freshness)} corrections): "
        f"p50 {1000 * statistics.median(freshness):.0f} ms, max {1000 * max(freshness):.0f} ms"
    )
    summary.record(
        "api",
        "commune feed freshness under load, p50",
        (f"{1000 * statistics.median(freshness):.0f} ms", f"{1000 * feed['cold']:.0f} ms cold", "", ""),
        met=None,
    )


if __name__ == "__main__":
    main()
