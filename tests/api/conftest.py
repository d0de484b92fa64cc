"""The service as the API tests meet it: an app on the test's database, the sample election, a token of each
role.

`make_app(**settings)` builds the app on the test's database and folder with the other settings given (the
rest are Settings' defaults); `client` serves the sample election with no head cache, so that a read sees
the write just made; `tokens` holds a token of each role, for every election, named "<role> one".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import Engine

from api import create_app
from api.settings import Settings
from api.store import accounts


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def make_app(database_url: str, tmp_path: Path) -> Callable[..., Flask]:
    def make(**settings: Any) -> Flask:
        return create_app(Settings(database_url=database_url, instance_path=tmp_path, **settings))

    return make


@pytest.fixture
def client(sample_election: Engine, make_app: Callable[..., Flask]) -> FlaskClient:
    return make_app(head_cache_seconds=0).test_client()


@pytest.fixture
def tokens(sample_election: Engine) -> dict[str, str]:
    """role → token; created in the order of the roles, so the clerk's is token 1."""
    return {role: accounts.create_token(sample_election, f"{role} one", role)[1] for role in accounts.ROLES}


@pytest.fixture
def auth_headers(tokens: dict[str, str]) -> dict[str, dict[str, str]]:
    """role → the Authorization header of its token."""
    return {role: bearer(token) for role, token in tokens.items()}
