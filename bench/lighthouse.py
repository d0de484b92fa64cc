"""Lighthouse (npm's `lighthouse`, mobile profile, in Debian's chromium) on the pages a citizen and a
developer open: the national results, a département, a bureau and the API docs, served by gunicorn as
`make run` serves them. Prints a table of the four category scores, FCP, LCP, TBT, CLS and the bytes
transferred, then each audit that scored under 0.9.

    make lighthouse            # installs lighthouse@12 under .cache/ (npm registry), serves the demo
    python -m bench.lighthouse --base http://127.0.0.1:8000   # a server already running

The goals (issue 19): every category ≥ 95 on the results pages, ≥ 90 on the docs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".cache" / "lighthouse"
CHROMIUM = "/usr/bin/chromium"
VERSION = "12"
ROUND = "/elections/primaire-gauche-2017/rounds/2/"
API = "/api/v1/elections/primaire-gauche-2017/rounds/2/results"
CATEGORIES = ("performance", "accessibility", "best-practices", "seo")
METRICS = (
    "first-contentful-paint",
    "largest-contentful-paint",
    "total-blocking-time",
    "cumulative-layout-shift",
)
GOALS = {"docs": 90}  # every other page: 95


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--base", help="a running server; by default gunicorn is started on the demo database"
    )
    arguments = parser.parse_args()
    binary = _lighthouse()
    if arguments.base:
        return _audit_all(binary, arguments.base)
    with Served() as base:
        return _audit_all(binary, base)


def _lighthouse() -> Path:
    binary = TOOLS / "node_modules" / ".bin" / "lighthouse"
    if not binary.exists():
        print(f"Installing lighthouse@{VERSION} under {TOOLS} …", flush=True)
        TOOLS.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--silent",
                "--no-audit",
                "--no-fund",
                "--prefix",
                TOOLS,
                f"lighthouse@{VERSION}",
            ],
            check=True,
        )
    return binary


class Served:
    """gunicorn with the shipped config on the database `make run` uses, on a port of its own."""

    def __enter__(self) -> str:
        self.port = 8765
        environment = {**os.environ, "TABULATOR_BIND": f"127.0.0.1:{self.port}", "TABULATOR_ACCESS_LOG": ""}
        gunicorn = Path(sys.executable).parent / "gunicorn"
        self.server = subprocess.Popen(
            [gunicorn, "--config", ROOT / "deploy" / "gunicorn.conf.py", "api:create_app()"],
            env=environment,
            cwd=ROOT,
        )
        base = f"http://127.0.0.1:{self.port}"
        for _ in range(100):
            try:
                urllib.request.urlopen(f"{base}/healthz", timeout=1).close()
                return base
            except OSError:
                time.sleep(0.1)
        raise SystemExit("gunicorn did not answer /healthz within 10 s")

    def __exit__(self, *_: object) -> None:
        self.server.terminate()
        self.server.wait()


def _pages(base: str) -> dict[str, str]:
    """The national page, the first département and its first bureau, the docs."""
    found = {"national": ROUND}
    level, code = None, None
    while level != "bureau":
        with urllib.request.urlopen(f"{base}{API}" + (f"/{level}/{code}" if level else "")) as answer:
            child = json.load(answer)["children"][0]
        level, code = child["level"], child["code"]
        if level in ("departement", "bureau"):
            found[level] = f"{ROUND}{level}/{code}"
    return {**found, "docs": "/api/v1/docs"}


def _audit_all(binary: Path, base: str) -> int:
    rows, weak, missed = [], [], []
    pages = _pages(base)
    for index, (name, path) in enumerate(pages.items(), 1):
        print(f"[{index}/{len(pages)}] lighthouse {path} …", file=sys.stderr, flush=True)
        report = _audit(binary, f"{base}{path}")
        scores = [round(report["categories"][key]["score"] * 100) for key in CATEGORIES]
        metrics = [report["audits"][key]["displayValue"] for key in METRICS]
        transfer = report["audits"]["total-byte-weight"]["numericValue"] / 1024
        rows.append([name, *map(str, scores), *metrics, f"{transfer:.1f} KiB"])
        missed += [name] if min(scores) < GOALS.get(name, 95) else []
        weak += [
            f"  {name}: {key} {audit['score']} {audit.get('displayValue', '')}".rstrip()
            for key, audit in report["audits"].items()
            if audit.get("score") is not None
            and audit["score"] < 0.9
            and audit["scoreDisplayMode"] != "informative"
        ]
    _print_table(["page", "perf", "a11y", "best pr.", "SEO", "FCP", "LCP", "TBT", "CLS", "transfer"], rows)
    print("Audits under 0.9:", *(weak or ["  none"]), sep="\n")
    print(f"Goals (≥ 95, docs ≥ 90): {'missed by ' + ', '.join(missed) if missed else 'met on every page'}.")
    return 1 if missed else 0


def _audit(binary: Path, url: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        output = Path(folder) / "report.json"
        subprocess.run(
            [
                binary,
                url,
                "--quiet",
                "--form-factor=mobile",
                "--chrome-flags=--headless=new --no-sandbox",
                "--output=json",
                f"--output-path={output}",
            ],
            env={**os.environ, "CHROME_PATH": CHROMIUM},
            check=True,
        )
        return json.loads(output.read_text())  # type: ignore[no-any-return]


def _print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
