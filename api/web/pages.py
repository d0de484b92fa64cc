"""The public results pages: server-rendered HTML, in French first and in English with `?lang=en`.

Every figure comes from the same documents as the JSON API (`api.documents`: `results_of`, `turnout_of`,
`timeline`, `corrections_of`) read from one view of the round, so a page and the API agree at any sequence.
The numbers are in the HTML as served; `static/page/page.js` only refreshes them when a new sequence is
published. Registered on the Flask app directly, not through flask-smorest: pages are not in the API spec.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, redirect, render_template, request
from markupsafe import Markup
from sqlalchemy import Engine
from werkzeug.wrappers import Response as BaseResponse

from api import documents, store
from api.store import feeds, open_view
from api.store.db import reading
from api.store.results import STATUSES, View
from api.web.http import NO_CACHE, WHOLE, rendered_bytes, respond
from api.web.results_map import LEVEL as MAP_LEVEL
from api.web.results_map import ResultsMap, results_map
from api.web.results_map import Words as MapWords
from api.web.state import app_state

blueprint = Blueprint("pages", __name__)
PAGE = f"/elections/<election>/rounds/<{WHOLE}:number>"
STATIC = Path(__file__).resolve().parent / "static"
PARIS = ZoneInfo("Europe/Paris")

# French typography: a narrow no-break space groups thousands and precedes "%"; page.js uses the same.
NNBSP = "\u202f"
MINUS = "\u2212"
# One colour per ballot position; each keeps at least 4.5:1 against the white page (WCAG AA for text, and
# so more than the 3:1 asked of graphics), so a bar or a line is never the only faint thing on screen.
PALETTE = (
    "#1d5fa6",
    "#b3261e",
    "#2e6b30",
    "#7b1fa2",
    "#9a4a00",
    "#00695c",
    "#ad1457",
    "#4a5a66",
    "#5d4037",
    "#283593",
    "#6b6b00",
    "#6a1b9a",
)
SEARCH_LIMIT = 100
CHART_POINTS = 60  # the evening's chart and its table keep at most this many publications
CORRECTIONS_SHOWN = 100
# Pages may be framed by this site only; the embed is made to be framed by anyone.
SECURITY = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors {}"


def takes_singular(count: int, lang: str) -> bool:
    """French puts 0 and 1 in the singular ("0 bureau", "1 bureau", "2 bureaux"), English only 1."""
    return count <= 1 if lang == "fr" else count == 1


class Agreeing(str):
    """A sentence whose noun agrees with a count in it. As a string it is the plural form (what page.js
    fills in); `format` takes the singular form when the count asks for it. The count is read from the
    value given for the placeholder named `counted`: an int, or a figure as `number` wrote it ("4 322")."""

    singular: str
    counted: str
    lang: str

    def __new__(cls, plural: str, singular: str, *, counted: str, lang: str) -> Agreeing:
        sentence = super().__new__(cls, plural)
        sentence.singular, sentence.counted, sentence.lang = singular, counted, lang
        return sentence

    def format(self, *args: object, **values: object) -> str:
        template = self.singular if _is_singular(values.get(self.counted), self.lang) else str(self)
        return template.format(*args, **values)


def _is_singular(value: object, lang: str) -> bool:
    if isinstance(value, int):
        return takes_singular(value, lang)
    digits = "".join(c for c in str(value) if c.isdigit())  # without the thousands separators
    return bool(digits) and takes_singular(int(digits), lang)  # "—", no figure: the plural


TEXT: dict[str, dict[str, str]] = {
    "fr": {
        "site": "Résultats",
        "round": "{n}{suffix} tour",
        "results": "Résultats",
        "votes": "voix",
        "pct_valid": "En pourcentage des suffrages exprimés",
        "map": "Carte des départements",
        "map_title": "{name} : {leader} en tête, {pct}, {margin} points d’avance",
        "map_nothing": "{name} : aucun bureau dépouillé",
        "map_nothing_legend": "Aucun bureau dépouillé",
        "map_shades": "Avance sur le deuxième :",
        "map_below": "moins de {points} points",
        "map_above": "{points} points et plus",
        "map_credit": "Contours : {credit} (Licence Ouverte).",
        "map_table": "Les départements en tableau",
        "map_squares": "En bas à droite, un carré pour chaque collectivité d’outre-mer.",
        "estimate": "estimation : {pct} ({low} – {high})",
        "band_legend": "Estimation du résultat final des deux premiers, intervalle à 90 % (bande)",
        "estimate_note": Agreeing(
            "Estimation du résultat final à partir des {counted} bureaux dépouillés, intervalle à 90 %"
            " : ce n’est pas un décompte.",
            "Estimation du résultat final à partir de {counted} bureau dépouillé, intervalle à 90 %"
            " : ce n’est pas un décompte.",
            counted="counted",
            lang="fr",
        ),
        "voters": "Votants",
        "blank": "Blancs",
        "null": "Nuls",
        "valid": "Exprimés",
        "of_voters": "des votants",
        "bureaux": "Bureaux dépouillés",
        "as_of": "Données arrêtées à {as_of}, publiées à {published_at}",
        "as_of_dated": "Données arrêtées le {as_of_date} à {as_of}, "
        "publiées le {published_date} à {published_at}",
        "no_data": "Aucun résultat publié pour l’instant",
        "status": "Statut",
        "colon": "\u00a0:",
        "partial": "partiel",
        "complete": "complet",
        "certified": "certifié",
        "test": "Tour de test : ces chiffres ne sont pas des résultats réels.",
        "change": "Participation par rapport au tour précédent",
        "change_text": Agreeing(
            "{change} à bureaux comparables ({matched} bureaux)",
            "{change} à bureaux comparables ({matched} bureau)",
            counted="matched",
            lang="fr",
        ),
        "breadcrumbs": "Fil d’Ariane",
        "children": "Détail par zone",
        "children_caption": "Résultats par {level}, cliquer sur un en-tête pour trier",
        "children_by": "Détail par {level}",
        "area": "Zone",
        "leader": "En tête",
        "search": "Rechercher {what}",
        "or": "ou",
        "search_button": "Rechercher",
        "search_title": "Recherche",
        "search_results": Agreeing(
            "{count} résultats pour « {q} »", "{count} résultat pour « {q} »", counted="count", lang="fr"
        ),
        "search_more": "Seuls les {limit} premiers sont affichés ; précisez la recherche.",
        "search_none": "Aucune zone ni aucun bureau ne correspond à « {q} ».",
        "evening": "La soirée électorale",
        "chart_desc": "Part de chaque candidat dans les suffrages exprimés et part des bureaux dépouillés, "
        "à chaque publication.",
        "chart_table": "Les données du graphique",
        "chart_caption": "Chaque publication de la soirée",
        "chart_sampled": "({shown} publications sur {total})",
        "time": "Heure",
        "sequence": "Publication",
        "bureaux_share": "bureaux dépouillés",
        "turnout": "Participation en cours de journée",
        "turnout_caption": "Votants aux heures de relevé, et leur évolution à bureaux comparables",
        "like_for_like": "Évolution à bureaux comparables",
        "change_short": Agreeing(
            "{change} ({matched} bureaux)", "{change} ({matched} bureau)", counted="matched", lang="fr"
        ),
        "turnout_bureaux": "Bureaux ayant transmis",
        "updated": Agreeing(
            "Mis à jour à {time} · {reported} bureaux sur {total}",
            "Mis à jour à {time} · {reported} bureau sur {total}",
            counted="reported",
            lang="fr",
        ),
        "corrections": "Corrections",
        "corrections_caption": "Corrections apportées aux résultats des bureaux",
        "corrections_none": "Aucune correction.",
        "corrections_more": "Les {shown} plus récentes sur {total}.",
        "bureau": "Bureau",
        "before_after": "Avant → après",
        "reason": "Motif",
        "versions": "Versions du résultat de ce bureau",
        "version": "Version",
        "embargo_title": "Résultats à venir",
        "embargo": "Aucun résultat ne peut être publié avant la fermeture des derniers bureaux de vote. "
        "Les résultats seront publiés à partir de {time}.",
        "remaining": "Temps restant",
        "not_found": "Page introuvable",
        "home": "Résultats nationaux",
        "full_page": "Tous les résultats",
        "no_election": "Aucune élection n’est encore chargée.",
        "api": "Les données (API)",
        "download": "Télécharger les données",
        "hours": "h",
        "minutes": "min",
        "seconds": "s",
        "national": "France",
        "region": "région",
        "departement": "département",
        "circonscription": "circonscription",
        "commune": "commune",
        "bureau_level": "bureau",
        "description": "Résultats du {round}, {election}, {area} : voix, participation et bureaux "
        "dépouillés, mis à jour en direct.",
        "description_embargo": "Résultats du {round}, {election} : publiés à partir de {time}, "
        "à la fermeture des derniers bureaux de vote.",
        "description_search": "Rechercher une zone ou un bureau de vote : résultats du {round}, {election}.",
    },
    "en": {
        "site": "Results",
        "round": "Round {n}",
        "results": "Results",
        "votes": "votes",
        "pct_valid": "Share of valid votes",
        "map": "Map of the départements",
        "map_title": "{name}: {leader} leads with {pct}, by {margin} points",
        "map_nothing": "{name}: no bureau counted yet",
        "map_nothing_legend": "No bureau counted yet",
        "map_shades": "Lead over the runner-up:",
        "map_below": "under {points} points",
        "map_above": "{points} points or more",
        "map_credit": "Outlines: {credit} (Licence Ouverte).",
        "map_table": "The départements as a table",
        "map_squares": "Bottom right, a square for each overseas collectivité.",
        "estimate": "estimate: {pct} ({low}–{high})",
        "band_legend": "Estimate of the final result of the first two, 90% interval (band)",
        "estimate_note": Agreeing(
            "Estimate of the final result from the {counted} bureaux counted, 90% interval: not a count.",
            "Estimate of the final result from the {counted} bureau counted, 90% interval: not a count.",
            counted="counted",
            lang="en",
        ),
        "voters": "Voters",
        "blank": "Blank",
        "null": "Spoilt",
        "valid": "Valid",
        "of_voters": "of voters",
        "bureaux": "Polling stations counted",
        "as_of": "Data as of {as_of}, published at {published_at} (Paris time)",
        "as_of_dated": "Data as of {as_of} on {as_of_date}, published at {published_at} on {published_date} "
        "(Paris time)",
        "no_data": "No results published yet",
        "status": "Status",
        "colon": ":",
        "partial": "partial",
        "complete": "complete",
        "certified": "certified",
        "test": "Test round: these figures are not real results.",
        "change": "Turnout against the previous round",
        "change_text": Agreeing(
            "{change} like for like ({matched} polling stations)",
            "{change} like for like ({matched} polling station)",
            counted="matched",
            lang="en",
        ),
        "breadcrumbs": "Breadcrumbs",
        "children": "By area",
        "children_caption": "Results by {level}; click a column header to sort",
        "children_by": "By {level}",
        "area": "Area",
        "leader": "Leading",
        "search": "Search for {what}",
        "or": "or",
        "search_button": "Search",
        "search_title": "Search",
        "search_results": Agreeing(
            "{count} results for “{q}”", "{count} result for “{q}”", counted="count", lang="en"
        ),
        "search_more": "Only the first {limit} are shown; narrow the search.",
        "search_none": "No area or polling station matches “{q}”.",
        "evening": "The election night",
        "chart_desc": "Each candidate's share of the valid votes and the share of polling stations counted, "
        "at each publication.",
        "chart_table": "The chart's data",
        "chart_caption": "Each publication of the night",
        "chart_sampled": "({shown} publications of {total})",
        "time": "Time",
        "sequence": "Publication",
        "bureaux_share": "stations counted",
        "turnout": "Turnout during the day",
        "turnout_caption": "Voters at each checkpoint, and the change like for like",
        "like_for_like": "Change like for like",
        "change_short": Agreeing(
            "{change} ({matched} polling stations)",
            "{change} ({matched} polling station)",
            counted="matched",
            lang="en",
        ),
        "turnout_bureaux": "Polling stations reporting",
        "corrections": "Corrections",
        "corrections_caption": "Corrections made to polling stations' results",
        "updated": "Updated at {time} · {reported} of {total} polling stations",
        "corrections_none": "No corrections.",
        "corrections_more": "The latest {shown} of {total}.",
        "bureau": "Polling station",
        "before_after": "Before → after",
        "reason": "Reason",
        "versions": "Versions of this polling station's return",
        "version": "Version",
        "embargo_title": "Results to come",
        "embargo": "No result may be published before the last polling stations close. "
        "Results will be published from {time} (Paris time).",
        "remaining": "Time left",
        "not_found": "Page not found",
        "home": "National results",
        "full_page": "All results",
        "no_election": "No election is loaded yet.",
        "api": "The data (API)",
        "download": "Download the data",
        "hours": "h",
        "minutes": "min",
        "seconds": "s",
        "national": "France",
        "region": "region",
        "departement": "département",
        "circonscription": "constituency",
        "commune": "commune",
        "bureau_level": "polling station",
        "description": "Results of {election}, {round}, {area}: votes, turnout and polling stations "
        "counted, updated live.",
        "description_embargo": "Results of {election}, {round}: published from {time} (Paris time), "
        "once the last polling stations close.",
        "description_search": "Find an area or a polling station: results of {election}, {round}.",
    },
}
# What the search box finds, level by level, with the article each takes.
SEARCHABLE: dict[str, dict[str, str]] = {
    "fr": {
        "region": "une région",
        "departement": "un département",
        "circonscription": "une circonscription",
        "commune": "une commune",
        "bureau": "un bureau",
    },
    "en": {
        "region": "a region",
        "departement": "a département",
        "circonscription": "a constituency",
        "commune": "a commune",
        "bureau": "a polling station",
    },
}
# What page.js needs to write the same words as the server.
SCRIPT_TEXT = (
    "as_of",
    "as_of_dated",
    "no_data",
    *STATUSES,
    "change_text",
    "change_short",
    "updated",
    "corrections_more",
    *("chart_caption", "chart_sampled", "estimate", "estimate_note", "map_title", "map_nothing"),
    *("voters", "blank", "null", "valid"),  # a correction's counts, as `changed_counts` names them
)


def _engine() -> Engine:
    return app_state().engine


# --- formatting: the same rules as page.js --------------------------------------------------------------


def number(value: int | None, lang: str) -> str:
    if value is None:
        return "—"
    text = f"{value:,}"
    return text.replace(",", NNBSP) if lang == "fr" else text


def percentage(value: float | None, lang: str, *, signed: bool = False) -> str:
    """58,65 % in French, 58.65% in English; two decimals, as the API rounded them."""
    if value is None:
        return "—"
    text = decimal(abs(value) if signed else value, lang)
    sign = ("+" if value > 0 else MINUS if value < 0 else "") if signed else ""
    return f"{sign}{text}{NNBSP}%" if lang == "fr" else f"{sign}{text}%"


def decimal(value: float, lang: str) -> str:
    """58,65 in French, 58.65 in English."""
    text = f"{value:,.2f}"
    return text.replace(",", NNBSP).replace(".", ",") if lang == "fr" else text


def clock(moment: str | None) -> str:
    """An ISO time from a document as hours and minutes in Europe/Paris."""
    if not moment:
        return "—"
    return datetime.fromisoformat(moment).astimezone(PARIS).strftime("%H:%M")


def day(moment: str) -> str:
    """An ISO time from a document as its date in Europe/Paris, written like the round's date."""
    return datetime.fromisoformat(moment).astimezone(PARIS).strftime("%d/%m/%Y")


def as_of_line(as_of: str | None, published_at: str | None, text: dict[str, str]) -> str:
    """When the data was cut and when it was published: hours alone on the same day, else with the dates,
    so that a round loaded days after its night does not read as published before it was cut."""
    if not as_of:
        return text["no_data"]
    times = {"as_of": clock(as_of), "published_at": clock(published_at)}
    if not published_at or day(as_of) == day(published_at):
        return text["as_of"].format(**times)
    return text["as_of_dated"].format(**times, as_of_date=day(as_of), published_date=day(published_at))


def search_label(levels: Sequence[str], lang: str) -> str:
    """The search box's label: the levels this election has below its top one, and the bureaux; never a
    level it does not have (the 2017 primary has no communes)."""
    things = [SEARCHABLE[lang].get(level, level) for level in (*levels[1:], "bureau")]
    listed = f"{', '.join(things[:-1])} {TEXT[lang]['or']} {things[-1]}" if len(things) > 1 else things[0]
    return TEXT[lang]["search"].format(what=listed)


def duration(seconds: int, text: dict[str, str]) -> str:
    hours, rest = divmod(max(seconds, 0), 3600)
    minutes, seconds = divmod(rest, 60)
    parts = [f"{hours} {text['hours']}"] if hours else []
    if hours or minutes:
        parts.append(f"{minutes:02d} {text['minutes']}" if hours else f"{minutes} {text['minutes']}")
    parts.append(f"{seconds:02d} {text['seconds']}")
    return " ".join(parts)


# --- the page's context --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Page:
    """What every template receives: the language, its words, and how to write links and figures."""

    lang: str
    election: str
    number: int

    @property
    def text(self) -> dict[str, str]:
        return TEXT[self.lang]

    def link(self, path: str, **query: str) -> str:
        """An internal link that keeps the chosen language."""
        if self.lang != "fr":
            query = {**query, "lang": self.lang}
        return f"{path}?{urlencode(query)}" if query else path

    def area_url(self, level: str | None = None, code: str | None = None) -> str:
        base = f"/elections/{quote(self.election, safe='')}/rounds/{self.number}/"
        if level is None or level == "national":
            return self.link(base)
        return self.link(f"{base}{quote(level, safe='')}/{quote(code or '', safe='')}")

    def api_url(self) -> str:
        """The round in the API: what page.js polls and fetches documents under."""
        return f"/api/v1/elections/{quote(self.election, safe='')}/rounds/{self.number}"

    def document_url(self, document: str, level: str | None = None, code: str | None = None) -> str:
        """One of the API's documents (results, turnout, timeline, corrections, projection) of an area."""
        path = f"{self.api_url()}/{document}"
        if level is not None and level != "national":
            path += f"/{quote(level, safe='')}/{quote(code or '', safe='')}"
        return path

    def data_url(self, document: str, level: str | None = None, code: str | None = None) -> str:
        """The CSV form of one of the API's documents of an area: what the page shows, for a spreadsheet."""
        return f"{self.document_url(document, level, code)}.csv"

    def results_map(
        self, feed: dict[str, Any], colours: dict[str, str], names: dict[str, str]
    ) -> ResultsMap | None:
        """The départements' map, its titles in the page's language."""
        words = MapWords(colours, names, self.text, self.pct, lambda margin: decimal(margin, self.lang))
        return results_map(feed, words)

    def estimate(self, projected: dict[str, Any]) -> str:
        """A candidate's estimated final share and its interval, labelled as an estimate."""
        return self.text["estimate"].format(
            pct=self.pct(projected["pct_valid"]),
            low=decimal(projected["pct_valid_low"], self.lang),
            high=decimal(projected["pct_valid_high"], self.lang),
        )

    def switch(self, lang: str) -> str:
        """This page in another language."""
        query = {k: v for k, v in request.args.items() if k != "lang"}
        if lang != "fr":
            query["lang"] = lang
        return f"{request.path}?{urlencode(query)}" if query else request.path

    def num(self, value: int | None) -> str:
        return number(value, self.lang)

    def pct(self, value: float | None) -> str:
        return percentage(value, self.lang)

    def change(self, value: float | None) -> str:
        return percentage(value, self.lang, signed=True)

    def as_of_line(self, document: dict[str, Any]) -> str:
        return as_of_line(document.get("as_of"), document.get("published_at"), self.text)

    def search_label(self, levels: Sequence[str]) -> str:
        return search_label(levels, self.lang)

    def level_name(self, level: str) -> str:
        return self.text.get("bureau_level" if level == "bureau" else level, level)

    def round_name(self) -> str:
        suffix = "er" if self.number == 1 else "e"
        return self.text["round"].format(n=self.number, suffix=suffix)

    def script_text(self) -> str:
        chosen = {key: self.text[key] for key in SCRIPT_TEXT}
        # Each sentence's singular, for page.js to agree with a count as `Agreeing.format` does here.
        for key in SCRIPT_TEXT:
            chosen[f"{key}_one"] = getattr(self.text[key], "singular", self.text[key])
        words = json.dumps(chosen, ensure_ascii=False)
        return words.replace("<", "\\u003c")  # inside <script>: never a closing tag


def _page(election: str, number: int) -> Page:
    lang = request.args.get("lang", "fr")
    return Page("en" if lang == "en" else "fr", election, number)


def content_version(data: bytes) -> str:
    """The `?v=` of a static file's URL: a digest of its bytes, so that a new version is a new URL."""
    return hashlib.blake2b(data, digest_size=6).hexdigest()


@cache  # every page names its assets: their files are read and hashed once per process
def asset_url(path: str) -> str:
    """A static file's URL (`path` under static/) with its content version: app.py serves such a URL
    immutable for a year, since the next version of the file will have another."""
    return f"/static/{path}?v={content_version((STATIC / path).read_bytes())}"


@cache  # read once per process, like the assets
def stylesheet(path: str) -> Markup:
    """A stylesheet of static/ to write inside the page's <style>: our own file, which holds no `</style>`."""
    return Markup((STATIC / path).read_text())  # noqa: S704 - a file of this package, not input


def _html(
    template: str, *, status: int = 200, framed_by: str = "'self'", fresh: bool = True, **values: Any
) -> Response:
    """Render, then serve like the API serves its documents: gzip when accepted, an ETag, 304s."""
    body = render_template(
        template, asset=asset_url, stylesheet=stylesheet, palette=PALETTE, **values
    ).encode()
    cache_control = app_state().cache_control if fresh else NO_CACHE
    response = respond(rendered_bytes(body, content_type="text/html"), cache_control)
    response.status_code = status if response.status_code == 200 else response.status_code
    response.headers["Content-Security-Policy"] = SECURITY.format(framed_by)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    return response


@blueprint.errorhandler(store.NotFound)
def not_found(exc: store.NotFound) -> Response:
    arguments = request.view_args or {}
    page = _page(str(arguments.get("election", "")), int(arguments.get("number", 0)))
    return _html("not_found.html", status=404, fresh=False, page=page, message=str(exc))


# --- routes ----------------------------------------------------------------------------------------------


@blueprint.get("/")
def home() -> BaseResponse:
    """The first election's last round, or a word that there is none yet."""
    with reading(_engine()) as connection:
        elections = feeds.read_elections(connection)
    lang = "en" if request.args.get("lang") == "en" else "fr"
    for election in elections:
        if election.rounds:
            page = Page(lang, election.code, election.rounds[-1].number)
            return redirect(page.area_url(), code=302)
    return _html("not_found.html", page=Page(lang, "", 0), message=TEXT[lang]["no_election"], fresh=False)


@blueprint.get(f"{PAGE}/")
@blueprint.get(f"{PAGE}/<level>/<code>")
def area(election: str, number: int, level: str | None = None, code: str | None = None) -> Response:
    """An area's results (the nation's by default) or a bureau's, with the national page's extras."""
    page = _page(election, number)
    found = _read(election, number, level, code, extras=level in (None, "national"))
    if "embargo" in found:
        return _html("embargo.html", page=page, fresh=False, **found)
    return _html("area.html", page=page, **found)


@blueprint.get(f"/embed{PAGE}/")
def embed(election: str, number: int) -> Response:
    """The national block alone, for newsrooms' iframes."""
    page = _page(election, number)
    found = _read(election, number, None, None, extras=False, with_map=False)
    if "embargo" in found:
        return _html("embargo.html", page=page, fresh=False, framed_by="*", embedded=True, **found)
    return _html("embed.html", page=page, framed_by="*", **found)


@blueprint.get(f"{PAGE}/search")
def search(election: str, number: int) -> Response:
    """Areas and bureaux whose name or code holds the words asked for. The registry only: no results."""
    page = _page(election, number)
    query = request.args.get("q", "").strip()[:100]
    with reading(_engine()) as connection:
        round_ = store.round_info(connection, election, number)
        index = store.election_index(connection, round_.election_id, round_.registry_version)
    registry = index.registry
    candidates: Iterable[tuple[str, str, str]] = (
        *((a.level, a.code, a.name) for a in registry.areas),
        *(("bureau", b.code, b.name) for b in registry.bureaux if b.merged_into is None),
    )
    matches = list(_matching(query, candidates)) if query else []
    return _html(
        "search.html",
        page=page,
        election_name=index.name,
        round_date=round_.date,
        levels=registry.levels,
        search_levels=registry.columns,
        query=query,
        matches=matches[:SEARCH_LIMIT],
        total=len(matches),
        limit=SEARCH_LIMIT,
    )


def _folded(text: str) -> str:
    """Lower case without accents, so "ile de france" finds "Île-de-France"."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.replace("-", " ").replace("’", "'").split())


def _matching(query: str, candidates: Iterable[tuple[str, str, str]]) -> Iterable[tuple[str, str, str]]:
    """Exact codes first, then names or codes holding every word of the query."""
    words = _folded(query).split()
    exact, others = [], []
    for level, code, name in candidates:
        folded_code = code.casefold()
        if folded_code == query.casefold():
            exact.append((level, code, name))
        elif words and all(word in f"{_folded(name)} {folded_code}" for word in words):
            others.append((level, code, name))
    return [*exact, *others]


# --- reading the round ----------------------------------------------------------------------------------


def _read(
    election: str, number: int, level: str | None, code: str | None, *, extras: bool, with_map: bool = True
) -> dict[str, Any]:
    """Everything a page shows, from one view of the round (one sequence), or the embargo's end."""
    with reading(_engine()) as connection:
        view = open_view(connection, election, number)
        moment = datetime.now(UTC)
        round_ = view.round_
        common = {
            "election_name": view.index.name,
            "round_date": round_.date,
            "levels": view.index.registry.levels,
            "search_levels": view.index.registry.columns,  # every cut's levels: circonscriptions and communes
        }
        embargo = documents.embargo_of(round_, moment)
        if embargo is not None:
            until = embargo.until.astimezone(UTC).isoformat()
            return {**common, "embargo": until, "remaining": embargo.seconds_left}
        document = documents.results_of(view, level, code)
        found = {**common, "document": document, "other_cuts": _other_cuts(view, document["area"])}
        if round_.projection == "public" and level != documents.BUREAU:
            projected = documents.projection_of(view, level, code, app_state().projections.of)["projection"]
            # An area where nothing is counted yet would show a figure made by the model alone.
            found["projection"] = projected if projected and projected["bureaux_counted"] else None
        if with_map:
            found.update(_map_feed(view, level, code))
        if extras:
            found["turnout"] = documents.turnout_of(view)
            found["evening"] = _evening(documents.timeline(view))
            corrections = documents.corrections_of(view)["corrections"]
            found["corrections"] = corrections[-CORRECTIONS_SHOWN:][::-1]
            found["corrections_total"] = len(corrections)
    return found


def _map_feed(view: View, level: str | None, code: str | None) -> dict[str, Any]:
    """The départements' feed the page's map is drawn from: the nation's, or an area's above them (a
    région's); none below them or where the election has no départements."""
    registry = view.index.registry
    if MAP_LEVEL not in registry.columns:
        return {}
    if level is None or level == registry.levels[0]:
        return {"departements": documents.level_results(view, MAP_LEVEL)}
    if level in registry.levels_above(MAP_LEVEL):
        return {"departements": documents.level_results(view, MAP_LEVEL, level, code)}
    return {}


def _other_cuts(view: View, area: dict[str, Any]) -> list[dict[str, Any]]:
    """The areas directly below this one in the election's other cuts, one document per level (a
    département's circonscriptions): the main cut's children are the results document's own."""
    registry = view.index.registry
    return [
        documents.level_results(view, below, area["level"], area["code"])
        for below in registry.levels_below(area["level"])
        if below not in registry.levels
    ]


@dataclass(frozen=True)
class Evening:
    """The evening's chart: the publications shown, and the SVG's lines."""

    rows: list[dict[str, Any]]
    total: int
    lines: list[tuple[str, str, tuple[float, float] | None]]  # (candidate id, SVG points, last point)
    reported: str  # the bureaux reported, as a share of all, as SVG points
    ticks: list[tuple[float, str, str]]  # (x, time label, text-anchor)
    width: int = 640
    height: int = 240
    left: int = 40
    top: int = 10
    bottom: int = 30

    def y(self, pct: float) -> float:
        return self.top + (self.height - self.top - self.bottom) * (1 - pct / 100)


def _evening(document: dict[str, Any]) -> Evening | None:
    """The publications that carry results, thinned to CHART_POINTS evenly spread (keeping the last)."""
    rows = [row for row in document["timeline"] if row["valid"] > 0 and row["as_of"]]
    if not rows:
        return None
    total = len(rows)
    if total > CHART_POINTS:
        step = (total - 1) / (CHART_POINTS - 1)
        rows = [rows[round(i * step)] for i in range(CHART_POINTS)]
    times = [datetime.fromisoformat(row["as_of"]).timestamp() for row in rows]
    first, last = min(times), max(times)
    shape = Evening(rows, total, [], "", [])
    span = shape.width - shape.left - 10

    def x(moment: float) -> float:
        return shape.left + (span * (moment - first) / (last - first) if last > first else span / 2)

    def points(values: list[float | None]) -> str:
        return " ".join(
            f"{x(t):.1f},{shape.y(v):.1f}" for t, v in zip(times, values, strict=True) if v is not None
        )

    bureaux_total = document["bureaux_total"] or 1

    def end_point(value: float | None) -> tuple[float, float] | None:
        return None if value is None else (round(x(times[-1]), 1), round(shape.y(value), 1))

    lines = [
        (
            candidate["id"],
            points([row["candidates"][c]["pct_valid"] for row in rows]),
            end_point(candidate["pct_valid"]),
        )
        for c, candidate in enumerate(rows[-1]["candidates"])
    ]
    reported = points([100 * row["bureaux_reported"] / bureaux_total for row in rows])
    labels = {round(x(t)): clock(row["as_of"]) for t, row in zip(times, rows, strict=True)}
    return Evening(rows, total, lines, reported, _time_ticks(sorted(labels.items())))


# An "HH:MM" label at the chart's 12px is about 36 units wide (DejaVu Sans, chromium): a middle label needs
# this much room from each end's label (its own half, the end label's whole width, a gap) or it is left out.
TICK_ROOM = 60


def _time_ticks(labels: list[tuple[int, str]]) -> list[tuple[float, str, str]]:
    """The first, the last, and the one nearest the middle if it has room. The first label starts at its
    point and the last ends at its own, so that neither runs past the chart's edges, at any width."""
    if len(labels) == 1:
        return [(float(labels[0][0]), labels[0][1], "middle")]
    (first, first_label), (last, last_label) = labels[0], labels[-1]
    ticks = [(float(first), first_label, "start")]
    middle = min(labels[1:-1], key=lambda label: abs(label[0] - (first + last) / 2), default=None)
    if middle is not None and first + TICK_ROOM <= middle[0] <= last - TICK_ROOM:
        ticks.append((float(middle[0]), middle[1], "middle"))
    return [*ticks, (float(last), last_label, "end")]


@blueprint.app_template_filter("clock")
def _clock_filter(moment: str | None) -> str:
    return clock(moment)


@blueprint.app_template_global("duration")
def _duration(seconds: int, text: dict[str, str]) -> str:
    return duration(seconds, text)


@blueprint.app_template_global("changed_counts")
def changed_counts(item: dict[str, Any], page: Page, names: dict[str, str]) -> list[str]:
    """A correction's counts that changed, as "Votants 512 → 515"."""
    before, after = item["previous"] or {}, item["counts"]
    figures: list[tuple[str, int | None, int | None]] = [
        (page.text[key], before.get(key), after.get(key)) for key in ("voters", "blank", "null", "valid")
    ]
    figures += [
        (names.get(cid, cid), before.get("votes", {}).get(cid), after.get("votes", {}).get(cid))
        for cid in after["votes"]
    ]
    return [f"{label} {page.num(old)} → {page.num(new)}" for label, old, new in figures if old != new]
