"""`…/projection` on the replayed primary night: an estimate beside the counted figures, never in them."""

from __future__ import annotations

import re

from api import store
from api.store import accounts
from api.web import projections
from api.web.state import state_of
from tabulator.ingest import read_checkpoints_csv
from tests.api.conftest import bearer
from tests.api.test_pages import API, PAGE, loaded
from tests.api.test_primaire_2017 import ELECTION, FOLDER, replay_round_2, tabulator

CONTEXT_2030 = {
    "election": ELECTION,
    "round": 2,
    "as_of": "2017-01-29T19:29:51+00:00",
    "bureaux_reported": 4_322,
    "bureaux_total": 7_208,
    "status": "partial",
    "test": False,
}
METHOD = (
    "An estimate, not a count: a mixed model of the counted bureaux (previous round, size, département, the "
    "day's turnout) predicts those still waiting; 90 % intervals. docs/projection.md."
)


def night(database_url, make_app):
    """The primary loaded, round 2's turnout recorded, and its returns replayed up to 20:30; then the rest."""
    tabulator(database_url, "load-election", str(FOLDER), "--rounds", "1")
    app = make_app(head_cache_seconds=0)
    engine = state_of(app).engine
    store.record_checkpoints(
        engine,
        ELECTION,
        2,
        read_checkpoints_csv((FOLDER / "round-2" / "turnout.csv").read_bytes()),
        author="t",
    )
    replay = replay_round_2(engine, ["20:30"])
    next(replay)
    return app.test_client(), replay


def without_times(document):
    return {key: value for key, value in document.items() if key not in ("sequence", "published_at")}


def test_at_2030_the_nation_and_paris_are_estimated_with_their_intervals(database_url, make_app):
    client, replay = night(database_url, make_app)
    nation = client.get(f"{API}/projection").get_json()
    paris = client.get(f"{API}/projection/departement/75").get_json()
    next(replay)  # the rest of the night
    final = client.get(f"{API}/results").get_json()["results"]["candidates"][0]

    # 4,322 bureaux counted, Hamon at 58.65 %: the model carries round 1's lean to the 2,886 still waiting
    # and expects them a little less his. The shipped night's later windows were made to end at 58.88 %
    # whatever that lean says, which no count of the bureaux in by 20:30 can see; the interval allows the
    # waiting bureaux together a lean of a point that no count shows (LATE_LEAN), and holds it.
    assert without_times(nation) == {
        **CONTEXT_2030,
        "area": {"level": "national", "code": "FR", "name": "France"},
        "estimate": True,
        "method": METHOD,
        "projection": {
            "interval": 0.9,
            "bureaux_counted": 4_322,
            "bureaux_total": 7_208,
            "voters": {"value": 2_053_585, "low": 2_037_741, "high": 2_069_429},
            "candidates": [
                {
                    "id": "hamon",
                    "name": "Benoît Hamon",
                    "pct_valid": 58.42,
                    "pct_valid_low": 57.65,
                    "pct_valid_high": 59.19,
                },
                {
                    "id": "valls",
                    "name": "Manuel Valls",
                    "pct_valid": 41.58,
                    "pct_valid_low": 40.81,
                    "pct_valid_high": 42.35,
                },
            ],
            "leader": "hamon",
            "leader_stays_ahead": 1.0,
        },
        "reason": None,
    }
    assert without_times(paris) == {
        **CONTEXT_2030,
        "area": {"level": "departement", "code": "75", "name": "Paris"},
        "estimate": True,
        "method": METHOD,
        "projection": {
            "interval": 0.9,
            "bureaux_counted": 132,
            "bureaux_total": 237,
            "voters": {"value": 75_346, "low": 74_594, "high": 76_097},
            "candidates": [
                {
                    "id": "hamon",
                    "name": "Benoît Hamon",
                    "pct_valid": 48.14,
                    "pct_valid_low": 47.19,
                    "pct_valid_high": 49.08,
                },
                {
                    "id": "valls",
                    "name": "Manuel Valls",
                    "pct_valid": 51.86,
                    "pct_valid_low": 50.92,
                    "pct_valid_high": 52.81,
                },
            ],
            "leader": "valls",  # Paris's own counted leader, whose odds are the round's runner-up's
            "leader_stays_ahead": 0.999,
        },
        "reason": None,
    }
    hamon = nation["projection"]["candidates"][0]
    assert (final["id"], final["pct_valid"]) == ("hamon", 58.88)
    assert hamon["pct_valid_low"] < final["pct_valid"] < hamon["pct_valid_high"]
    # The counted figures know nothing of it.
    assert "projection" not in client.get(f"{API}/results").get_json()["results"]


def test_a_snapshot_s_estimate_never_changes_and_the_last_one_is_the_count(database_url, make_app):
    client, replay = night(database_url, make_app)
    at_2030 = client.get(f"{API}/projection").get_json()
    sequence = at_2030["sequence"]
    next(replay)  # the rest of the night, its corrections included
    final = client.get(f"{API}/projection").get_json()
    counted = client.get(f"{API}/results").get_json()["results"]

    assert client.get(f"{API}/snapshots/{sequence}/projection").get_json() == at_2030
    # Every bureau counted: the estimate is the count, with no width.
    assert final["projection"]["bureaux_counted"] == final["projection"]["bureaux_total"] == 7_208
    assert [
        (c["id"], c["pct_valid"], c["pct_valid_low"], c["pct_valid_high"])
        for c in final["projection"]["candidates"]
    ] == [(c["id"], c["pct_valid"], c["pct_valid"], c["pct_valid"]) for c in counted["candidates"]]
    assert final["projection"]["voters"] == dict.fromkeys(("value", "low", "high"), counted["voters"])


def test_before_enough_bureaux_are_counted_there_is_no_estimate_and_a_bureau_has_none(database_url, make_app):
    client, _ = loaded(database_url, make_app, replay=False)
    empty = client.get(f"{API}/projection").get_json()
    csv = client.get(f"{API}/projection.csv")

    assert (empty["projection"], empty["reason"], empty["estimate"]) == (
        None,
        "Fewer than 20 bureaux counted.",
        True,
    )
    assert csv.get_data(as_text=True) == (
        "level,code,name,candidate,pct_valid,pct_valid_low,pct_valid_high,leader_stays_ahead,voters,"
        "voters_low,voters_high,bureaux_counted,bureaux_total,sequence,as_of,published_at,status,test\r\n"
    )
    bureau = client.get(f"{API}/projection/bureau/75-01-0001")
    assert (bureau.status_code, bureau.get_json()["errors"][0]["code"]) == (404, "not_found")


def test_the_csv_form_has_a_row_per_candidate(database_url, make_app):
    client, _ = night(database_url, make_app)
    document = client.get(f"{API}/projection/departement/75").get_json()
    csv = client.get(f"{API}/projection/departement/75.csv")
    context = f"{document['sequence']},2017-01-29T19:29:51+00:00,{document['published_at']},partial,false"

    assert (csv.status_code, csv.mimetype, csv.headers["ETag"]) == (
        200,
        "text/csv",
        f'W/"{document["sequence"]}-csv"',
    )
    assert csv.get_data(as_text=True).splitlines()[1:] == [
        f"departement,75,Paris,hamon,48.14,47.19,49.08,,75346,74594,76097,132,237,{context}",
        f"departement,75,Paris,valls,51.86,50.92,52.81,0.999,75346,74594,76097,132,237,{context}",
    ]


def test_a_supervisor_turns_the_projection_off_or_public(database_url, make_app):
    client, _ = night(database_url, make_app)
    engine = state_of(client.application).engine
    supervisor = bearer(accounts.create_token(engine, "supervisor one", "supervisor")[1])
    clerk = bearer(accounts.create_token(engine, "clerk one", "clerk")[1])
    round_ = client.get(API).get_json()

    refused = client.patch(API, json={"projection": "everyone"}, headers=supervisor)
    by_a_clerk = client.patch(API, json={"projection": "off"}, headers=clerk)
    off = client.patch(API, json={"projection": "off"}, headers=supervisor)
    gone = client.get(f"{API}/projection")
    public = client.patch(API, json={"projection": "public"}, headers=supervisor)

    assert round_["projection"] == "newsrooms"  # the default: in the API, not on the page
    assert (refused.status_code, refused.get_json()["errors"][0]["field"]) == (400, "projection")
    assert by_a_clerk.status_code == 403
    assert (off.status_code, off.get_json()["projection"]) == (200, "off")
    assert (gone.status_code, gone.get_json()["errors"][0]["message"]) == (
        404,
        "Round 2 has no projection: its setting is off.",
    )
    assert (public.status_code, public.get_json()["projection"]) == (200, "public")
    assert client.get(f"{API}/projection").get_json()["projection"]["bureaux_counted"] == 4_322


def test_turned_off_no_estimate_is_served_again_not_even_a_snapshot_a_worker_keeps(database_url, make_app):
    client, _ = night(database_url, make_app)
    engine = state_of(client.application).engine
    live = client.get(f"{API}/projection")
    snapshot = client.get(f"{API}/snapshots/{live.get_json()['sequence']}/projection")
    store.update_round(engine, ELECTION, 2, projection="off")

    # A snapshot of an estimate is kept by caches no longer than the latest: the setting may take it back.
    assert (snapshot.status_code, snapshot.headers["Cache-Control"]) == (200, live.headers["Cache-Control"])
    for path in ("projection", f"snapshots/{live.get_json()['sequence']}/projection", "projection.csv"):
        assert client.get(f"{API}/{path}").status_code == 404, path


def estimates(html: str) -> list[str]:
    return re.findall(r'<span class="estimate" data-field="estimate"[^>]*>([^<]*)</span>', html)


def test_the_page_shows_the_estimate_only_when_the_round_makes_it_public_and_labels_it(
    database_url, make_app
):
    client, _ = night(database_url, make_app)
    engine = state_of(client.application).engine
    newsrooms = client.get(PAGE).get_data(as_text=True)
    store.update_round(engine, ELECTION, 2, projection="public")
    public = client.get(PAGE).get_data(as_text=True)
    english = client.get(f"{PAGE}departement/75?lang=en").get_data(as_text=True)
    bureau = client.get(f"{PAGE}bureau/75-01-0001").get_data(as_text=True)

    # The default: in the API for newsrooms, nothing of it on the page.
    # (The page's script carries the words it would need, never a figure.)
    assert (
        estimates(newsrooms),
        'class="estimate-note"' in newsrooms,
        "data-projection" in newsrooms,
        "data-band" in newsrooms,
        "band_legend" in newsrooms,
    ) == ([], False, False, False, False)
    assert estimates(public) == [
        "estimation\u00a0: 58,42\u202f% (57,65 – 59,19)",
        "estimation\u00a0: 41,58\u202f% (40,81 – 42,35)",
    ]
    assert (
        "Estimation du résultat final à partir des 4\u202f322 bureaux dépouillés, "
        "intervalle à 90\u202f%\u00a0: ce n’est pas un décompte."
    ) in public
    assert f'data-projection="{API}/projection"' in public
    # The evening's chart: page.js draws the band from this document, and shows its legend then.
    assert f'data-band="{API}/projection/timeline"' in public
    assert (
        '<li data-field="band_legend" hidden><span class="swatch band" aria-hidden="true"></span>'
        "Estimation du résultat final des deux premiers, intervalle à 90\u202f% (bande)</li>"
    ) in public
    assert estimates(english) == ["estimate: 48.14% (47.19–49.08)", "estimate: 51.86% (50.92–52.81)"]
    assert "Estimate of the final result from the 132 bureaux counted, 90% interval: not a count." in english
    # A département with nothing counted yet shows no estimate: it would be the model's alone.
    feed = client.get(f"{API}/results/departement").get_json()["areas"]
    empty = next(row["code"] for row in feed if row["bureaux_reported"] == 0)
    nothing = client.get(f"{PAGE}departement/{empty}").get_data(as_text=True)
    assert (
        client.get(f"{API}/projection/departement/{empty}").get_json()["projection"]["bureaux_counted"] == 0
    )
    assert (estimates(nothing), 'class="estimate-note"' in nothing) == (["", ""], True)
    assert re.search(r'<p class="estimate-note" data-field="estimate_note" hidden></p>', nothing)
    # A bureau's page shows its count, which is its result.
    assert (estimates(bureau), 'class="estimate-note"' in bureau, "data-projection" in bureau) == (
        [],
        False,
        False,
    )


def test_a_worker_fits_the_model_once_per_sequence_for_every_area(database_url, make_app, monkeypatch):
    client, replay = night(database_url, make_app)
    fits = []
    fit = projections.documents.projection_model
    monkeypatch.setattr(projections.documents, "projection_model", lambda view: fits.append(1) or fit(view))

    for path in ("", "/departement/75", "/region/11", "/departement/13.csv"):
        assert client.get(f"{API}/projection{path}").status_code == 200
    next(replay)
    assert client.get(f"{API}/projection").status_code == 200
    assert len(fits) == 2  # 20:30, then the end of the night


def test_the_evening_s_estimates_are_each_publication_s_own(database_url, make_app):
    """The night replayed as a publication every five minutes: the band's points are the first publications
    past each further 5 % of the bureaux, each its own snapshot's estimate, and the latest."""
    client, engine = loaded(database_url, make_app, replay=False)
    every_five_minutes = [f"{hour}:{minute:02}" for hour in range(19, 23) for minute in range(0, 60, 5)]
    for _ in replay_round_2(engine, every_five_minutes):
        pass
    document = client.get(f"{API}/projection/timeline").get_json()
    csv = client.get(f"{API}/projection/timeline.csv").get_data(as_text=True).splitlines()

    points = [(p["sequence"], p["projection"]["bureaux_counted"]) for p in document["timeline"]]
    # 5 % of 7,208 bureaux is 360.4: the first publication with 20 counted, then past 361, 721, 1,082, …
    assert points == [
        (2, 62),
        (5, 389),
        (7, 765),
        (9, 1_294),
        (10, 1_617),
        (11, 1_927),
        (12, 2_309),
        (13, 2_703),
        (14, 3_119),
        (15, 3_544),
        (16, 3_967),
        (18, 4_547),
        (19, 4_773),
        (21, 5_161),
        (23, 5_534),
        (25, 5_847),
        (28, 6_136),
        (33, 6_516),
        (41, 6_857),
        (48, 7_208),
    ]
    assert document["sequence"] == 48 and document["estimate"] is True
    for point in document["timeline"]:
        snapshot = client.get(f"{API}/snapshots/{point['sequence']}/projection").get_json()
        assert (point["as_of"], point["published_at"], point["projection"]) == (
            snapshot["as_of"],
            snapshot["published_at"],
            snapshot["projection"],
        )
    first_published = document["timeline"][0]["published_at"]
    assert csv[:3] == [
        "sequence,as_of,published_at,bureaux_counted,bureaux_total,candidate,pct_valid,pct_valid_low,"
        "pct_valid_high,leader_stays_ahead,test",
        f"2,2017-01-29T18:14:56+00:00,{first_published},62,7208,hamon,58.45,56.69,60.21,1.0,false",
        f"2,2017-01-29T18:14:56+00:00,{first_published},62,7208,valls,41.55,39.79,43.31,,false",
    ]
    assert len(csv) == 1 + 2 * len(points)

    store.update_round(engine, ELECTION, 2, projection="off")
    assert [
        client.get(path).status_code
        for path in (f"{API}/projection/timeline", f"{API}/snapshots/33/projection/timeline")
    ] == [404, 404]
