"""schemathesis against the app's own OpenAPI document: every operation, with the token of an admin, of a
clerk and of a supervisor scoped to one election; no 5xx, and every answer as documented.
TABULATOR_FUZZ_EXAMPLES sets the budget (`make fuzz`)."""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from api.store import accounts
from tests.api.conftest import bearer

EXAMPLES = int(os.environ.get("TABULATOR_FUZZ_EXAMPLES", "15"))


TOKENS = {
    "admin": ("admin", None),
    "clerk": ("clerk", "mini-primaire"),
    "scoped supervisor": ("supervisor", "mini-primaire"),
}


@pytest.mark.parametrize("holder", list(TOKENS))
@pytest.mark.usefixtures("sample_election")
def test_every_operation_answers_as_documented(engine, make_app, holder):
    # A write limit the fuzzer never reaches: it is one address, and its refusals are the point.
    app = make_app(head_cache_seconds=0, failed_write_limit="1000000 per minute")
    role, election = TOKENS[holder]
    headers = bearer(accounts.create_token(engine, f"fuzz {holder}", role, election)[1])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 20

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def answers_as_documented(case):
            case.call_and_validate(headers=headers)

        answers_as_documented()
