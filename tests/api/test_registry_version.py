"""An election's registry version: bumped by every change to its areas or bureaux, the key under which every
process keeps the registry it built."""

from __future__ import annotations

from sqlalchemy import Engine, select, update

from api import documents, store
from api.store.db import reading, writing
from api.store.elections import registry_changed
from api.store.models import BureauRow, ElectionRow
from tests.builders import SAMPLE


def registry_as_read(engine: Engine) -> tuple[int, dict[str, str | None], int]:
    """The version a request reads with its round, the merges of the registry it then gets, and the
    national bureaux total the results count from it."""
    with reading(engine) as connection:
        round_ = store.round_info(connection, SAMPLE.id, 2)
        index = store.election_index(connection, round_.election_id, round_.registry_version)
    total = documents.results_document(engine, SAMPLE.id, 2)["bureaux_total"]
    return round_.registry_version, {b.code: b.merged_into for b in index.registry.bureaux}, total


def test_a_new_election_has_the_version_its_registry_was_written_with(sample_election):
    version, merges, total = registry_as_read(sample_election)
    assert (version, merges["75-01-0003"], total) == (1, "75-01-0002", 6)


def test_a_change_to_the_registry_bumps_its_version_and_the_next_read_sees_it(sample_election):
    version, merges, total = registry_as_read(sample_election)  # built, and kept under version 1
    with writing(sample_election) as connection:  # 13-01-0003 merged into its neighbour
        election_id = connection.scalar(select(ElectionRow.id).where(ElectionRow.code == SAMPLE.id))
        bureau = select(BureauRow.id).where(BureauRow.election_id == election_id)
        into = connection.scalar(bureau.where(BureauRow.code == "13-01-0002"))
        connection.execute(
            update(BureauRow)
            .where(BureauRow.election_id == election_id, BureauRow.code == "13-01-0003")
            .values(merged_into_id=into)
        )
        registry_changed(connection, election_id)
    assert registry_as_read(sample_election) == (
        version + 1,
        {**merges, "13-01-0003": "13-01-0002"},
        total - 1,
    )
