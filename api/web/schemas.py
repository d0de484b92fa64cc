"""The shapes of every payload, as marshmallow schemas: the OpenAPI document is generated from them and
every document is dumped through them once per sequence.

Keys are English snake_case; the descriptions give the French terms of the results (REFERENCE §4).
"""

from __future__ import annotations

from flask_smorest.fields import Upload
from marshmallow import RAISE, Schema, fields, validate

from api.store.lifecycle import ORDER as ROUND_STATUSES
from api.store.results import STATUSES
from tabulator.rules import MAX_COUNT, THRESHOLD_RANGES, WHOLE_THRESHOLDS

STATUS = validate.OneOf(list(STATUSES))
PROJECTION_SETTINGS = ["off", "newsrooms", "public"]
PROJECTION_SETTING = (
    "The estimate of the final result (`…/projection`): `off`, `newsrooms` (in the API only) or `public` "
    "(on the results page as well, labelled as an estimate)."
)


def count(description: str) -> fields.Integer:
    return fields.Integer(required=True, metadata={"description": description})


def pct(description: str) -> fields.Float:
    return fields.Float(allow_none=True, required=True, metadata={"description": description})


class ContextSchema(Schema):
    """What every published figure carries (DESIGN principle 3)."""

    election = fields.String(required=True)
    round = fields.Integer(required=True)
    sequence = count("The publication these figures belong to; it only grows. 0: nothing published yet.")
    as_of = fields.String(
        allow_none=True,
        required=True,
        metadata={"description": "Time of the newest return included (ISO 8601)."},
    )
    published_at = fields.String(
        allow_none=True, required=True, metadata={"description": "When this sequence was published."}
    )
    bureaux_reported = count("Bureaux de vote whose return is included, nationally.")
    bureaux_total = count("Bureaux de vote that will report (merged bureaux excluded), nationally.")
    status = fields.String(
        required=True, validate=STATUS, metadata={"description": "partial, complete or certified."}
    )
    test = fields.Boolean(
        required=True, metadata={"description": "True for a rehearsal round: not real results."}
    )


class AreaRefSchema(Schema):
    level = fields.String(
        required=True,
        metadata={"description": "national, region, departement, circonscription, commune or bureau."},
    )
    code = fields.String(required=True)
    name = fields.String(required=True)


class CandidateFiguresSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    ballot_order = count("N° de panneau.")
    votes = count("Voix.")
    pct_valid = pct("Votes as a percentage of exprimés (valid votes), two decimals.")
    pct_voters = pct("Votes as a percentage of votants, two decimals.")
    pct_registered = pct("Votes as a percentage of inscrits, two decimals, where inscrits are known.")


class ChangeSchema(Schema):
    voters = count("Votants in this round.")
    previous_voters = count("Votants in the previous round.")
    change_pct = pct("Change in percent, two decimals.")


class LikeForLikeSchema(ChangeSchema):
    matched_bureaux = count("Bureaux reported in both rounds: the set the change is computed on.")


class VotersChangeSchema(Schema):
    all_bureaux = fields.Nested(ChangeSchema, required=True)
    like_for_like = fields.Nested(LikeForLikeSchema, required=True)


class FiguresSchema(Schema):
    bureaux_reported = count("Bureaux of this area whose return is included.")
    bureaux_total = count("Bureaux of this area that will report.")
    bureaux_reported_pct = pct("Bureaux reported as a percentage of the total.")
    registered = fields.Integer(
        allow_none=True, required=True, metadata={"description": "Inscrits, where known."}
    )
    abstentions = fields.Integer(
        allow_none=True, required=True, metadata={"description": "Inscrits − votants."}
    )
    abstentions_pct_registered = pct("Abstentions as a percentage of inscrits, where known.")
    turnout_pct_registered = pct("Votants as a percentage of inscrits, where known.")
    voters = count("Votants.")
    blank = count("Blancs.")
    blank_pct_voters = pct("Blancs as a percentage of votants.")
    null = count("Nuls.")
    null_pct_voters = pct("Nuls as a percentage of votants.")
    valid = count("Exprimés = votants − blancs − nuls.")
    valid_pct_voters = pct("Exprimés as a percentage of votants.")
    candidates = fields.List(fields.Nested(CandidateFiguresSchema), required=True)
    leader = fields.String(allow_none=True, required=True)
    voters_change = fields.Nested(VotersChangeSchema, allow_none=True, required=True)


class ChildCandidateSchema(Schema):
    id = fields.String(required=True)
    votes = count("Voix.")
    pct_valid = pct("Percentage of exprimés.")


class RowCandidateSchema(ChildCandidateSchema):
    pct_registered = pct("Percentage of inscrits, where known.")


class RowFiguresSchema(Schema):
    """An area's figures as one row among others."""

    bureaux_reported = count("Bureaux reported.")
    bureaux_total = count("Bureaux that will report.")
    registered = fields.Integer(
        allow_none=True, required=True, metadata={"description": "Inscrits, where known."}
    )
    abstentions = fields.Integer(
        allow_none=True, required=True, metadata={"description": "Inscrits − votants, where known."}
    )
    voters = count("Votants.")
    blank = count("Blancs.")
    null = count("Nuls.")
    valid = count("Exprimés.")
    candidates = fields.List(fields.Nested(RowCandidateSchema), required=True)
    leader = fields.String(allow_none=True, required=True)


class ChildRowSchema(AreaRefSchema, RowFiguresSchema):
    pass


class LevelRowSchema(RowFiguresSchema):
    code = fields.String(required=True)
    name = fields.String(required=True)
    parents = fields.Dict(
        keys=fields.String(),
        values=fields.String(),
        required=True,
        metadata={"description": "Its parents' codes by level: {departement: 75, region: 11, national: FR}."},
    )


class LevelResultsSchema(ContextSchema):
    level = fields.String(required=True, metadata={"description": "The level every row is an area of."})
    within = fields.Nested(
        AreaRefSchema,
        allow_none=True,
        required=True,
        metadata={
            "description": "The area the rows lie in (…/results/{level}/{code}/{child_level}); null: all."
        },
    )
    parent_levels = fields.List(
        fields.String(), required=True, metadata={"description": "The levels of `parents`, top first."}
    )
    areas = fields.List(fields.Nested(LevelRowSchema), required=True)


class ReturnCountsSchema(Schema):
    voters = count("Votants.")
    blank = count("Blancs.")
    null = count("Nuls.")
    valid = count("Exprimés.")
    votes = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)


class WarningNoteSchema(Schema):
    code = fields.String(required=True)
    field = fields.String(required=True, metadata={"description": "The count it is about."})
    message = fields.String(required=True, metadata={"description": "The sentence, with its figures."})
    score = fields.Float(
        required=True,
        metadata={
            "description": "How unusual: the deviation in spreads (100 for a sheet identical to another "
            "bureau's; 0 for a fixed-share warning)."
        },
    )


class ReturnVersionSchema(ReturnCountsSchema):
    version = count("1 for the first report, then one more per correction.")
    sequence = count("The publication that first included this version.")
    reported_at = fields.String(required=True)
    recorded_at = fields.String(required=True)
    reason = fields.String(allow_none=True, required=True, metadata={"description": "Why it was corrected."})
    warnings = fields.List(fields.String(), required=True)
    warning_notes = fields.List(
        fields.Nested(WarningNoteSchema),
        required=True,
        metadata={"description": "Each warning of this version in full: the sentence with its figures."},
    )


class ResultsDocumentSchema(ContextSchema):
    area = fields.Nested(AreaRefSchema, required=True)
    parents = fields.List(
        fields.Nested(AreaRefSchema), required=True, metadata={"description": "Breadcrumbs, top first."}
    )
    results = fields.Nested(FiguresSchema, required=True)
    children = fields.List(fields.Nested(ChildRowSchema), required=True)
    versions = fields.List(
        fields.Nested(ReturnVersionSchema), metadata={"description": "A bureau's return versions."}
    )


class CheckpointSchema(Schema):
    time = fields.String(required=True, metadata={"description": "Time of day, e.g. 17:00."})
    bureaux_reported = count("Bureaux that reported this checkpoint.")
    voters = count("Voters so far.")
    like_for_like = fields.Nested(LikeForLikeSchema, allow_none=True, required=True)


class TurnoutDocumentSchema(ContextSchema):
    area = fields.Nested(AreaRefSchema, required=True)
    area_bureaux_total = count("Bureaux of this area that will report.")
    checkpoints = fields.List(fields.Nested(CheckpointSchema), required=True)


class TimelineRowSchema(Schema):
    sequence = count("Publication number.")
    as_of = fields.String(allow_none=True, required=True)
    published_at = fields.String(required=True)
    bureaux_reported = count("Bureaux reported.")
    voters = count("Votants.")
    blank = count("Blancs.")
    null = count("Nuls.")
    valid = count("Exprimés.")
    candidates = fields.List(fields.Nested(ChildCandidateSchema), required=True)


class TimelineDocumentSchema(ContextSchema):
    timeline = fields.List(fields.Nested(TimelineRowSchema), required=True)


class RangeSchema(Schema):
    value = count("The estimate.")
    low = count("The 90 % interval's lower bound.")
    high = count("The 90 % interval's upper bound.")


class ProjectedCandidateSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    pct_valid = fields.Float(
        required=True, metadata={"description": "Estimated final share of exprimés (%)."}
    )
    pct_valid_low = fields.Float(required=True, metadata={"description": "The 90 % interval's lower bound."})
    pct_valid_high = fields.Float(required=True, metadata={"description": "The 90 % interval's upper bound."})


class ProjectionSchema(Schema):
    interval = fields.Float(required=True, metadata={"description": "The intervals' coverage: 0.9."})
    bureaux_counted = count("Bureaux of this area counted: the estimate's base.")
    bureaux_total = count("Bureaux of this area that will report.")
    voters = fields.Nested(RangeSchema, required=True, metadata={"description": "Estimated final votants."})
    candidates = fields.List(fields.Nested(ProjectedCandidateSchema), required=True)
    leader = fields.String(
        required=True,
        metadata={"description": "The area's counted leader (its projected one before any count)."},
    )
    leader_stays_ahead = fields.Float(
        allow_none=True,
        required=True,
        metadata={
            "description": "The probability that the leader ends ahead of the round's runner-up (of its "
            "leader, when it is the runner-up); null for an area led by a third candidate."
        },
    )


class EstimateContextSchema(ContextSchema):
    """What every estimate's document says beside its sequence: that it is one, and how it is made."""

    estimate = fields.Boolean(required=True, metadata={"description": "Always true: these are not counts."})
    method = fields.String(
        required=True, metadata={"description": "How the estimate is made, in a sentence."}
    )


class ProjectionDocumentSchema(EstimateContextSchema):
    """An estimate of the final result, never mixed with the counted figures."""

    area = fields.Nested(AreaRefSchema, required=True)
    projection = fields.Nested(
        ProjectionSchema,
        allow_none=True,
        required=True,
        metadata={"description": "Null while too few bureaux are counted to estimate anything (`reason`)."},
    )
    reason = fields.String(allow_none=True, required=True, metadata={"description": "Why there is none."})


class ProjectionPointSchema(Schema):
    sequence = count("The publication this estimate was made at.")
    as_of = fields.String(required=True, metadata={"description": "Its time (the latest return's)."})
    published_at = fields.String(required=True)
    projection = fields.Nested(
        ProjectionSchema, required=True, metadata={"description": "The nation's estimate then."}
    )


class ProjectionTimelineSchema(EstimateContextSchema):
    """The nation's estimate over the evening: the band around the counted curve."""

    timeline = fields.List(
        fields.Nested(ProjectionPointSchema),
        required=True,
        metadata={
            "description": "A point at the first publication with each further 5 % of the bureaux counted "
            "(from the first with enough to estimate), and one at this document's own."
        },
    )


class CurrentSchema(ContextSchema):
    """The latest sequence of a round: poll this, then fetch what changed."""

    results_not_before = fields.String(
        allow_none=True, required=True, metadata={"description": "The embargo: no result before this time."}
    )


class ChangeItemSchema(Schema):
    bureau = fields.String(required=True)
    name = fields.String(required=True)
    kind = fields.String(required=True, validate=validate.OneOf(["recorded", "corrected"]))
    version = count("Version of the return.")
    sequence = count("Publication that included it.")
    reported_at = fields.String(required=True)
    recorded_at = fields.String(required=True)
    counts = fields.Nested(ReturnCountsSchema, required=True)
    previous = fields.Nested(
        ReturnCountsSchema,
        allow_none=True,
        required=True,
        metadata={"description": "For a correction: the counts it replaced."},
    )
    reason = fields.String(allow_none=True, required=True)
    warnings = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "The warning codes this version tripped; the bureau's document says why."},
    )


class CorrectionsDocumentSchema(ContextSchema):
    corrections = fields.List(fields.Nested(ChangeItemSchema), required=True)


class ChangesSchema(Schema):
    election = fields.String(required=True)
    round = fields.Integer(required=True)
    since = fields.String(required=True, metadata={"description": "The cursor asked for."})
    next = fields.String(required=True, metadata={"description": "Pass it as `since` next time."})
    truncated = fields.Boolean(
        required=True, metadata={"description": "More changes wait: ask again at once with `next`."}
    )
    current_sequence = count("The round's latest sequence when this page was read.")
    changes = fields.List(fields.Nested(ChangeItemSchema), required=True)


class CandidateSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    ballot_order = count("N° de panneau.")


class RoundSchema(Schema):
    election = fields.String(required=True)
    results_not_before = fields.String(
        allow_none=True, metadata={"description": "No result is published before this time (the embargo)."}
    )
    number = fields.Integer(required=True)
    date = fields.String(required=True)
    previous_round = fields.Integer(allow_none=True, required=True)
    status = fields.String(required=True)
    test = fields.Boolean(required=True)
    flagged_returns = fields.String(
        required=True,
        metadata={
            "description": "A clerk's return that trips a warning: `hold` (out of the results until a "
            "supervisor accepts it) or `publish` (published, its warnings shown with its bureau)."
        },
    )
    double_entry = fields.Boolean(
        required=True,
        metadata={"description": "A clerk's return is published once a second clerk enters the same counts."},
    )
    projection = fields.String(
        required=True,
        validate=validate.OneOf(PROJECTION_SETTINGS),
        metadata={"description": PROJECTION_SETTING},
    )
    warning_thresholds = fields.Dict(
        keys=fields.String(),
        values=fields.Float(),
        required=True,
        metadata={"description": "The round's own warning thresholds; {}: the service's settings."},
    )
    sequence = fields.Integer(
        allow_none=True,
        required=True,
        metadata={
            "description": "Latest published sequence; null under an embargo, whose movements it would tell."
        },
    )
    candidates = fields.List(fields.Nested(CandidateSchema), required=True)


class ElectionSchema(Schema):
    id = fields.String(required=True)
    name = fields.String(required=True)
    organiser = fields.String(required=True)
    note = fields.String(required=True)
    levels = fields.List(
        fields.String(),
        required=True,
        metadata={"description": "Area levels, top down; bureaux below the last."},
    )
    rounds = fields.List(fields.Nested(RoundSchema), required=True)


class ElectionListSchema(Schema):
    elections = fields.List(fields.Nested(ElectionSchema), required=True)


class ErrorSchema(Schema):
    code = fields.String(
        required=True, metadata={"description": "Stable, for programs: `not_found`, `votes_mismatch`…"}
    )
    message = fields.String(required=True, metadata={"description": "A sentence for the person."})
    field = fields.String(metadata={"description": "The field or column at fault."})
    line = fields.Integer(metadata={"description": "The file's line (1 is the header)."})
    column = fields.Integer(metadata={"description": "The file's column (1 is the first)."})
    bureau = fields.String(metadata={"description": "The bureau de vote concerned."})


class RefusalSchema(ErrorSchema):
    """An error of the envelope; a refused return or file also says how grave each is."""

    severity = fields.String(
        validate=validate.OneOf(["error", "warning"]),
        metadata={"description": "`error` refuses the input; a `warning` alone would not."},
    )


class ErrorsSchema(Schema):
    """The one error envelope of the API."""

    errors = fields.List(fields.Nested(RefusalSchema), required=True)
    errors_total = fields.Integer(
        metadata={"description": "When there were more errors than listed (the first 1,000): how many."}
    )


class StaleVersionSchema(ErrorsSchema):
    """412: the return changed since the version the client sent as If-Match."""

    current_version = fields.Integer(
        required=True,
        metadata={"description": "The return's version now: check it, then send If-Match again."},
    )


class ChangesQuerySchema(Schema):
    since = fields.String(
        load_default="0",
        metadata={"description": "A sequence number, or the `next` cursor of the previous page."},
    )
    limit = fields.Integer(
        load_default=500,
        validate=validate.Range(min=1, max=5000),
        metadata={"description": "At most this many entries in the answer (1 to 5,000)."},
    )


class ExportQuerySchema(Schema):
    encoding = fields.String(
        load_default="latin-1",
        validate=validate.OneOf(["latin-1", "utf-8"]),
        metadata={
            "description": "`latin-1` (ISO-8859-1), as the ministry writes its files, or `utf-8`. In "
            "Latin-1 a character it lacks becomes its nearest form (’ → ', œ → oe)."
        },
    )


def _nist_objects(data_key: str, description: str) -> fields.List[dict[str, object]]:
    return fields.List(fields.Dict(), data_key=data_key, required=True, metadata={"description": description})


class NistReportSchema(Schema):
    """A NIST SP 1500-100 version 2 `ElectionResults.ElectionReport`, valid against NIST's own JSON schema
    (usnistgov/ElectionResultsReporting, branch version2), which describes every object in it.

    The areas are `GpUnit` ReportingUnits; the round is one `Election` with one `CandidateContest`. Votants
    are `BallotsCast` (`Election.BallotCounts`), blancs the contest's `Undervotes` (`Contest.OtherCounts`),
    nuls `BallotsRejected` (`Election.BallotCounts`)."""

    class Meta:
        unknown = "include"
        ordered = True

    type_ = fields.String(
        data_key="@type", required=True, validate=validate.OneOf(["ElectionResults.ElectionReport"])
    )
    format = fields.String(
        data_key="Format",
        required=True,
        validate=validate.OneOf(["summary-contest"]),
        metadata={"description": "Counts per area, not per bureau."},
    )
    generated_date = fields.String(
        data_key="GeneratedDate",
        required=True,
        metadata={
            "description": "When the sequence was published, to the second with its offset (v2 allows no "
            "fractions). 1970-01-01T00:00:00+00:00 at sequence 0, before anything was published.",
            "example": "2017-01-29T21:17:04+00:00",
        },
    )
    issuer = fields.String(
        data_key="Issuer", required=True, metadata={"description": "The organiser, or the election's name."}
    )
    issuer_abbreviation = fields.String(
        data_key="IssuerAbbreviation", required=True, metadata={"description": "The election's id."}
    )
    is_test = fields.Boolean(data_key="IsTest", required=True, metadata={"description": "A test round."})
    test_type = fields.String(
        data_key="TestType",
        metadata={"description": "Only in a test round: what kind of test (a rehearsal)."},
    )
    notes = fields.String(
        data_key="Notes", metadata={"description": "The sequence and its `as_of`, in words."}
    )
    sequence_start = fields.Integer(
        data_key="SequenceStart",
        required=True,
        metadata={
            "description": "1: the report is whole in one file (v2: part 1 of 1, not the publication)."
        },
    )
    sequence_end = fields.Integer(data_key="SequenceEnd", required=True, metadata={"description": "1."})
    external_identifier = _nist_objects(
        "ExternalIdentifier",
        "The publication: one identifier of OtherType `tabulator-sequence` whose Value is the sequence.",
    )
    status = fields.String(
        data_key="Status",
        required=True,
        validate=validate.OneOf(["unofficial-partial", "unofficial-complete", "certified"]),
        metadata={
            "description": "unofficial-partial while bureaux are missing; certified only once the round is "
            "certified with every bureau in; otherwise unofficial-complete."
        },
    )
    vendor_application_id = fields.String(data_key="VendorApplicationId", required=True)
    gp_unit = _nist_objects(
        "GpUnit",
        "One ReportingUnit per area, top down: country, then régions and départements (`other`, the level in "
        "OtherType), circonscriptions (`congressional`), communes (`municipality`), each with "
        "ComposingGpUnitIds, bureaux reported and total, votants and, when known, inscrits.",
    )
    election = _nist_objects(
        "Election",
        "One Election: the round, its Type (`general` for the State's elections, `primary`), its "
        "BallotCounts per area, its Candidates and one CandidateContest with the votes per area.",
    )


# One instance per schema, reused for every dump: building a schema (and deep-copying its nested fields)
# costs far more than dumping with it, and a schema instance keeps no state between dumps.
ELECTION_LIST = ElectionListSchema()
ELECTION = ElectionSchema()
ROUND = RoundSchema()
CURRENT = CurrentSchema()
RESULTS = ResultsDocumentSchema()
LEVEL_RESULTS = LevelResultsSchema()
TURNOUT = TurnoutDocumentSchema()
TIMELINE = TimelineDocumentSchema()
PROJECTION = ProjectionDocumentSchema()
PROJECTION_TIMELINE = ProjectionTimelineSchema()
CHANGES = ChangesSchema()
CHANGE_ITEM = ChangeItemSchema()
CORRECTIONS = CorrectionsDocumentSchema()


COUNT = validate.Range(min=0, max=MAX_COUNT)


class ReturnInputSchema(Schema):
    """One bureau's counts, as a clerk sends them."""

    class Meta:
        unknown = RAISE

    voters = fields.Integer(required=True, strict=True, validate=COUNT, metadata={"description": "Votants."})
    blank = fields.Integer(required=True, strict=True, validate=COUNT, metadata={"description": "Blancs."})
    null = fields.Integer(required=True, strict=True, validate=COUNT, metadata={"description": "Nuls."})
    valid = fields.Integer(required=True, strict=True, validate=COUNT, metadata={"description": "Exprimés."})
    votes = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(strict=True, validate=COUNT),
        required=True,
    )
    registered = fields.Integer(
        strict=True,
        validate=COUNT,
        metadata={"description": "Inscrits, if the election has a register."},
    )
    reported_at = fields.AwareDateTime(metadata={"description": "When the bureau reported; default: now."})
    reason = fields.String(
        validate=validate.Length(max=2_000), metadata={"description": "Required for a correction."}
    )


class CheckpointInputSchema(Schema):
    class Meta:
        unknown = RAISE

    voters = fields.Integer(
        required=True, strict=True, validate=COUNT, metadata={"description": "Voters so far."}
    )
    reported_at = fields.AwareDateTime()
    reason = fields.String(validate=validate.Length(max=2_000))


class UploadSchema(Schema):
    """A multipart/form-data body: the file and, for a correction, its reason."""

    file = Upload(
        required=True,
        metadata={"description": "tabulator CSV, XLSX or the ministry's layout (plain or gzipped)."},
    )
    reason = fields.String(
        validate=validate.Length(max=2_000),
        metadata={"description": "Required if the file corrects returns."},
    )


class CodeCountSchema(Schema):
    count = fields.Integer(required=True)
    first = fields.List(fields.String(), required=True, metadata={"description": "The first bureaux (5)."})


class WriteReportSchema(Schema):
    created = fields.Integer(required=True)
    corrected = fields.Integer(required=True)
    unchanged = fields.Integer(required=True)
    flagged = fields.Integer(required=True, metadata={"description": "Returns that tripped a warning."})
    held = fields.Integer(
        required=True,
        metadata={
            "description": "Held for a supervisor: a warning, or two clerks who disagree (GET …/review)."
        },
    )
    waiting = fields.Integer(
        required=True,
        metadata={"description": "Double entry: waiting for a second clerk's identical counts."},
    )
    sequence = fields.Integer(
        allow_none=True,
        required=True,
        metadata={"description": "The new sequence; null when nothing changed."},
    )
    version = fields.Integer(
        allow_none=True,
        metadata={"description": "For one return: its version now; send it as If-Match next time."},
    )
    warnings = fields.List(fields.Nested(ErrorSchema), required=True)
    by_code = fields.Dict(
        keys=fields.String(),
        values=fields.Nested(CodeCountSchema),
        required=True,
        metadata={"description": "Per warning code: how many returns tripped it, and the first bureaux."},
    )


WRITE_REPORT = WriteReportSchema()


class DecisionSchema(Schema):
    class Meta:
        unknown = RAISE

    decision = fields.String(required=True, validate=validate.OneOf(["accept", "reject"]))
    reason = fields.String(
        validate=validate.Length(max=2_000),
        metadata={"description": "Why; required to accept over a published return (a correction)."},
    )


class PublishedReturnSchema(ReturnCountsSchema):
    version = fields.Integer(required=True)


class EntrySchema(ReturnCountsSchema):
    id = fields.Integer(required=True, metadata={"description": "POST …/review/{id} to decide on it."})
    bureau = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={
            "description": "`held` (a warning), `mismatch` (clerks disagree), `first_entry` (waiting "
            "for a second clerk)."
        },
    )
    author = fields.String(required=True, metadata={"description": "The token that entered it."})
    person = fields.String(
        required=True,
        metadata={"description": "Who holds that token: double entry needs two different people."},
    )
    registered = fields.Integer(allow_none=True, required=True)
    warnings = fields.List(fields.String(), required=True)
    warning_notes = fields.List(
        fields.Nested(WarningNoteSchema),
        required=True,
        metadata={"description": "Each warning in full: the sentence with its figures, and its score."},
    )
    unusual = fields.Float(
        required=True,
        metadata={
            "description": "The highest score of its warnings (0 for a fixed-share warning or none): "
            "`?order=unusual` sorts by it."
        },
    )
    reported_at = fields.DateTime(allow_none=True, required=True)
    entered_at = fields.DateTime(required=True)
    published = fields.Nested(
        PublishedReturnSchema,
        allow_none=True,
        required=True,
        metadata={"description": "The bureau's published return, if it has one."},
    )


class ReviewSchema(Schema):
    election = fields.String(required=True)
    round = fields.Integer(required=True)
    flagged_returns = fields.String(required=True)
    double_entry = fields.Boolean(required=True)
    by_code = fields.Dict(
        keys=fields.String(),
        values=fields.Integer(),
        required=True,
        metadata={"description": "Waiting entries per warning code, whatever the filter."},
    )
    entries = fields.List(fields.Nested(EntrySchema), required=True)


class CodeWarningsSchema(Schema):
    published = fields.Integer(required=True, metadata={"description": "Published returns that trip it now."})
    waiting = fields.Integer(required=True, metadata={"description": "Waiting entries (GET …/review)."})
    first = fields.List(
        fields.String(), required=True, metadata={"description": "The first such bureaux published (5)."}
    )


class WarningCountsSchema(Schema):
    election = fields.String(required=True)
    round = fields.Integer(required=True)
    sequence = fields.Integer(required=True)
    published_flagged = fields.Integer(
        required=True, metadata={"description": "Published returns with at least one warning."}
    )
    waiting_flagged = fields.Integer(
        required=True, metadata={"description": "Waiting entries with at least one warning."}
    )
    by_code = fields.Dict(keys=fields.String(), values=fields.Nested(CodeWarningsSchema), required=True)


WARNING_COUNTS = WarningCountsSchema()
WARNING_CODE = validate.Regexp(r"^[a-z_]{1,40}$", error="must be a warning code, like blank_null_swapped.")


class ReviewQuerySchema(Schema):
    warning = fields.String(
        validate=WARNING_CODE, metadata={"description": "Only the entries that tripped this warning."}
    )
    order = fields.String(
        load_default="arrival",
        validate=validate.OneOf(("arrival", "unusual")),
        metadata={"description": "`arrival` (oldest first) or `unusual` (highest score first)."},
    )


REVIEW = ReviewSchema()


# A text filter compared in the database: PostgreSQL's text holds no NUL character, and refuses a query
# that carries one; no name or path has one, so it is refused here (400), never there (500).
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain a NUL character.")


class AuditQuerySchema(Schema):
    actor = fields.String(validate=NO_NUL, metadata={"description": "The token's name."})
    status = fields.Integer(
        validate=validate.Range(min=100, max=599), metadata={"description": "HTTP status of the answer."}
    )
    path = fields.String(
        validate=NO_NUL, metadata={"description": "A prefix of the request path, e.g. an election's."}
    )
    since = fields.AwareDateTime(metadata={"description": "Entries from this time on."})
    after = fields.Integer(
        load_default=0,
        validate=validate.Range(min=0, max=2**31 - 1),
        metadata={"description": "The `next` of the previous page."},
    )
    limit = fields.Integer(
        load_default=500,
        validate=validate.Range(min=1, max=5000),
        metadata={"description": "At most this many entries in the answer (1 to 5,000)."},
    )


class AuditEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor = fields.String(allow_none=True, required=True)
    role = fields.String(allow_none=True, required=True)
    remote_addr = fields.String(allow_none=True, required=True)
    method = fields.String(required=True)
    path = fields.String(required=True)
    sent = fields.String(required=True)
    status = fields.Integer(required=True)
    outcome = fields.String(required=True)
    sequence = fields.Integer(allow_none=True, required=True)


class AuditPageSchema(Schema):
    entries = fields.List(fields.Nested(AuditEntrySchema), required=True)
    next = fields.Integer(required=True, metadata={"description": "Pass it as `after` for the next page."})


AUDIT_PAGE = AuditPageSchema()


def _threshold_field(name: str, low: float, high: float) -> fields.Integer | fields.Float:
    within = validate.Range(min=low, max=high)
    metadata = {"description": f"From {low} to {high}."}
    if name in WHOLE_THRESHOLDS:
        return fields.Integer(strict=True, validate=within, metadata=metadata)
    return fields.Float(validate=within, metadata=metadata)


# A round's own warning thresholds: any of tabulator.rules.THRESHOLD_RANGES, each within its range.
WarningThresholdsSchema = Schema.from_dict(
    {name: _threshold_field(name, *limits) for name, limits in THRESHOLD_RANGES.items()},
    name="WarningThresholdsSchema",
)


class RoundUpdateSchema(Schema):
    """What a supervisor may change of a round."""

    class Meta:
        unknown = RAISE

    status = fields.String(validate=validate.OneOf(list(ROUND_STATUSES)))
    results_not_before = fields.AwareDateTime(
        allow_none=True, metadata={"description": "No result is published before this time; null lifts it."}
    )
    test = fields.Boolean(metadata={"description": "A rehearsal: flagged in every payload."})
    flagged_returns = fields.String(
        validate=validate.OneOf(["hold", "publish"]),
        metadata={"description": "Clerks' returns with a warning: hold them for review, or publish them."},
    )
    double_entry = fields.Boolean(metadata={"description": "Publish a clerk's return once two clerks agree."})
    projection = fields.String(
        validate=validate.OneOf(PROJECTION_SETTINGS), metadata={"description": PROJECTION_SETTING}
    )
    # Not nullable: OpenAPI 3.0 can only say "null or this object" as "any object or this one".
    warning_thresholds = fields.Nested(
        WarningThresholdsSchema,
        metadata={
            "description": "The round's own warning thresholds (docs/warnings.md), replacing those set "
            "before; {} gives the service's settings back."
        },
    )
    reason = fields.String(
        validate=validate.Length(max=2_000),
        metadata={
            "description": "Why, for a change that needs a second person's confirmation; certifying a "
            "round with bureaux missing, or still marked test, needs one (from either person)."
        },
    )


class ConfirmationSchema(Schema):
    """A change of a round that one person asked for and a second must confirm (four eyes)."""

    id = fields.Integer(
        required=True, metadata={"description": "POST …/confirmations/{id} to confirm or cancel it."}
    )
    election = fields.String(required=True)
    round = fields.Integer(required=True)
    changes = fields.Dict(
        keys=fields.String(),
        required=True,
        metadata={"description": "The round's fields as asked, applied together once confirmed."},
    )
    reason = fields.String(allow_none=True, required=True, metadata={"description": "The asker's reason."})
    status = fields.String(
        required=True,
        validate=validate.OneOf(["pending", "confirmed", "cancelled"]),
        metadata={"description": "`pending` (waits for a second person), `confirmed` or `cancelled`."},
    )
    requested_by = fields.String(required=True, metadata={"description": "The asker's token."})
    requested_person = fields.String(required=True, metadata={"description": "Who holds it."})
    requested_at = fields.DateTime(required=True)
    expires_at = fields.DateTime(
        required=True, metadata={"description": "A confirmation after this time is refused (409)."}
    )
    decided_by = fields.String(allow_none=True, required=True)
    decided_person = fields.String(allow_none=True, required=True)
    decided_at = fields.DateTime(allow_none=True, required=True)
    decision_reason = fields.String(allow_none=True, required=True)


class ConfirmationListSchema(Schema):
    election = fields.String(required=True)
    round = fields.Integer(required=True)
    confirmations = fields.List(fields.Nested(ConfirmationSchema), required=True)


class ConfirmationDecisionSchema(Schema):
    class Meta:
        unknown = RAISE

    decision = fields.String(required=True, validate=validate.OneOf(["confirm", "cancel"]))
    reason = fields.String(
        validate=validate.Length(max=2_000),
        metadata={"description": "Why; needed to certify a round with bureaux missing or still marked test."},
    )


CONFIRMATION = ConfirmationSchema()
CONFIRMATIONS = ConfirmationListSchema()
