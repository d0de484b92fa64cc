"""Each layer imports only those below it: tabulator/ (the core) < api/store/ < api/documents/ < api/web/ and
the entry points (api/app.py, api/cli.py and the commands' jobs). Read from the source, so that a new import
that climbs fails here, whoever adds it."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# What each layer's modules may not import, by the first dotted parts of the imported name.
FORBIDDEN = {
    "tabulator": ("api", "flask", "flask_smorest", "sqlalchemy", "marshmallow", "alembic", "werkzeug"),
    "api/store": ("api.documents", "api.web", "api.app", "api.cli", "flask", "flask_smorest", "marshmallow"),
    "api/documents": ("api.web", "api.app", "api.cli", "flask", "flask_smorest", "marshmallow"),
    "api/web": ("api.app", "api.cli"),
}


def imported_names(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, anywhere in it (functions included), with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            # `from api import web` imports api.web: name what is imported from a package too.
            module = _absolute(path, node.level, node.module)
            found += [(node.lineno, f"{module}.{alias.name}") for alias in node.names]
    return found


def _absolute(path: Path, level: int, module: str | None) -> str:
    """The module a `from … import` names, relative ones (`from ..web import x`) made absolute."""
    if not level:
        return module or ""
    package = path.resolve().relative_to(ROOT).parent.parts
    base = package[: len(package) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def climbs(name: str, forbidden: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(f"{prefix}.") for prefix in forbidden)


@pytest.mark.parametrize("layer", list(FORBIDDEN))
def test_no_layer_imports_one_above_it(layer):
    files = sorted((ROOT / layer).rglob("*.py"))
    assert files, f"no Python files under {layer}"
    offences = [
        f"{path.relative_to(ROOT)}:{line} imports {name}"
        for path in files
        if "migrations" not in path.parts
        for line, name in imported_names(path)
        if climbs(name, FORBIDDEN[layer])
    ]
    assert offences == []


def test_the_check_sees_a_climbing_import(tmp_path):
    """The test above fails on the imports it is meant to catch, local ones included."""
    module = tmp_path / "climbing.py"
    module.write_text(
        "from api.store import db\n\ndef late():\n    from api.web import public\n    import flask\n"
    )
    names = [name for _, name in imported_names(module)]
    assert [name for name in names if climbs(name, FORBIDDEN["api/store"])] == ["api.web.public", "flask"]


def test_the_check_sees_a_relative_import_that_climbs():
    inside = ROOT / "api" / "store" / "example.py"  # never written: only its place is used
    assert (_absolute(inside, 2, "web"), _absolute(inside, 1, None)) == ("api.web", "api.store")
