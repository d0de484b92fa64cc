"""The `tabulator` command: database, elections, ingest, results and verify.

The database is the one named by TABULATOR_DATABASE_URL (default: a SQLite file in the instance folder).
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
import json
import os
import sys
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import click

from api import documents, reference, static_publication, store
from api import replay as replaying
from api.collector import set_aside_what_is_built
from api.settings import Settings, SettingsError
from api.store import accounts, audit_chain, db, review
from api.store.caches import engine_caches
from api.web.feed_rows import FeedRows
from tabulator.batch import ReturnBatch
from tabulator.election_folder import read_election_folder
from tabulator.files import read_returns_file
from tabulator.ingest import (
    FileRefused,
    read_checkpoints_csv,
    read_returns_csv,
)
from tabulator.limits import ReadLimits
from tabulator.ministry import CUTS, LEVELS, read_ministry
from tabulator.spreadsheet import safe_row
from tabulator.types import ELECTION_TYPES, Election, Issue, Round

PROGRESS_FROM = 5_000
DEMO_FOLDER = Path("data/primaire-gauche-2017")  # rows: smaller files are recorded well within a second


class Context:
    def __init__(self) -> None:
        try:
            self.settings = Settings.from_env()
        except SettingsError as exc:
            raise click.UsageError(str(exc)) from None
        self._engine: Any = None

    @property
    def engine(self) -> Any:
        if self._engine is None:
            self._engine = db.make_engine(self.settings.database_url)
            engine_caches(self._engine).build_guard = set_aside_what_is_built  # api/collector.py
        return self._engine

    @property
    def read_limits(self) -> ReadLimits:
        """The uploads' limits (TABULATOR_MAX_UPLOAD_ROWS, ...) without their time limit: at the console an
        operator waits for a national file, and may raise a limit for one command."""
        return replace(self.settings.upload_limits, seconds=None)


@click.group()
@click.pass_context
def main(ctx: click.Context) -> None:
    """tabulator: election results from versioned per-bureau returns."""
    ctx.obj = Context()


@main.group("db")
def db_group() -> None:
    """The database schema."""


@db_group.command("upgrade")
@click.pass_obj
def db_upgrade(context: Context) -> None:
    """Create or migrate the database schema to the latest version."""
    db.upgrade(context.settings.database_url)
    click.echo(f"Database ready: {_safe_url(context.settings.database_url)}")


@main.command("load-election")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option(
    "--rounds", "round_numbers", default="all", help="Rounds whose returns to load: all, none, or 1,2."
)
@click.option("--if-absent", is_flag=True, help="Do nothing if the election is already loaded.")
@click.pass_obj
def load_election(context: Context, *, folder: Path, round_numbers: str, if_absent: bool) -> None:
    """Load an election folder (docs/election-format.md): registry, rounds, checkpoints, returns."""
    started = time.perf_counter()
    content = _refuse_on_error(lambda: read_election_folder(folder), folder)
    election = content.election
    if if_absent and store.election_exists(context.engine, election.id):
        click.echo(f"{election.id} is already loaded.")
        return
    _refuse_on_error(
        lambda: store.create_election(context.engine, election, content.areas, content.bureaux),
        folder / "bureaux.csv",
    )
    click.echo(f"{election.name}: {len(content.areas)} areas, {len(content.bureaux)} bureaux.")
    wanted = {r.number for r in election.rounds} if round_numbers == "all" else _numbers(round_numbers)
    for files in content.rounds:
        if files.number not in wanted:
            continue
        round_ = election.round(files.number)
        base = folder / f"round-{files.number}"
        if files.turnout:
            _load_checkpoints(context, election, round_, files.turnout, base / "turnout.csv")
        if files.returns:
            _ingest_returns(context, election, round_, files.returns, base / "returns.csv")
        if files.corrections:
            _ingest_returns(context, election, round_, files.corrections, base / "corrections.csv")
    for round_ in election.rounds:
        _publish_if_configured(context, election.id, round_.number)
    click.echo(f"Loaded {election.id} in {time.perf_counter() - started:.1f} s.")


def _load_checkpoints(context: Context, election: Election, round_: Round, data: bytes, path: Path) -> None:
    batch = _refuse_on_error(lambda: read_checkpoints_csv(data, context.read_limits), path)
    report = _refuse_on_error(
        lambda: store.record_checkpoints(
            context.engine, election.id, round_.number, batch, author="load-election"
        ),
        path,
    )
    click.echo(f"Round {round_.number}, {path.name}: {report.created:,} turnout checkpoints.")


def _numbers(text: str) -> set[int]:
    return set() if text == "none" else {int(part) for part in text.split(",")}


def _ingest_returns(context: Context, election: Election, round_: Round, data: bytes, path: Path) -> None:
    with_reason = path.name == "corrections.csv"
    batch = _refuse_on_error(
        lambda: read_returns_csv(
            data, round_.candidate_ids, with_reason=with_reason, limits=context.read_limits
        ),
        path,
    )
    report = _refuse_on_error(
        lambda: store.record_returns(
            context.engine,
            election.id,
            round_.number,
            batch,
            author="load-election",
            thresholds=context.settings.thresholds,
        ),
        path,
    )
    _print_report(f"Round {round_.number}, {path.name}", report)


@main.command()
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--election", required=True, help="Election id, e.g. primaire-gauche-2017.")
@click.option("--round", "round_number", type=int, required=True, help="Round number.")
@click.option("--reason", help="Why, when the file corrects returns already reported.")
@click.option("--author", default="cli", show_default=True, help="Who records the returns.")
@click.pass_obj
def ingest(
    context: Context, *, file: Path, election: str, round_number: int, reason: str | None, author: str
) -> None:
    """Ingest a file of returns (tabulator CSV or XLSX, or the ministry layout): all of it, or nothing."""
    data = file.read_bytes()
    with context.engine.connect() as connection:
        round_ = _refuse_on_error(lambda: store.round_info(connection, election, round_number), file)
    batch = _refuse_on_error(
        lambda: read_returns_file(
            data, round_.candidate_codes, reference.departements(), context.read_limits
        ),
        file,
    )
    report = _record_with_progress(
        context, election, round_number, batch, author=author, reason=reason, file=file
    )
    _print_report(str(file), report)
    _publish_if_configured(context, election, round_number)


def _record_with_progress(
    context: Context, election: str, round_number: int, batch: ReturnBatch, **options: Any
) -> store.RecordReport:
    """One transaction; for a large file, a bar follows its stages (checked, stored, summed, published)."""
    file = options.pop("file")

    def record(progress: Progress) -> store.RecordReport:
        return store.record_returns(
            context.engine,
            election,
            round_number,
            batch,
            progress=progress,
            thresholds=context.settings.thresholds,
            **options,
        )

    return _with_progress(len(batch), record, file)


Progress = Callable[[str], None]
T = TypeVar("T")


def _with_progress(rows: int, work: Callable[[Progress], T], file: Path) -> T:
    """Run a write, refused with its file's name; past PROGRESS_FROM rows, with a bar of its stages."""
    if rows < PROGRESS_FROM:
        return _refuse_on_error(lambda: work(lambda stage: None), file)  # type: ignore[no-any-return]
    with click.progressbar(
        length=len(store.STAGES),
        label=f"Recording {rows:,} returns",
        file=sys.stderr,
        show_pos=True,
        item_show_func=lambda stage: stage,
    ) as bar:
        return _refuse_on_error(lambda: work(lambda stage: bar.update(1, stage)), file)  # type: ignore[no-any-return]


CREATION_OPTIONS = {"--date": "round's date", "--name": "election's name", "--type": "election's type"}


@main.command("import-ministry")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--election", required=True, help="Election id to create or complete.")
@click.option("--round", "round_number", type=int, required=True)
@click.option("--name", help="The election's name (needed when the election is created).")
@click.option(
    "--type",
    "election_type",
    type=click.Choice(ELECTION_TYPES),
    help="What the election is for (needed when the election is created).",
)
@click.option(
    "--date",
    "day",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="The round's date, e.g. 2017-05-07 (needed when the round is created: the file carries none).",
)
@click.pass_obj
def import_ministry(context: Context, /, file: Path, election: str, round_number: int, **given: Any) -> None:
    """Create the election, round, candidates and registry a ministry file describes if they are missing,
    and ingest its returns: all in one transaction, so that a refused file changes nothing."""
    started = time.perf_counter()
    loaded, stored_date = store.stored_round(context.engine, election, round_number)
    day = given["day"].date() if given["day"] else stored_date
    needed = {"--date": day} | ({} if loaded else {"--name": given["name"], "--type": given["election_type"]})
    if missing := [option for option, value in needed.items() if value is None]:
        raise click.UsageError(
            f"{election} round {round_number} is created from this file, which does not say its "
            f"{', '.join(CREATION_OPTIONS[option] for option in missing)}: give {' '.join(missing)}."
        )
    assert day is not None  # asked for above when missing
    click.echo(f"Reading {file} ...", err=True)
    ministry = _refuse_on_error(
        lambda: read_ministry(file.read_bytes(), reference.departements(), context.read_limits),
        file,
    )
    described = Election(
        election,
        given["name"] or election,
        "",
        LEVELS,
        (Round(round_number, day, ministry.candidates),),
        type=given["election_type"] or "primary",  # both unused: the election exists
        cuts=CUTS,
    )
    done = _with_progress(
        len(ministry.batch),
        lambda progress: store.import_round(
            context.engine,
            described,
            ministry.registry,
            ministry.batch,
            author="import-ministry",
            thresholds=context.settings.thresholds,
            progress=progress,
        ),
        file,
    )
    if done.created:
        click.echo(
            f"Created {election} round {round_number}: {len(ministry.batch):,} bureaux, "
            f"{len(ministry.candidates)} candidates."
        )
    _print_report(str(file), done.report)
    _publish_if_configured(context, election, round_number)
    click.echo(f"Done in {time.perf_counter() - started:.1f} s.")


@main.command()
@click.option("--election", required=True)
@click.option("--round", "round_number", type=int, required=True)
@click.option("--level", help="Area level (default: the top one).")
@click.option("--code", help="Area code.")
@click.option("--json", "as_json", is_flag=True, help="Print the JSON document the API serves.")
@click.pass_obj
def results(
    context: Context, *, election: str, round_number: int, level: str | None, code: str | None, as_json: bool
) -> None:
    """Results of an area: a readable table, or JSON."""
    try:
        document = documents.results_document(context.engine, election, round_number, level, code)
    except store.NotFound as exc:
        raise click.ClickException(str(exc)) from None
    if as_json:
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    click.echo(_results_table(document))


def _results_table(document: dict[str, Any]) -> str:
    figures = document["results"]
    area = document["area"]
    lines = [
        f"{area['name']} ({area['level']} {area['code']}) — round {document['round']}, "
        f"sequence {document['sequence']}, {document['status']}, data as of {document['as_of']}",
        f"Bureaux reported  {figures['bureaux_reported']:>12,} / {figures['bureaux_total']:,}",
        f"Votants           {figures['voters']:>12,}",
        f"Blancs            {figures['blank']:>12,}  {_pct(figures['blank_pct_voters'])} of votants",
        f"Nuls              {figures['null']:>12,}  {_pct(figures['null_pct_voters'])} of votants",
        f"Exprimés          {figures['valid']:>12,}",
        "",
        f"{'Candidate':<28}{'votes':>12}  {'% exprimés':>10}  {'% votants':>9}",
    ]
    lines += [
        f"{c['name']:<28}{c['votes']:>12,}  {_pct(c['pct_valid']):>10}  {_pct(c['pct_voters']):>9}"
        for c in figures["candidates"]
    ]
    change = figures["voters_change"]
    if change:
        like = change["like_for_like"]
        lines += [
            "",
            f"Votants against the previous round, like for like on {like['matched_bureaux']:,} bureaux: "
            f"{_pct(like['change_pct'], signed=True)}",
        ]
    return "\n".join(lines)


def _pct(value: float | None, *, signed: bool = False) -> str:
    if value is None:
        return "—"
    return f"{value:+.2f} %" if signed else f"{value:.2f} %"


@main.command()
@click.option("--election", required=True)
@click.option("--round", "round_number", type=int, required=True)
@click.pass_obj
def warnings(context: Context, *, election: str, round_number: int) -> None:
    """The round's warnings by code: published returns that trip each (the first named), entries waiting."""
    try:
        counts = review.warning_counts(context.engine, election, round_number)
    except store.NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"{election} round {round_number}, sequence {counts['sequence']}: {counts['published_flagged']:,} "
        f"published returns and {counts['waiting_flagged']:,} waiting entries with a warning."
    )
    for code, found in counts["by_code"].items():
        more = ", …" if found["published"] > len(found["first"]) else ""
        click.echo(
            f"  {code:<24}{found['published']:>8,} published{found['waiting']:>8,} waiting"
            f"  {', '.join(found['first'])}{more}"
        )


@main.command("publish-static")
@click.option("--election", required=True)
@click.option("--round", "round_number", type=int, required=True)
@click.option(
    "--folder", type=click.Path(file_okay=False, path_type=Path), help="Default: TABULATOR_STATIC_FOLDER."
)
@click.option("--watch", type=float, help="Keep publishing each new sequence, looking every SECONDS.")
@click.pass_obj
def publish_static(
    context: Context, *, election: str, round_number: int, folder: Path | None, watch: float | None
) -> None:
    """Write the latest documents of a round as files (gzip beside each) for nginx or a CDN."""
    target = folder or context.settings.static_folder
    if target is None:
        raise click.UsageError("Give --folder or set TABULATOR_STATIC_FOLDER.")
    feeds = FeedRows()  # kept from one sequence to the next
    while True:
        started = time.perf_counter()
        sequence = _refuse_on_error(
            lambda: static_publication.publish(context.engine, election, round_number, target, feeds), target
        )
        if sequence is not None:
            click.echo(
                f"Published sequence {sequence} of {election} round {round_number} in {target} "
                f"({time.perf_counter() - started:.2f} s)."
            )
        if watch is None:
            return
        time.sleep(watch)


def _publish_if_configured(context: Context, election: str, round_number: int) -> None:
    if context.settings.static_folder is not None:
        sequence = static_publication.publish(
            context.engine, election, round_number, context.settings.static_folder
        )
        if sequence is not None:
            click.echo(f"Published sequence {sequence} in {context.settings.static_folder}.")


@main.group()
def tokens() -> None:
    """API tokens of the authority's staff (Bearer). A token is shown once; only its hash is kept."""


@tokens.command("create")
@click.option("--name", required=True, help='The token\'s name, e.g. "Clerk Paris 3".')
@click.option("--role", required=True, type=click.Choice(accounts.ROLES), help="clerk, supervisor or admin.")
@click.option(
    "--person",
    help="The named person who holds it (default: its name). Double entry and four "
    "eyes need two different people.",
)
@click.option("--election", help="The election it serves (required unless --all-elections).")
@click.option("--all-elections", is_flag=True, help="A token for every election (admins' console work).")
@click.option(
    "--expires",
    help="When it stops working: a time with its offset (2017-01-30T12:00:00+01:00) "
    "or a duration (12h, 3d). Default: two days after the election's last round; 24 h for "
    "--all-elections.",
)
@click.option("--area", help="A clerk limited to the bureaux under one area, as LEVEL:CODE (departement:75).")
@click.option("--bureaux", help="A clerk limited to these bureaux: codes separated by commas.")
@click.pass_obj
def tokens_create(context: Context, /, **options: Any) -> None:
    """Create a token and print it, once."""
    name, role, election = options["name"], options["role"], options["election"]
    if (election is None) != options["all_elections"]:
        raise click.UsageError("Give --election ELECTION, or --all-elections for a token of every election.")
    bureaux = [code.strip() for code in options["bureaux"].split(",")] if options["bureaux"] else None
    if (options["area"] or bureaux) and role != "clerk":
        raise click.UsageError("Only a clerk's token is limited to an area or to bureaux.")
    try:
        expires_at = (
            _expiry(options["expires"]) or accounts.default_expiry(context.engine, election)
        ).astimezone(UTC)
        if expires_at <= datetime.now(UTC):
            raise click.UsageError(
                f"That token would expire at {expires_at:%Y-%m-%d %H:%M} UTC, in the past: give --expires."
            )
        token_id, token = accounts.create_token(
            context.engine,
            name,
            role,
            election,
            person=options["person"],
            expires_at=expires_at,
            area_code=options["area"],
            bureaux=bureaux,
        )
    except store.NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(
        f"Token {token_id} for {name} ({role}, {election or 'all elections'}, "
        f"expires {expires_at:%Y-%m-%d %H:%M} UTC):"
    )
    click.echo(token)
    click.echo("It is shown this once: only its hash is kept.", err=True)


DURATION = {"m": "minutes", "h": "hours", "d": "days"}


def _expiry(text: str | None) -> datetime | None:
    if text is None:
        return None
    if text[:-1].isdigit() and text[-1:] in DURATION:
        return datetime.now(UTC) + timedelta(**{DURATION[text[-1]]: int(text[:-1])})
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        moment = None
    if moment is None or moment.tzinfo is None:
        raise click.BadParameter(
            f"expected a time with its offset or a duration like 12h; got {text!r}", param_hint="--expires"
        )
    return moment


@tokens.command("list")
@click.pass_obj
def tokens_list(context: Context) -> None:
    """The tokens, without their secret."""
    for row in accounts.list_tokens(context.engine):
        click.echo(f"{row['id']:>4}  {row['name']:<30} {row['role']:<11} {_scope(row):<24} {_state(row)}")


def _scope(token: dict[str, Any]) -> str:
    limit = token["area"] or (f"{len(token['bureaux'])} bureaux" if token["bureaux"] else "")
    return f"{token['election'] or 'all elections'}{', ' + limit if limit else ''}"


def _state(token: dict[str, Any]) -> str:
    if token["revoked_at"]:
        return f"revoked {token['revoked_at']:%Y-%m-%d %H:%M}"
    expires = token["expires_at"]
    if expires is not None and expires <= datetime.now(UTC):
        return f"expired {expires:%Y-%m-%d %H:%M}"
    return f"active, {token['person']}" + (f", until {expires:%Y-%m-%d %H:%M}" if expires else "")


@tokens.command("revoke")
@click.argument("token_id", type=int)
@click.pass_obj
def tokens_revoke(context: Context, token_id: int) -> None:
    """Revoke a token: it is refused from the next request on."""
    try:
        accounts.revoke_token(context.engine, token_id)
    except store.NotFound as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Token {token_id} revoked.")


@main.command()
@click.option(
    "--folder",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    default=DEMO_FOLDER,
    show_default=True,
    help="The election folder whose night to replay.",
)
@click.option("--round", "round_number", type=int, required=True, help="The round, e.g. 2.")
@click.option(
    "--speed",
    type=click.FloatRange(min=0, min_open=True),
    default=60.0,
    show_default=True,
    help="How much faster than the night: 60 plays an hour in a minute.",
)
@click.option(
    "--longest-pause",
    type=click.IntRange(min=1),
    default=60,
    show_default=True,
    help="Seconds of the night: a quieter stretch is cut to this.",
)
@click.option("--until", metavar="HH:MM", help="Stop after what was reported by then, e.g. 20:30.")
@click.pass_obj
def replay(
    context: Context, *, folder: Path, round_number: int, speed: float, longest_pause: int, until: str | None
) -> None:
    """Replay a round's night into the database: turnout checkpoints, then returns in the order they were
    reported, corrections included, on a fast clock. The election must be loaded without this round's
    data (`tabulator load-election FOLDER --rounds 1`)."""
    night = _refuse_on_error(lambda: replaying.read_night(folder, round_number, until), folder)
    _refuse_if_reported(context, night)
    started = time.monotonic()
    with click.progressbar(
        length=len(night.ordered),
        label=f"Replaying round {round_number} of {night.election}",
        file=sys.stderr,
    ) as bar:
        sequence = replaying.play(
            context.engine,
            night,
            speed=speed,
            longest_pause=timedelta(seconds=longest_pause),
            thresholds=context.settings.thresholds,
            on_step=lambda step: bar.update(len(step.rows)),
        )
    counts = Counter(event.kind for event in night.ordered)
    click.echo(
        f"Replayed round {round_number} of {night.election} in {time.monotonic() - started:.0f} s: "
        f"{counts['turnout']:,} turnout checkpoints, {counts['returns']:,} returns, "
        f"{counts['corrections']:,} corrections; now at sequence {sequence}."
    )


def _refuse_if_reported(context: Context, night: replaying.Night) -> None:
    current = documents.results_document(context.engine, night.election, night.round_number)["results"]
    if current["bureaux_reported"]:
        raise click.ClickException(
            f"Round {night.round_number} of {night.election} already has {current['bureaux_reported']:,} "
            "returns: replay into a round without any (load the election with --rounds 1)."
        )


@main.command("wipe-test")
@click.option("--election", required=True)
@click.option("--round", "round_number", type=int, required=True)
@click.confirmation_option(prompt="Remove every return, checkpoint and publication of this test round?")
@click.pass_obj
def wipe_test(context: Context, *, election: str, round_number: int) -> None:
    """Wipe a test round's data before the real night (the round must be marked test)."""
    removed = _refuse_on_error(
        lambda: store.wipe_test_round(context.engine, election, round_number),
        Path(f"{election}/{round_number}"),
    )
    accounts.record_audit(
        context.engine,
        accounts.AuditRequest(None, None, "CLI", f"wipe-test {election} {round_number}", ""),
        status=200,
        outcome=f"{removed} return versions removed",
    )
    click.echo(
        f"Round {round_number} of {election}: {removed:,} return versions removed; the round is empty."
    )


@main.group()
def audit() -> None:
    """The audit of every write attempt."""


@audit.command("export")
@click.option(
    "--output", type=click.File("w", encoding="utf-8"), default="-", help="CSV file (default: stdout)."
)
@click.option("--actor", help="Only this token's entries.")
@click.option(
    "--sign",
    is_flag=True,
    help="Print the file's SHA-256 and its HMAC-SHA256 with the key in TABULATOR_AUDIT_KEY (to stderr).",
)
@click.pass_obj
def audit_export(context: Context, *, output: Any, actor: str | None, sign: bool) -> None:
    """Export the audit as CSV, oldest first, each row with its place and hash in the audit's chain."""
    key = os.environ.get("TABULATOR_AUDIT_KEY", "")
    if sign and len(key) < 16:
        raise click.UsageError("--sign needs a key of 16 characters or more in TABULATOR_AUDIT_KEY.")
    audit_chain.seal(context.engine)
    rows = accounts.audit_rows(context.engine, actor=actor)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    columns = [
        "id",
        "at",
        "actor",
        "role",
        "remote_addr",
        "method",
        "path",
        "status",
        "outcome",
        "sequence",
        "sent",
        "chain_position",
        "chain_hash",
    ]
    writer.writerow(columns)
    # Bodies and token names are whatever a stranger or a clerk sent: the file is opened in a spreadsheet.
    writer.writerows([safe_row(row[name] for name in columns) for row in rows])
    output.write(text.getvalue())
    click.echo(f"{len(rows):,} audit entries.", err=True)
    if sign:
        data = text.getvalue().encode()
        signature = hmac.new(key.encode(), hashlib.sha256(data).digest(), hashlib.sha256).hexdigest()
        click.echo(f"sha256 {hashlib.sha256(data).hexdigest()}  hmac-sha256 {signature}", err=True)


@audit.command("seal")
@click.pass_obj
def audit_seal(context: Context) -> None:
    """Chain the audit rows written since the last seal (the service does it every few seconds)."""
    click.echo(f"{audit_chain.seal(context.engine):,} audit rows sealed.")


@audit.command("verify")
@click.pass_obj
def audit_verify(context: Context) -> None:
    """Recompute the audit's hash chain; exit 1 naming the first row that does not match."""
    report = audit_chain.verify_chain(context.engine)
    for problem in report.problems:
        click.echo(problem, err=True)
    if report.problems:
        raise SystemExit(1)
    click.echo(f"audit verify: {report.sealed:,} rows chained, intact; {report.unsealed:,} not sealed yet.")


@main.command()
@click.pass_obj
def verify(context: Context) -> None:
    """Recompute every aggregate from the returns; exit 1 with the differences if any."""
    differences = store.verify(context.engine)
    for line in differences:
        click.echo(line, err=True)
    if differences:
        raise SystemExit(1)
    click.echo("verify: every aggregate equals the sum of the current returns.")


def _refuse_on_error(action: Any, path: Path) -> Any:
    try:
        return action()
    except (FileRefused, store.Refused) as exc:
        _print_issues(path, exc.issues)
        raise SystemExit(1) from None
    except store.NotFound as exc:
        raise click.ClickException(str(exc)) from None


def _print_issues(path: Path, issues: list[Issue]) -> None:
    click.echo(f"{path}: refused, nothing was changed. {len(issues)} error(s):", err=True)
    for issue in issues[:200]:
        click.echo(f"  {path}: [{issue.code}] {issue.message}", err=True)
    if len(issues) > 200:
        click.echo(f"  ... and {len(issues) - 200} more.", err=True)


def _print_report(label: str, report: store.RecordReport) -> None:
    sequence = f"now at sequence {report.sequence}" if report.sequence else "nothing changed"
    click.echo(
        f"{label}: {report.created:,} created, {report.corrected:,} corrected, "
        f"{report.unchanged:,} unchanged, {report.flagged:,} flagged; {sequence}."
    )
    for code, found in report.by_code.items():
        more = ", …" if found["count"] > len(found["first"]) else ""
        click.echo(f"  {found['count']:,} {code}: {', '.join(found['first'])}{more}")
    for issue in report.warnings[:20]:
        click.echo(f"  warning [{issue.code}] {issue.message}")


def _safe_url(url: str) -> str:
    return url.rsplit("@", maxsplit=1)[-1] if "@" in url else url
