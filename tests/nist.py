"""NIST SP 1500-100 version 2, checked with NIST's own JSON schema: never an approximation of ours.

The schema is NIST's file as published (usnistgov/ElectionResultsReporting, see SOURCE.md beside it), read
from `../shared/schemas/` next to the checkout like the real data. Where it is absent the test that needs it
fails, saying where it looked: a standard's check must never turn green by being skipped.

`errors(report)` is every departure a draft-04 validator with its format checker finds, plus one check the
schema states but a validator does not run: a property NIST marks with `refTypes` holds the `@id` of an
object of one of those types in the same report (a `ComposingGpUnitIds` must name GpUnits that exist).

Two validators, neither ours: jsonschema-rs (in Rust) says whether a report is valid, in seconds for the
presidential round's 36,000 GpUnits, which the reference implementation, jsonschema, took three minutes to
walk; jsonschema then says why one is not, its errors naming the kind of GpUnit that failed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema_rs
import pytest
from jsonschema import Draft4Validator, ValidationError, validators

SCHEMA = (
    Path(__file__).resolve().parents[2] / "shared" / "schemas" / "NIST_V2_election_results_reporting.json"
)


@functools.cache
def schema() -> dict[str, Any]:
    if not SCHEMA.is_file():
        pytest.fail(
            f"NIST's v2 JSON schema is absent: {SCHEMA}. Put NIST's file there "
            "(usnistgov/ElectionResultsReporting, branch version2): nist.json is checked against it.",
            pytrace=False,
        )
    document: dict[str, Any] = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(document)
    return document


def format_checker() -> Any:
    checker = Draft4Validator.FORMAT_CHECKER
    # jsonschema checks `date-time` only when rfc3339-validator is installed; without it the format would
    # pass unchecked, and this test would no longer check what it says.
    if "date-time" not in checker.checkers:
        pytest.fail("jsonschema cannot check date-time here: install rfc3339-validator", pytrace=False)
    return checker


def errors(report: dict[str, Any]) -> list[str]:
    """Every way `report` departs from NIST's v2 schema, as `path: message`; empty when it is valid."""
    defined = _types_by_id(report)
    fast = jsonschema_rs.Draft4Validator(
        schema(), validate_formats=True, keywords={"refTypes": _references_in(defined)}
    )
    if fast.is_valid(report):
        return []
    found = _reference_errors(report, defined)
    # Should jsonschema find nothing where jsonschema-rs found something, those are the errors.
    return found or sorted(
        f"/{'/'.join(map(str, e.instance_path))}: {e.message}" for e in fast.iter_errors(report)
    )


def _references_in(defined: dict[str, str]) -> type:
    """The `refTypes` keyword, as jsonschema-rs runs a keyword of one's own: a class made of its value."""

    class References:
        def __init__(self, _parent: Any, allowed: list[str], _path: Any) -> None:
            self.allowed = allowed

        def validate(self, instance: Any) -> None:
            if problem := _reference_problem(defined, self.allowed, instance):
                raise ValueError(problem)

    return References


def _reference_problem(defined: dict[str, str], allowed: list[str], instance: Any) -> str | None:
    """What is wrong with a `refTypes` property's value: not the `@id` of an object of an allowed type."""
    if isinstance(instance, str) and defined.get(instance) not in allowed:
        return f"{instance!r} is not the @id of a {' or '.join(allowed)} in the report"
    return None


def _reference_errors(report: dict[str, Any], defined: dict[str, str]) -> list[str]:
    """What jsonschema, the reference implementation, finds wrong in a report."""

    def references(
        _validator: Any, allowed: list[str], instance: Any, _schema: Any
    ) -> Iterator[ValidationError]:
        if problem := _reference_problem(defined, allowed, instance):
            yield ValidationError(problem)

    checker = validators.extend(Draft4Validator, {"refTypes": references})
    found = checker(schema(), format_checker=format_checker()).iter_errors(report)
    return sorted(
        f"/{'/'.join(map(str, e.absolute_path))}: {e.message[:400]}"
        for error in found
        for e in _reasons(error)
    )


def _reasons(error: ValidationError) -> list[ValidationError]:
    """A `oneOf` error (a GpUnit, a Contest, a ContestSelection) says only that no kind of object fits; the
    errors under the kind the object's `@type` names say why."""
    if error.validator == "oneOf" and isinstance(error.instance, dict):
        own = f"#/definitions/{error.instance.get('@type')}"
        kinds = [i for i, kind in enumerate(error.validator_value) if kind.get("$ref") == own]
        why = [e for e in error.context or [] if kinds and e.relative_schema_path[0] == kinds[0]]
        if why:
            return [reason for e in why for reason in _reasons(e)]
    return [error]


def _types_by_id(node: Any) -> dict[str, str]:
    found: dict[str, str] = {}
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("@id"), str):
                found[item["@id"]] = str(item.get("@type"))
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found
