"""The HTTP application serves the store's documents, and errors in one envelope."""

from __future__ import annotations

import pytest

from api import documents, store
from tabulator.batch import ReturnBatch
from tests.builders import SAMPLE, build_return


@pytest.mark.usefixtures("sample_election")
def test_results_are_served_as_the_store_computes_them(engine, make_app):
    batch = ReturnBatch.of([build_return("13-01-0002", votes={"hamon": 30, "valls": 20})], ("hamon", "valls"))
    store.record_returns(engine, SAMPLE.id, 2, batch, author="clerk")
    client = make_app(head_cache_seconds=0).test_client()

    response = client.get("/api/v1/elections/mini-primaire/rounds/2/results/departement/13")
    assert response.status_code == 200
    assert response.get_json() == documents.results_document(engine, SAMPLE.id, 2, "departement", "13")
    assert client.get("/healthz").get_json() == {"status": "ok"}
    timeline = client.get("/api/v1/elections/mini-primaire/rounds/2/timeline").get_json()["timeline"]
    assert timeline[0]["candidates"] == [
        {"id": "hamon", "votes": 30, "pct_valid": 60.0},
        {"id": "valls", "votes": 20, "pct_valid": 40.0},
    ]

    missing = client.get("/api/v1/elections/mini-primaire/rounds/2/results/departement/99")
    assert (missing.status_code, missing.get_json()) == (
        404,
        {
            "errors": [
                {"code": "not_found", "message": "There is no departement '99' in election mini-primaire."}
            ]
        },
    )
    assert client.get("/nowhere").get_json() == {
        "errors": [
            {
                "code": "not_found",
                "message": "The requested URL was not found on the server. If you entered the URL manually "
                "please check your spelling and try again.",
            }
        ]
    }
