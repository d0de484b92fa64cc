"""The database schema: SQLAlchemy 2 typed models, the only description of the tables.

Returns and checkpoints are append-only versions, and a bureau's figures come from its latest version;
`area_results` hold the running sums per area, maintained in the same transaction as every return;
`publications` keep one row per sequence so the evening can be replayed. Votes are packed beside the
counts they go with (`tabulator.batch.pack_votes`): a row per candidate was most of a national ingest.
Times are stored in UTC.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from api.store.sql import utc_time
from tabulator.types import ELECTION_TYPES

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on SQLite (no time zones) as on PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: tabulator stores only times with their offset")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return utc_time(value)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(timezone=True), dict[str, Any]: JSON, list[Any]: JSON}  # noqa: RUF012


class ElectionRow(Base):
    __tablename__ = "elections"
    __table_args__ = (
        CheckConstraint(f"type IN ({', '.join(repr(t) for t in ELECTION_TYPES)})", name="known_type"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    # presidential, legislative, primary...: what the election is for (NIST's Election.Type is read from it).
    type: Mapped[str] = mapped_column(String(20), default="primary", server_default="primary")
    organiser: Mapped[str] = mapped_column(String(200), default="")
    levels: Mapped[list[Any]]  # the main cut, top first: the one breadcrumbs follow
    # The other cuts, [{"name": …, "levels": [top first]}] (`tabulator.types.Cut`): the circonscriptions.
    cuts: Mapped[list[Any]] = mapped_column(default=list, server_default=text("'[]'"))
    note: Mapped[str] = mapped_column(Text, default="")
    # Bumped whenever areas or bureaux change (`api.store.elections.registry_changed`, in the same
    # transaction): the key of every process's cached registry.
    registry_version: Mapped[int] = mapped_column(default=0)


class RoundRow(Base):
    __tablename__ = "rounds"
    __table_args__ = (
        UniqueConstraint("election_id", "number"),
        CheckConstraint(
            "status IN ('setup', 'voting', 'counting', 'complete', 'certified')", name="known_status"
        ),
        CheckConstraint("flagged_returns IN ('hold', 'publish')", name="known_flagged_returns"),
        CheckConstraint("projection IN ('off', 'newsrooms', 'public')", name="known_projection"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"))
    number: Mapped[int]
    date: Mapped[date]
    previous_round_id: Mapped[int | None] = mapped_column(ForeignKey("rounds.id"))
    polls_close: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="counting")
    # A rehearsal: flagged in every payload, and its data can be wiped before the real night.
    test: Mapped[bool] = mapped_column(default=False)
    # No result of the round is published before this time (in France: when the last polls close).
    results_not_before: Mapped[datetime | None]
    # A clerk's return that trips a warning: 'hold' it for a supervisor, or 'publish' it with its flag.
    flagged_returns: Mapped[str] = mapped_column(String(10), default="hold", server_default="hold")
    # Publish a clerk's return only once a second clerk has entered the same counts.
    double_entry: Mapped[bool] = mapped_column(default=False, server_default=false())
    # The estimate of the final result (api/documents/projection.py): 'off', in the API for 'newsrooms', or
    # 'public': on the results page as well.
    projection: Mapped[str] = mapped_column(String(10), default="newsrooms", server_default="newsrooms")
    # JSON {name: value} of the round's own warning thresholds (tabulator.rules.THRESHOLD_RANGES); "" for none
    warning_thresholds: Mapped[str] = mapped_column(Text, default="", server_default="")
    # The latest published sequence and the time of the newest return it includes.
    sequence: Mapped[int] = mapped_column(default=0)
    as_of: Mapped[datetime | None]


class CandidateRow(Base):
    __tablename__ = "candidates"
    __table_args__ = (
        UniqueConstraint("round_id", "code"),
        UniqueConstraint("round_id", "ballot_order"),
        CheckConstraint("sex IN ('M', 'F')", name="known_sex"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    code: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    ballot_order: Mapped[int]
    sex: Mapped[str | None] = mapped_column(String(1))  # M or F, as the ministry's files give it


class AreaRow(Base):
    __tablename__ = "areas"
    __table_args__ = (UniqueConstraint("election_id", "level", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"))
    level: Mapped[str] = mapped_column(String(40))
    code: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    # The label of the file the area came from (the ministry's `Ardeche`, `4ème circonscription`), written
    # back by the export in that file's layout; `name` is the one shown.
    source_label: Mapped[str | None] = mapped_column(String(200))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    position: Mapped[int]  # order of the registry: parents before children


class BureauRow(Base):
    __tablename__ = "bureaux"
    __table_args__ = (
        UniqueConstraint("election_id", "code"),
        CheckConstraint("registered >= 0", name="registered_not_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    election_id: Mapped[int] = mapped_column(ForeignKey("elections.id"))
    code: Mapped[str] = mapped_column(String(80))
    name: Mapped[str] = mapped_column(String(200))
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    registered: Mapped[int | None]
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("bureaux.id"))
    position: Mapped[int]


class BureauCutAreaRow(Base):
    """A bureau's area of another cut's last level (its circonscription); its own area is `area_id`."""

    __tablename__ = "bureau_cut_areas"

    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureaux.id"), primary_key=True)
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), primary_key=True)


# Waiting: held (a warning), first_entry (no second entry yet), mismatch (two clerks disagree).
# Decided: accepted or rejected by a supervisor, matched (published by two identical entries),
# superseded (its clerk entered the bureau again, or another entry was accepted).
WAITING_STATUSES = ("held", "first_entry", "mismatch")
ENTRY_STATUSES = (*WAITING_STATUSES, "accepted", "rejected", "matched", "superseded")


def count_checks(*columns: str) -> tuple[CheckConstraint, ...]:
    # Quoted: an unquoted null is SQL's NULL, and a check that compares NULL passes every row (until 0011).
    return tuple(CheckConstraint(f'"{column}" >= 0', name=f"{column}_not_negative") for column in columns)


class ReturnVersionRow(Base):
    """One version of one bureau's return. Never updated, never deleted."""

    __tablename__ = "return_versions"
    __table_args__ = (
        *count_checks("voters", "blank", "null", "valid"),
        CheckConstraint('voters = blank + "null" + valid', name="voters_add_up"),
        CheckConstraint("version >= 1", name="version_positive"),
    )

    # No foreign keys: PostgreSQL's trigger per row and key was a quarter of a national file's ingest
    # (migration 0011). The ids come from the round and its registry, under the round's lock, and `verify`
    # names any version that is not of its round's registry.
    round_id: Mapped[int] = mapped_column(primary_key=True)
    bureau_id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    voters: Mapped[int]
    blank: Mapped[int]
    null: Mapped[int]
    valid: Mapped[int]
    # Each candidate's votes in ballot order, "412,388" (`tabulator.batch.pack_votes`): a round's
    # candidates never change once it exists, and a row per candidate per version was most of a national
    # file's ingest (bench.ingest, 11 candidates on PostgreSQL: 10.3 s, packed 3.3 s).
    votes: Mapped[str] = mapped_column(Text)
    registered: Mapped[int | None]
    reported_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    warnings: Mapped[str] = mapped_column(String(200), default="")  # codes of the warnings it tripped
    # JSON [{code, field, message, score}] of those warnings; "" where none
    warning_notes: Mapped[str] = mapped_column(Text, default="", server_default="")
    sequence: Mapped[int]  # the publication that first included it


class AreaResultRow(Base):
    """Running sums of an area's current returns (see tabulator.aggregation.RESULT_FIELDS)."""

    __tablename__ = "area_results"

    # Derived rows without foreign keys: `verify` recomputes them from the returns, and PostgreSQL would
    # fire a trigger per row per key on every ingest (a third of a national file's ingest time).
    round_id: Mapped[int] = mapped_column(primary_key=True)
    area_id: Mapped[int] = mapped_column(primary_key=True)
    bureaux_reported: Mapped[int] = mapped_column(default=0)
    voters: Mapped[int] = mapped_column(default=0)
    blank: Mapped[int] = mapped_column(default=0)
    null: Mapped[int] = mapped_column(default=0)
    valid: Mapped[int] = mapped_column(default=0)
    registered: Mapped[int] = mapped_column(default=0)
    bureaux_with_registered: Mapped[int] = mapped_column(default=0)
    matched_bureaux: Mapped[int] = mapped_column(default=0)
    matched_voters: Mapped[int] = mapped_column(default=0)
    matched_previous_voters: Mapped[int] = mapped_column(default=0)
    votes: Mapped[str] = mapped_column(Text)  # each candidate's sum, packed as a version's votes are


class CheckpointRow(Base):
    """One version of a bureau's voters at a time of day. Never updated, never deleted."""

    __tablename__ = "checkpoints"
    __table_args__ = count_checks("voters")

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureaux.id"), primary_key=True)
    time: Mapped[str] = mapped_column(String(5), primary_key=True)
    version: Mapped[int] = mapped_column(primary_key=True)
    voters: Mapped[int]
    reported_at: Mapped[datetime]
    recorded_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int]


class PublicationRow(Base):
    """The national figures as of one sequence: the evening's timeline."""

    __tablename__ = "publications"

    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), primary_key=True)
    sequence: Mapped[int] = mapped_column(primary_key=True)
    as_of: Mapped[datetime | None]
    published_at: Mapped[datetime]
    bureaux_reported: Mapped[int]
    voters: Mapped[int]
    blank: Mapped[int]
    null: Mapped[int]
    valid: Mapped[int]
    returns_changed: Mapped[int]  # returns recorded or corrected by the write that made it
    checkpoints_changed: Mapped[int]
    # The previous round's sequence at that moment: the base of the like-for-like figures of this one.
    previous_sequence: Mapped[int | None]
    round_status: Mapped[str] = mapped_column(String(20))
    votes: Mapped[str] = mapped_column(Text)  # each candidate's national votes, packed as a version's are


# The versions of a round by sequence: the change feed, what a publication must write again. Partial, so
# that only a query that says `sequence > 0` (`BY_SEQUENCE`; every sequence is) can use it: a bureau's
# lookup by the primary key cannot be planned through it. PostgreSQL did, with statistics taken while the
# round was empty and a prepared statement's generic plan, scanning the whole round for each bureau (a
# département's returns read in 0.3 s instead of 1 ms: make loadtest, migration 0012).
BY_SEQUENCE = "sequence > 0"
Index(
    "ix_return_versions_sequence",
    ReturnVersionRow.round_id,
    ReturnVersionRow.sequence,
    postgresql_where=text(BY_SEQUENCE),
    sqlite_where=text(BY_SEQUENCE),
)


class TokenRow(Base):
    """An API token of the authority's staff. Only its SHA-256 is kept; the token is shown once."""

    __tablename__ = "tokens"
    __table_args__ = (CheckConstraint("role IN ('clerk', 'supervisor', 'admin')", name="known_role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(20))
    election_id: Mapped[int | None] = mapped_column(ForeignKey("elections.id"))  # None: every election
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    # The named person who holds it: double entry and four eyes compare people, not token names.
    person: Mapped[str | None] = mapped_column(String(200))
    expires_at: Mapped[datetime | None]  # None only for tokens made before expiry existed
    # A clerk limited to the bureaux under one area (its code), or to a list of bureaux (one per line).
    area_code: Mapped[str | None] = mapped_column(String(80))
    bureaux: Mapped[str | None] = mapped_column(Text)


class AuditRow(Base):
    """Every write attempt, accepted or refused: who, when, from where, what was sent, what it changed."""

    __tablename__ = "audit"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    token_id: Mapped[int | None] = mapped_column(ForeignKey("tokens.id"))
    actor: Mapped[str | None] = mapped_column(String(200))
    role: Mapped[str | None] = mapped_column(String(20))
    remote_addr: Mapped[str | None] = mapped_column(String(64))
    method: Mapped[str] = mapped_column(String(10))
    path: Mapped[str] = mapped_column(String(500))
    sent: Mapped[str] = mapped_column(Text)  # the body (JSON as sent), or a file's name, size and SHA-256
    status: Mapped[int]
    outcome: Mapped[str] = mapped_column(Text)  # error codes, or what changed
    sequence: Mapped[int | None]
    # The tamper-evident chain: the row's place in it, and SHA-256(previous hash + this row's digest).
    chain_position: Mapped[int | None] = mapped_column(unique=True)
    chain_hash: Mapped[str | None] = mapped_column(String(64))


class AuditChainRow(Base):
    """The head of the audit's hash chain: one row, taken by `api.store.audit_chain.seal` in its own
    transaction (never by a write: see that module)."""

    __tablename__ = "audit_chain"

    id: Mapped[int] = mapped_column(primary_key=True)
    length: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))


class EntryRow(Base):
    """A clerk's return that is not published yet: held for review, or waiting for its second entry.

    Kept for good once decided (`status` then says how, and `sequence` when it was published), so that
    every figure a clerk typed can be found again.
    """

    __tablename__ = "entries"
    __table_args__ = (
        *count_checks("voters", "blank", "null", "valid"),
        CheckConstraint(f"status IN ({', '.join(repr(s) for s in ENTRY_STATUSES)})", name="known_status"),
        Index("ix_entries_round_id_status", "round_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"))
    bureau_id: Mapped[int] = mapped_column(ForeignKey("bureaux.id"))
    status: Mapped[str] = mapped_column(String(20))
    voters: Mapped[int]
    blank: Mapped[int]
    null: Mapped[int]
    valid: Mapped[int]
    registered: Mapped[int | None]
    votes: Mapped[str] = mapped_column(Text)  # JSON: {candidate code: votes}
    warnings: Mapped[str] = mapped_column(String(200), default="")
    warning_notes: Mapped[str] = mapped_column(Text, default="", server_default="")  # as in ReturnVersion
    reported_at: Mapped[datetime | None]
    entered_at: Mapped[datetime]
    author: Mapped[str] = mapped_column(String(200))
    person: Mapped[str | None] = mapped_column(String(200))  # who typed it: double entry needs two people
    # The version of the bureau's published return when it was entered (0: none).
    base_version: Mapped[int]
    decided_at: Mapped[datetime | None]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decision_reason: Mapped[str | None] = mapped_column(Text)
    sequence: Mapped[int | None]  # the publication that included it, if it was published


CONFIRMATION_STATUSES = ("pending", "confirmed", "cancelled")


class ConfirmationRow(Base):
    """Four eyes: a change to a round that one supervisor asks for and another must confirm in time
    (certifying, switching a test round to real, lifting an embargo early)."""

    __tablename__ = "confirmations"
    __table_args__ = (
        CheckConstraint(
            f"status IN ({', '.join(repr(s) for s in CONFIRMATION_STATUSES)})", name="known_status"
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    round_id: Mapped[int] = mapped_column(ForeignKey("rounds.id"), index=True)
    changes: Mapped[dict[str, Any]]  # the round's fields as asked: {"status": "certified"}
    reason: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(20))
    requested_by: Mapped[str] = mapped_column(String(200))
    requested_person: Mapped[str] = mapped_column(String(200))
    requested_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_person: Mapped[str | None] = mapped_column(String(200))  # the second pair of eyes
    decided_at: Mapped[datetime | None]
    decision_reason: Mapped[str | None] = mapped_column(Text)  # the confirmer's own, beside the asker's
