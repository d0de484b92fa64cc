"""The project as the image installs it: a wheel (`pip install .`, not editable), run from a folder that
knows nothing of the checkout. Reference data must come with the package, not from `data/` beside it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
EXTRACT = ROOT / "tests" / "fixtures" / "PR17_BVot_T2_extract.txt"


def call(*command: object, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    done = subprocess.run(
        [str(part) for part in command], cwd=cwd, env=env, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, f"{command}: exit {done.returncode}\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_an_installed_wheel_imports_a_ministry_file_from_anywhere(tmp_path: Path):
    # What the Dockerfile copies, and nothing else.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source)
    for package in ("tabulator", "api"):
        shutil.copytree(ROOT / package, source / package, ignore=shutil.ignore_patterns("__pycache__"))
    # Built and installed offline: the build backend is the main virtualenv's setuptools.
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "--no-input", "--quiet")
    call(*pip, "wheel", "--no-deps", "--no-build-isolation", "--no-index", "--wheel-dir", tmp_path, source)
    (wheel,) = tmp_path.glob("tabulator-*.whl")
    venv = tmp_path / "venv"
    call(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    call(*pip, "--python", python, "install", "--no-deps", "--no-index", wheel)
    # Its dependencies from the main virtualenv, after its own packages: a path in a .pth file (the
    # .pth files found there, the editable install's among them, are not run).
    site_packages = Path(call(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))").strip())
    (site_packages / "dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    shutil.copy(EXTRACT, elsewhere)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(tmp_path),
        "LANG": "C.UTF-8",
        "TABULATOR_DATABASE_URL": f"sqlite:///{elsewhere / 'tabulator.sqlite3'}",
        "TABULATOR_INSTANCE_PATH": str(elsewhere),
    }
    tabulator = venv / "bin" / "tabulator"

    where = call(
        python, "-c", "import api, tabulator; print(api.__file__, tabulator.__file__)", cwd=elsewhere
    )
    call(tabulator, "db", "upgrade", cwd=elsewhere, env=env)
    imported = call(
        tabulator,
        *("import-ministry", EXTRACT.name, "--election", "presidentielle-2017", "--round", "2"),
        *("--date", "2017-05-07", "--type", "presidential", "--name", "Présidentielle 2017"),
        cwd=elsewhere,
        env=env,
    )
    results = json.loads(
        call(
            tabulator,
            *("results", "--election", "presidentielle-2017", "--round", "2", "--json"),
            cwd=elsewhere,
            env=env,
        )
    )

    assert [Path(path).is_relative_to(site_packages) for path in where.split()] == [True, True]
    # 1 flagged: the consular bureau with no votants. Its 30 blank shares above 3 % are those of their
    # peers, which a round-2 night shows everywhere (issue 18).
    assert imported.splitlines()[:2] == [
        "Created presidentielle-2017 round 2: 31 bureaux, 2 candidates.",
        f"{EXTRACT.name}: 31 created, 0 corrected, 0 unchanged, 1 flagged; now at sequence 1.",
    ]
    figures = results["results"]
    assert (
        figures["bureaux_reported"],
        figures["voters"],
        [(c["id"], c["votes"]) for c in figures["candidates"]],
    ) == (31, 21_875, [("macron", 15_084), ("le-pen", 4_745)])
    # The installed app serves the files that come with it: icon, robots.txt, script, the docs' stylesheet
    # and templates, and a results page (its stylesheet inline).
    served = call(
        python,
        "-c",
        "import api; client = api.create_app().test_client(); "
        "print([client.get(path).status_code for path in "
        "('/favicon.ico', '/robots.txt', '/static/page/page.js', '/static/page/page.css', '/api/v1/docs', "
        "'/elections/presidentielle-2017/rounds/2/')])",
        cwd=elsewhere,
        env=env,
    )
    assert served.strip() == "[200, 200, 200, 200, 200, 200]"
