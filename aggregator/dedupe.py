"""Deduplication: the same event listed by several sources becomes one cluster.

``cluster(events, networks)`` takes the live, non-recurring-override events of
all sources (series masters and single events; RECURRENCE-ID overrides follow
their master and are not passed in) and returns clusters as lists of indices
into ``events``. Promises:

- every index is in exactly one cluster (singletons included);
- deterministic and independent of the order of ``events`` (same input set,
  same clusters; each cluster's indices ascending; clusters ordered by the
  smallest event key among their members, the key being
  ``(source_id, source_uid, recurrence_id, start, title)``);
- two events of the same source are never put into one cluster (a source lists
  an event once; two entries are two events);
- blocking by date first, then title (fuzzy, after normalising case, umlauts,
  punctuation and network prefixes), start/end, place and canonical URL.

Candidates (which pairs are compared at all): two events are compared when they
share a day (an event's days: its first ``MAX_BLOCK_DAYS`` and its last) and on
it the same page URL, or a title word start (the first four letters of a
content word) that at most ``RARE_STEM`` events of that day have, or two title
word starts whatever their frequency; a title with a single word start meets
every title of its days with that word start. Timed events further apart than
``LATE_TOLERANCE`` are not compared (they veto each other anyway). A word start
that many events of a day share ("Work" of "Workshop", a common topic) carries
no identity by itself, so a pair sharing only such a word and nothing else is
not compared: on a day with at most ``RARE_STEM`` events (every Thuringian day)
nothing changes; on crowded days the work per event stays bounded instead of
growing with the number of events of the day. Work: features once per event
(titles and places once per distinct text), pairs compared about linear in the
number of events (``bench/dedupe_growth.py`` measures it). Memory: every block
belongs to one day, so the candidate indexes (word starts, pairs of them, URLs)
are built and dropped one day at a time, never for all days at once.

The pipeline (``aggregator/merge.py``) turns clusters into published events
with stable UIDs.

Decision rules of ``same_event`` (precision first: a missed duplicate shows
one event twice, a wrong merge hides an event)
---------------------------------------------------------------------------
Hard "no" (vetoes), checked first:

1. the same ``source_id``;
2. one is a series (``rrule``) and the other is not, or both are series with
   different rules;
3. the local days (Europe/Berlin unless the event names another zone) do not
   overlap;
4. both have a real start time and the starts differ by more than an hour; or
   by 30–60 min unless the titles are the same (strict score ≥ 95) and the
   city is the same ("Einlass 8:30" / "Beginn 9:00" is within the plain 30 min
   ``TIME_TOLERANCE``). A timed start at 00:00 (with no end, or an end at
   00:00 / 23:59) is read as date-only, i.e. as an all-day listing; an evening
   that ends before 06:00 next morning covers only its first day;
5. the places clearly differ: both name a city and the city sets are disjoint
   ("online" and unknown places never veto);
6. the titles carry numbers that contradict each other, years and other
   numbers (editions, parts) separately: "7." vs "8.", "2024" vs "2025",
   "Teil 1" vs "Teil 2"; "2025" vs "9." contradicts nothing, nor does a title
   without numbers; dates written into a title are removed first;
7. the titles name different networks ("ELMUG-Stammtisch" vs
   "medways-Stammtisch") — unless the canonical URL is the same page.

Then the title score (0..100, after ``normalize_title``) must reach a
threshold chosen by the other evidence:

============================================  =========================
date/time evidence                             threshold (place same /
                                               same city / unknown)
============================================  =========================
both timed, starts within 30 min; or both      75 / 82 / 85
all-day with identical multi-day ranges
same single day, at least one date-only        85 / 88 / 92
all-day ranges sharing first or last day       92 strict (no subset)
(e.g. "14.–15. Mai" vs "14. Mai")
one lies inside the other's longer range       95 strict
(a timed event inside a multi-day listing)
same specific canonical URL (any of the        60 (85 strict if "inside")
above date relations)
============================================  =========================

Equal multi-day all-day ranges (three days or more) with three shared content
words also count ("Cross-Cluster-Woche Thüringen: Virtuell vernetzen …" and
"Erfolgreiche Veranstaltungsreihe: Cross-Cluster-Woche Thüringen").

Title score: rapidfuzz ``token_sort_ratio`` (and ``ratio`` with spaces removed,
for "Energie-Stammtisch" / "Energiestammtisch") over the content words (stop
words and numbers left out); words only one title adds that merely place or
label ("Thüringer", "Jena", "Workshop") are left out at one point each. When
one title's words are all in the other (exact; a typo: fuzzy ≥ 85 with the same
first three letters; or compound containment: the end of a compound, or its
start when the compound's rest is in the shorter word's title too — a
"Praxisdialog" is no "Praxis"; a word both titles have matches only itself,
so "Energie" in both does not also cover "Windenergie"), the "full" score is 90 + 10 × coverage, unless the extra words
mark a part ("Auftakt", "Teil", "Eröffnung") or the smaller title has a single
word that is not a long name found verbatim in the other.
"Strict" scores do not reward one title being a subset of the other, so the
"Cross-Cluster-Woche 2025" (13.–17.10.) never swallows its "Auftakt" on the
13th. A title whose words are not a subset either way — each side has a
content word the other lacks ("KI in der Produktion" / "KI in der Medizin")
— scores at most 70, so only the same event page can join such titles; at most 70 as well:
titles that each add a different city or a different format ("Workshop: X" /
"Vortrag: X"; "Webinar", "Online-Seminar" and "Seminar" count as one format). A
generic title (only words like "Stammtisch", "Mitgliederversammlung",
"Neujahrsempfang" after normalising) needs the same event page, matching
start times and the same place, or the same owner (the networks named in the
titles, else the sources' networks): a network holds one Stammtisch a day.

A URL counts as evidence only when it names a page: not a site root, not a
listing page (``/veranstaltungen/``, ``/termine.html`` …), and (inside
``cluster``) not shared by two events of one source.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz

from aggregator import collector
from aggregator.config import Network
from aggregator.model import Event

DEFAULT_ZONE = ZoneInfo("Europe/Berlin")
TIME_TOLERANCE = timedelta(minutes=30)
LATE_TOLERANCE = timedelta(minutes=60)  # up to this, only with the same title in the same city
MAX_BLOCK_DAYS = 14  # a long event is indexed under at most this many days (its first days)
SUBSET_CAP = 70.0  # score of titles that each have a word the other lacks
# A word start shared by more events of one day than this identifies nothing by itself
# ("Work" of "Workshop" on a busy day): such events are compared when they share two word
# starts, a page URL, or when one title has no other word.
RARE_STEM = 12

# --- text --------------------------------------------------------------------

_FOLD = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss", "æ": "ae", "œ": "oe", "ø": "oe", "&": " und ", "+": " und "})
_QUOTES = re.compile(r"[\"'`´„“”‚‘’«»‹›]")
_DASHES = re.compile(r"[\-‐‑‒–—―−_/|·•]+")
_NON_WORD = re.compile(r"[^\w\s]+")
_SPACES = re.compile(r"\s+")
_ELLIPSIS = re.compile(r"(\.\.\.|…)\s*$")

_MONTHS = (
    "januar|jaenner|februar|maerz|april|mai|juni|juli|august|september|oktober|november|dezember|"
    "jan|feb|mrz|apr|jun|jul|aug|sep|sept|okt|nov|dez"
)
# Dates written into a title ("am 22.09.2025", "26./27.06.2018", "vom 14. bis 15. Mai 2019",
# "vom 14.-15. Mai"): they repeat the event's date and are not editions. Applied to folded
# text that still has its punctuation.
_TITLE_DATES = [
    re.compile(rf"\b(?:am|vom|ab|bis|von|den)?\s*\d{{1,2}}\.\s*(?:(?:bis|und|u\.|-|–|/)\s*\d{{1,2}}\.\s*)?(?:{_MONTHS})\b\.?(?:\s*\d{{4}})?"),
    re.compile(r"\b(?:am|vom|ab|bis|von|den)?\s*\d{1,2}\.\s*(?:(?:bis|und|u\.|-|–|/)\s*\d{1,2}\.\s*)?\d{1,2}\.(?:\d{2,4})?"),
    re.compile(rf"\b(?:im\s+)?(?:{_MONTHS})\s+\d{{4}}\b"),
    re.compile(r"\b\d{4}-\d{2}-\d{2}\b"),
]
_LEGAL = re.compile(r"\b(?:e\.\s?v\.?|ev|e\.g\.?|eg|ggmbh)(?=\s|$|[^\w])")

# Lead words that only announce: removed from the start of a title, repeatedly.
# "Webinar", "Workshop", "Online-Seminar", "Vortrag" … are KEPT: they name the format,
# and one network may hold a workshop and a webinar on the same topic.
_LEAD = re.compile(
    r"^(?:(?:herzliche\s+)?einladung(?:\s+(?:zum|zur|zu|zu\s+unserem|zu\s+unserer|fuer\s+den|fuer\s+die))?|"
    r"save\s+the\s+date|std|veranstaltungshinweis|veranstaltung|terminhinweis|termin|"
    r"vorankuendigung|ankuendigung|erinnerung|reminder|neu|new|update|aktualisiert|"
    r"jetzt\s+anmelden|anmeldung\s+offen|hinweis|achtung)\b\s*[:\-–—!]?\s*"
)
# Status words carry no identity ("ABGESAGT: Exkursion …", "Energie-Stammtisch (verlegt)").
_STATUS = re.compile(
    r"\b(?:abgesagt|entfaellt|faellt\s+aus|verschoben|verlegt|ausgebucht|ausverkauft|"
    r"neuer\s+termin|cancelled|canceled|postponed|sold\s+out)\b"
)
_STOP = frozenset(
    "der die das den dem des ein eine einer eines einem einen und oder in im am an auf aus bei mit nach "
    "von vom zu zum zur fuer ueber unter vor als wie sowie sich ihr ihre unser unsere the of and for to a "
    "on at with by".split()
)
# Words that name a kind of event, not an event: a title made only of these is generic.
_GENERIC_WORDS = frozenset(
    """stammtisch mitgliederversammlung generalversammlung jahresversammlung neujahrsempfang jahresempfang
    sommerfest weihnachtsfeier netzwerktreffen treffen workshop webinar seminar onlineseminar vortrag sitzung
    vorstandssitzung beiratssitzung jahrestagung tagung konferenz exkursion fruehstueck mittagstisch
    sprechstunde infoveranstaltung informationsveranstaltung veranstaltung online digital event meetup""".split()
)
# Words that name an event's format; two titles that each add a different one name two events.
_FORMAT_WORDS = frozenset("workshop webinar seminar onlineseminar vortrag tagung konferenz exkursion sprechstunde".split())
_FORMAT_KIND = {"webinar": "online", "onlineseminar": "online", "seminar": "online"}
# Words that mark a part of a larger event: "Cross-Cluster-Woche 2025: Auftakt" is not the week.
_PART_WORDS = frozenset(
    "auftakt auftaktveranstaltung eroeffnung kickoff abschluss abschlussveranstaltung teil tag modul session block vorabend".split()
)
# Words that place or label rather than name an event: one title may add them
# ("Thüringer Kunststofftag" / "Kunststofftag", "… in Jena"). Two titles that each add a
# different city still differ ("Stammtisch Jena" / "Stammtisch Erfurt").
_REGION_WORDS = frozenset(
    "thueringer thueringen thuringia thuringian deutschland deutsche deutscher mitteldeutsche mitteldeutscher "
    "jenaer erfurter weimarer geraer ilmenauer regional".split()
)
# Words of a network's name that alone would name nothing in particular.
_GENERIC_LABEL = frozenset("thueringen thueringer jena erfurt ev eg netzwerk verein the".split())

_CITIES = frozenset(
    """erfurt jena weimar gera gotha eisenach ilmenau suhl nordhausen muehlhausen arnstadt saalfeld rudolstadt
    sonneberg meiningen schmalkalden altenburg greiz apolda sondershausen hermsdorf poessneck leinefelde
    heiligenstadt goldisthal schleusingen sommerda soemmerda zeulenroda bad-salzungen hildburghausen
    berlin leipzig dresden halle magdeburg muenchen nuernberg frankfurt hamburg koeln stuttgart hannover
    chemnitz goettingen kassel duesseldorf bonn karlsruhe bremen essen dortmund wien zuerich""".split()
)
_ONLINE = frozenset("online virtuell digital webinar zoom teams webex livestream stream".split())
_PLZ_CITY = re.compile(r"\b\d{5}\s+([a-z][a-z\-]+)")


def _fold(text: str) -> str:
    """Casefold, umlauts as ae/oe/ue/ss, other accents dropped; punctuation kept."""
    text = unicodedata.normalize("NFKC", text or "").casefold().translate(_FOLD)
    if text.isascii():
        return text  # nothing left to decompose
    text = unicodedata.normalize("NFKD", text)
    return "".join(c for c in text if not unicodedata.combining(c))


def _words(text: str) -> str:
    text = _QUOTES.sub(" ", text)
    text = _DASHES.sub(" ", text)
    text = _NON_WORD.sub(" ", text)
    return _SPACES.sub(" ", text).strip()


@dataclass(frozen=True, eq=False)  # one object per set of networks (cached): hashed by identity, cheaply
class _Labels:
    patterns: tuple[tuple[re.Pattern, str], ...]  # (whole-word pattern on word text, network id), longest first
    words: tuple[frozenset[str], ...]  # the words of each pattern's label
    by_word: Mapping[str, tuple[int, ...]]  # a label's first word → indices of its patterns

    def present(self, tokens: frozenset[str]) -> list[int]:
        """Indices (in pattern order) of the labels all of whose words are among ``tokens``: the
        only ones that can match, since removing a label's words never brings another's in."""
        found = {i for t in tokens for i in self.by_word.get(t, ()) if self.words[i] <= tokens}
        return sorted(found)


def _network_labels(networks: Mapping[str, Network]) -> _Labels:
    key = tuple(sorted((nid, n.name, n.short) for nid, n in networks.items()))
    return _labels_cached(key)


@lru_cache(maxsize=64)
def _labels_cached(key: tuple[tuple[str, str, str], ...]) -> _Labels:
    found: dict[str, str] = {}
    for nid, name, short in key:
        variants = {nid.replace("-", " ").replace("_", " "), short, name}
        folded_name = _fold(name)
        no_legal = _LEGAL.sub(" ", folded_name)
        variants.add(no_legal)
        # "OptoNet e.V. – Photoniknetzwerk Thüringen", "Thüringer ClusterManagement (LEG Thüringen)"
        for part in re.split(r"\s[–—-]\s|[()]", no_legal):
            variants.add(part)
        for v in variants:
            w = _words(_LEGAL.sub(" ", _fold(v)))
            if not w or set(w.split()) <= _GENERIC_LABEL or len(w) < 2:
                continue
            if w in _STOP:  # an id or short name that is an ordinary word ("at", "mit")
                continue
            found.setdefault(w, nid)
    ordered = sorted(found.items(), key=lambda kv: (-len(kv[0]), kv[0]))
    by_word: dict[str, list[int]] = defaultdict(list)
    for i, (w, _nid) in enumerate(ordered):
        by_word[w.split()[0]].append(i)
    return _Labels(tuple((re.compile(rf"(?<!\w){re.escape(w)}(?!\w)"), nid) for w, nid in ordered),
                   tuple(frozenset(w.split()) for w, _ in ordered), {k: tuple(v) for k, v in by_word.items()})


@dataclass(frozen=True, eq=False)  # one object per title (cached): hashed by identity in the score cache
class _Title:
    text: str  # normalize_title()
    tokens: tuple[str, ...]  # content words (no stop words), sorted
    years: frozenset[str]  # 19xx / 20xx
    numbers: frozenset[str]  # other numbers: editions, parts
    networks: frozenset[str]  # network ids named in the title
    truncated: bool


def normalize_title(title: str, networks: Mapping[str, Network]) -> str:
    """The comparable form of a title.

    Casefolded; umlauts folded to ae/oe/ue/ss both ways ("Thüringer" and
    "Thueringer" give the same); accents, quotes, punctuation and dashes
    removed; whitespace collapsed. Removed as well: the names of the networks
    (id, short name, full name, name without legal form) wherever they stand as
    whole words; legal forms (e.V., eG); announcing lead words at the start
    ("Einladung zum", "Save the date:", "Veranstaltung:", "Termin:", "Neu:");
    status words ("abgesagt", "verlegt", …); dates written into the title
    ("am 22.09.2025", "vom 14.-15. Mai"). Kept: format words ("Webinar",
    "Workshop"), years and ordinals ("7. Thüringer Maschinenbautag" →
    "7 thueringer maschinenbautag"). When nothing would remain, the title
    without the network names is returned.
    """
    return _title(title, _network_labels(networks)).text


def _title(title: str, labels: _Labels) -> _Title:
    return _title_cached(title, labels)


@lru_cache(maxsize=300_000)
def _title_cached(title: str, labels: _Labels) -> _Title:
    raw = title or ""
    truncated = bool(_ELLIPSIS.search(raw))
    text = _fold(_ELLIPSIS.sub("", raw))
    for pattern in _TITLE_DATES:
        text = pattern.sub(" ", text)
    text = _LEGAL.sub(" ", text)
    words = _words(text)
    plain = words
    named: set[str] = set()
    # Only the labels whose words all occur in the title are tried (a few of hundreds of networks).
    for i in labels.present(frozenset(words.split())):
        pattern, nid = labels.patterns[i]
        if pattern.search(words):
            named.add(nid)
            words = _SPACES.sub(" ", pattern.sub(" ", words)).strip()
    words = _STATUS.sub(" ", words)
    while True:
        stripped = _LEAD.sub("", words).strip()
        if stripped == words:
            break
        words = stripped
    tokens = words.split()
    while tokens and tokens[-1] in _STOP:  # "Mitgliederversammlung des [ThEEN]"
        tokens.pop()
    while tokens and tokens[0] in _STOP - {"the", "a"}:
        tokens.pop(0)
    words = " ".join(tokens)
    if not words:
        words = _SPACES.sub(" ", _STATUS.sub(" ", plain)).strip() or plain
    tokens = words.split()
    digits = [t.lstrip("0") or "0" for t in tokens if t.isdigit()]
    years = frozenset(t for t in digits if len(t) == 4 and t[:2] in ("19", "20"))
    numbers = frozenset(t for t in digits if t not in years)
    content = tuple(sorted(t for t in tokens if t not in _STOP and not t.isdigit()))
    return _Title(words, content, years, numbers, frozenset(named), truncated)


# --- title similarity --------------------------------------------------------


@lru_cache(maxsize=200_000)
def _token_match(u: str, v: str) -> str:
    """"" (no match), "same", "head" (the shorter is the end of the longer: "stammtisch" /
    "energiestammtisch"), "start" (the shorter begins the longer: "energie" /
    "energiestammtisch") or "typo" ("thueringer" / "thueringen")."""
    if u == v:
        return "same"
    if len(u) >= 5 and len(v) >= 5:
        short, long_ = (u, v) if len(u) <= len(v) else (v, u)
        if long_.endswith(short):
            return "head"
        if long_.startswith(short):
            return "start"
    # A typo, not another word with the same ending ("lasertechnik" / "glastechnik"): same beginning.
    if len(u) >= 4 and len(v) >= 4 and u[:3] == v[:3] and fuzz.ratio(u, v) >= 85:
        return "typo"
    return ""


def _unmatched(a: tuple[str, ...], b: tuple[str, ...]) -> list[str]:
    """Words of ``a`` that no word of ``b`` matches. A word both have is matched by itself and
    matches nothing else ("Energie sparen" / "Windenergie: Energie sparen" leaves "windenergie"
    unmatched). A word that only begins a longer one matches it when the rest of the longer one
    is in the shorter word's title too ("Energie-Stammtisch" / "Energiestammtisch"), not
    otherwise: a "Praxisdialog" is no "Praxis", "Medizintechnik" no "Medizin"."""
    both = set(a) & set(b)
    rest_a = [u for u in a if u not in both]
    rest_b = [v for v in b if v not in both]
    out = []
    for u in rest_a:
        for v in rest_b:
            kind = _token_match(u, v)
            if kind == "start":
                short, long_, side = (u, v, a) if len(u) <= len(v) else (v, u, b)
                tail = long_[len(short):]
                if not any(t != short and (t.startswith(tail[:5]) or tail.startswith(t)) for t in side if len(t) >= 4):
                    continue
            if kind:
                break
        else:
            out.append(u)
    return out


@dataclass(frozen=True)
class _Score:
    full: float  # rewards one title being a (large enough) subset of the other
    strict: float  # does not
    generic: bool  # a title made only of words like "Stammtisch", "Mitgliederversammlung"
    distinct: bool = False  # each title has a word the other lacks: a different topic
    shared: int = 0  # content words both titles have (format and region words not counted)


def _soft(token: str) -> bool:
    return token in _REGION_WORDS or token in _CITIES or token in _GENERIC_WORDS


@lru_cache(maxsize=200_000)
def _title_score(a: _Title, b: _Title) -> _Score:
    ta, tb = a.text, b.text
    generic = not any(t not in _GENERIC_WORDS for t in a.tokens) or not any(t not in _GENERIC_WORDS for t in b.tokens)
    if ta == tb:
        return _Score(100.0, 100.0, generic)
    if a.truncated or b.truncated:  # "Cross-Cluster-Workshop: KI in der Fert…"
        short, long_ = (ta, tb) if (a.truncated and len(ta) <= len(tb)) or not b.truncated else (tb, ta)
        if len(short) >= 15 and fuzz.ratio(short, long_[: len(short)]) >= 95:
            return _Score(95.0, 95.0, generic)
    if not fuzz.token_set_ratio(ta, tb, score_cutoff=45):  # nothing in common worth a closer look
        return _Score(0.0, 0.0, generic, True, 0)
    only_a, only_b = _unmatched(a.tokens, b.tokens), _unmatched(b.tokens, a.tokens)
    cities_a = [t for t in only_a if t in _CITIES]
    cities_b = [t for t in only_b if t in _CITIES]
    if cities_a and cities_b:  # "Stammtisch Jena" / "Stammtisch Erfurt"
        return _Score(SUBSET_CAP, SUBSET_CAP, generic, True)
    # A different format each ("Workshop: X" / "Vortrag: X"): one network may hold both on one
    # topic. Online formats are one format under several names ("Webinar" / "Online-Seminar").
    formats_a = {_FORMAT_KIND.get(t, t) for t in only_a if t in _FORMAT_WORDS}
    formats_b = {_FORMAT_KIND.get(t, t) for t in only_b if t in _FORMAT_WORDS}
    if formats_a and formats_b and not (formats_a & formats_b):
        return _Score(SUBSET_CAP, SUBSET_CAP, generic, True)
    # Words only one title adds that merely place or label ("Thüringer", "in Jena",
    # "Workshop") are left out of the comparison.
    drop = {t for t in only_a + only_b if _soft(t)}
    tok_a = tuple(t for t in a.tokens if t not in drop) or a.tokens
    tok_b = tuple(t for t in b.tokens if t not in drop) or b.tokens
    only_a = [t for t in only_a if t not in drop]
    only_b = [t for t in only_b if t not in drop]
    shared = sum(1 for t in tok_a if not _soft(t) and t not in only_a)
    ca, cb = " ".join(tok_a), " ".join(tok_b)
    strict = max(fuzz.token_sort_ratio(ca, cb), fuzz.ratio(ca.replace(" ", ""), cb.replace(" ", "")))
    if only_a and only_b:
        # Each side has a word the other lacks: a different topic unless the strings are
        # nearly the same anyway (a typo inside a word, or words glued together).
        joined_a, joined_b = "".join(sorted(only_a)), "".join(sorted(only_b))
        distinct = fuzz.ratio(joined_a, joined_b) < 90
        if distinct:
            strict = min(strict, SUBSET_CAP)
        return _Score(strict, strict, generic, distinct, shared)
    full = strict
    if only_a or only_b:
        small_tokens, large_tokens = (tok_b, tok_a) if only_a else (tok_a, tok_b)
        extra = only_a or only_b
        # The smaller title must still say something: two words, or one long name ("ELMUG4FUTURE").
        says_enough = len(small_tokens) >= 2 or (
            len(small_tokens) == 1 and len(small_tokens[0]) >= 8 and small_tokens[0] not in _GENERIC_WORDS
            and small_tokens[0] in large_tokens
        )
        if says_enough and not any(t in _PART_WORDS for t in extra):
            coverage = len(small_tokens) / max(len(large_tokens), 1)
            full = max(strict, 90.0 + 10.0 * coverage)
    else:
        full = strict = max(strict, 97.0)
    # Each word left out costs a point, so that among equal candidates the closer title wins.
    full, strict = full - len(drop), strict - len(drop)
    return _Score(min(full, 100.0), strict, generic, False, shared)


# --- time ----------------------------------------------------------------------


@dataclass(frozen=True)
class _When:
    first: date  # first local day
    last: date  # last local day (inclusive)
    start: datetime | None  # aware start when the event has a real start time


def _zone(ev: Event) -> ZoneInfo:
    if ev.tzid and ev.tzid != "UTC":
        try:
            return ZoneInfo(ev.tzid)
        except Exception:  # noqa: BLE001 - an unknown zone name: show in Berlin time
            return DEFAULT_ZONE
    return DEFAULT_ZONE


def _when(ev: Event) -> _When:
    start, end = ev.start, ev.end
    if not isinstance(start, datetime):
        last = (end - timedelta(days=1)) if isinstance(end, date) and not isinstance(end, datetime) and end > start else start
        return _When(start, max(last, start), None)
    zone = _zone(ev)
    local = start.astimezone(zone)
    local_end = end.astimezone(zone) if isinstance(end, datetime) else None
    date_only = local.time() == time(0, 0) and (
        local_end is None or local_end.time() in (time(0, 0), time(23, 59), time(23, 59, 59))
    )
    if local_end is None or local_end <= local:
        last = local.date()
    elif local_end.time() <= time(6, 0) and local_end - local < timedelta(hours=24):
        last = (local_end - timedelta(days=1)).date()  # an evening that ends after midnight
    else:
        last = local_end.date()
    return _When(local.date(), max(last, local.date()), None if date_only else local)


def states_time_of_day(ev: Event) -> bool:
    """Whether the event names a time of day: not an all-day event, and not a date written
    as midnight (without an end, or ending at midnight or 23:59), the way date-only
    listings reach us from many sites. The same reading clustering uses."""
    return _when(ev).start is not None


# --- place -------------------------------------------------------------------


@dataclass(frozen=True)
class _Place:
    cities: frozenset[str]
    online: bool
    venue: str  # folded words without city, postal code and numbers
    empty: bool


@lru_cache(maxsize=100_000)
def _place(location: str) -> _Place:
    folded = _fold(location or "")
    cities = {m.group(1) for m in _PLZ_CITY.finditer(folded)}
    words = _words(folded.replace("bad ", "bad-"))
    tokens = words.split()
    cities |= {t for t in tokens if t in _CITIES}
    online = any(t in _ONLINE for t in tokens)
    venue = " ".join(t for t in tokens if t not in cities and not any(ch.isdigit() for ch in t) and t not in _STOP and t not in _ONLINE and t != "deutschland")
    return _Place(frozenset(cities), online, venue, not tokens)


def _place_relation(a: _Place, b: _Place) -> str:
    """'differs', 'same' (same venue), 'city' (same city, venue unclear) or 'unknown'."""
    if a.empty or b.empty:
        return "unknown"
    if a.cities and b.cities:
        if not (a.cities & b.cities):
            return "differs"
        if a.venue and b.venue and fuzz.token_set_ratio(a.venue, b.venue) >= 80:
            return "same"
        if not a.venue and not b.venue:
            return "city"
        return "city"
    if a.venue and b.venue and fuzz.token_set_ratio(a.venue, b.venue) >= 90 and min(len(a.venue), len(b.venue)) >= 4:
        return "same"
    return "unknown"


# --- URL -----------------------------------------------------------------------

_LISTING = re.compile(
    r"^(?:index|start|home|de|en|veranstaltungen|veranstaltung|termine|termin|events|event|kalender|calendar|"
    r"aktuelles|news|neuigkeiten|blog|feed|rss|workshopnews|branchennews)(?:\.\w{2,5})?$"
)


@lru_cache(maxsize=100_000)
def _url_key(url: str) -> str:
    """A comparable form of an event page URL, or "" when the URL names no single page."""
    if not url:
        return ""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower().removeprefix("www.")
    segments = [s for s in parts.path.split("/") if s]
    if parts.query:
        query = parts.query
    else:
        query = ""
        if not segments or all(_LISTING.match(s.lower()) for s in segments):
            return ""
    return f"{host}/{'/'.join(segments)}?{query}"


# --- the pairwise decision ------------------------------------------------------


@dataclass(frozen=True)
class _Features:
    event: Event
    title: _Title
    when: _When
    place: _Place
    url: str


def _features(ev: Event, labels: _Labels) -> _Features:
    return _Features(ev, _title(ev.title, labels), _when(ev), _place(ev.location), _url_key(ev.url))


VETO = -1.0


def _compare(a: _Features, b: _Features, shared_urls: frozenset[str] = frozenset()) -> float:
    """VETO, 0.0 (not the same) or a positive score (the same; higher is surer)."""
    ea, eb = a.event, b.event
    if ea.source_id == eb.source_id:
        return VETO
    if bool(ea.rrule) != bool(eb.rrule) or (ea.rrule and _rrule_key(ea.rrule) != _rrule_key(eb.rrule)):
        return VETO
    wa, wb = a.when, b.when
    if wa.last < wb.first or wb.last < wa.first:
        return VETO
    late = False
    if wa.start is not None and wb.start is not None:
        gap = abs(wa.start - wb.start)
        if gap > LATE_TOLERANCE:
            return VETO
        late = gap > TIME_TOLERANCE
        relation = "exact"
    elif wa.first == wb.first and wa.last == wb.last:
        relation = "range" if wa.first != wa.last else "day"
        if relation == "range" and (wa.start is not None or wb.start is not None):
            relation = "day"  # a timed multi-day event and an all-day range: the days agree
    elif wa.first == wb.first or wa.last == wb.last:
        relation = "edge"
    else:
        relation = "inside"
    place = _place_relation(a.place, b.place)
    if place == "differs":
        return VETO
    ta, tb = a.title, b.title
    for na, nb in ((ta.years, tb.years), (ta.numbers, tb.numbers)):
        if na and nb and not (na <= nb or nb <= na):
            return VETO
    url_same = bool(a.url) and a.url == b.url and a.url not in shared_urls
    if ta.networks and tb.networks and not (ta.networks & tb.networks) and not url_same:
        return VETO
    score = _title_score(ta, tb)
    if late:
        # 30–60 min apart ("Einlass" vs "Beginn", a programme start): only the same title in the same city.
        return score.strict - 10 if score.strict >= 95 and place in ("same", "city") else VETO
    if url_same and not score.distinct:
        if relation == "inside":
            return score.strict if score.strict >= 85 else 0.0
        return score.full + 5 if score.full >= 60 else 0.0
    if score.generic and not (relation == "exact" and place == "same"):
        # "Stammtisch" names no event by itself; it does when both listings belong to one network.
        owners_a = ta.networks or {ea.network_id}
        owners_b = tb.networks or {eb.network_id}
        if not (owners_a & owners_b):
            return 0.0
    if relation in ("exact", "range"):
        need = {"same": 75, "city": 82, "unknown": 85}[place]
        value = score.full
        if relation == "range" and score.shared >= 3 and (wa.last - wa.first).days >= 2:
            # The same run of three or more days and a shared phrase of three words
            # ("Cross-Cluster-Woche Thüringen …" reported under two headlines).
            value = max(value, need)
    elif relation == "day":
        need = {"same": 85, "city": 88, "unknown": 92}[place]
        value = score.full
    elif relation == "edge":
        need, value = 92, score.strict
    else:
        need, value = 95, score.strict
    return value if value >= need else 0.0


def _rrule_key(rule: str) -> str:
    return ";".join(sorted(p for p in rule.upper().replace("RRULE:", "").split(";") if p and not p.startswith("WKST")))


def same_event(a: Event, b: Event, networks: Mapping[str, Network]) -> bool:
    """Whether two events of different sources are the same event (see the module's decision rules)."""
    labels = _network_labels(networks)
    return _compare(_features(a, labels), _features(b, labels)) > 0


# --- clustering ----------------------------------------------------------------


def _event_key(ev: Event) -> tuple:
    return (ev.source_id, ev.source_uid, ev.recurrence_id, ev.start.isoformat(), ev.title, ev.url, ev.location)


def _days(f: _Features) -> list[date]:
    """The days an event is indexed under: its first days (at most ``MAX_BLOCK_DAYS``) and its last."""
    days = []
    day = f.when.first
    while day <= f.when.last and len(days) < MAX_BLOCK_DAYS:
        days.append(day)
        day += timedelta(days=1)
    if f.when.last not in days:  # a long event: also its last day
        days.append(f.when.last)
    return days


def _stems(f: _Features) -> tuple[str, ...]:
    """Word starts of the title's content words (four letters: compounds written apart share
    theirs, "Energiestammtisch" / "Energie-Stammtisch"), sorted."""
    return tuple(sorted({t[:4] for t in f.title.tokens} or {f.title.text[:4]}))


def _candidate_blocks(feats: Sequence[_Features]) -> Iterator[tuple[list[list[int]], list[tuple[list[int], list[int]]]]]:
    """Per day, in date order: blocks of events to compare pairwise, and (probes, members) blocks
    where only each probe is compared with each member; see the module docstring ("Candidates").
    Every block belongs to one day, so the indexes are built for one day at a time: held for all
    days at once they were millions of keys at country scale."""
    stems = [_stems(f) for f in feats]
    on_day: dict[date, list[int]] = defaultdict(list)
    for p, f in enumerate(feats):
        for d in _days(f):
            on_day[d].append(p)
    for d in sorted(on_day):
        yield _day_blocks(feats, stems, on_day.pop(d))


def _day_blocks(feats: Sequence[_Features], stems: list[tuple[str, ...]],
                members: list[int]) -> tuple[list[list[int]], list[tuple[list[int], list[int]]]]:
    """The blocks of one day's events (``members``, ascending)."""
    with_stem: dict[str, list[int]] = defaultdict(list)
    for p in members:
        for s in stems[p]:
            with_stem[s].append(p)
    # Pairs of word starts that are common on the day, and who has them.
    common_of: dict[int, list[str]] = {}
    with_pair: dict[tuple[str, str], list[int]] = defaultdict(list)
    for p in members:
        common = [s for s in stems[p] if len(with_stem[s]) > RARE_STEM]
        if common:
            common_of[p] = common
        for x, s in enumerate(common):
            for t in common[x + 1:]:
                with_pair[(s, t)].append(p)
    blocks: list[list[int]] = [m for m in with_stem.values() if 1 < len(m) <= RARE_STEM]
    blocks += [m for m in with_pair.values() if 1 < len(m) <= RARE_STEM]
    by_url: dict[str, list[int]] = defaultdict(list)
    probes: dict[tuple[str, ...], list[int]] = defaultdict(list)
    for p in members:
        if feats[p].url:
            by_url[feats[p].url].append(p)
        common = common_of.get(p)
        if not common or len(common) < len(stems[p]):
            continue  # a rare word start of its own: in that block
        keys = [(s,) for s in common] + [(s, t) for x, s in enumerate(common) for t in common[x + 1:]]
        sizes = {k: len(with_stem[k[0]]) if len(k) == 1 else len(with_pair[k]) for k in keys}
        if any(n <= RARE_STEM for n in sizes.values()):
            continue  # a rare pair of word starts: in that block
        # Nothing rare about the title on this day ("Stammtisch", "Lunch & Learn"): it meets
        # every event of its rarest word start or pair of them.
        probes[min(keys, key=lambda k: (sizes[k], k))].append(p)
    blocks += [m for m in by_url.values() if len(m) > 1]
    return blocks, [(ps, with_stem[key[0]] if len(key) == 1 else with_pair[key]) for key, ps in probes.items()]


def cluster(events: Sequence[Event], networks: Mapping[str, Network]) -> list[list[int]]:
    """Group the indices of ``events`` that are the same event (see the module docstring)."""
    # Millions of small tuples (pairs, keys, edges) and no reference cycles: the cyclic
    # collector would walk them again and again, a cost growing faster than the input.
    try:
        with collector.paused():
            return _cluster(events, networks)
    finally:
        _clear_caches()


def _clear_caches() -> None:
    """Forget the titles, places, URLs and scores of one clustering: they pay off within a
    run (a title is compared with many others) but at country scale they hold hundreds of
    megabytes, which the publication rendered next (and a service between refreshes) needs."""
    for cached in (_title_cached, _token_match, _title_score, _place, _url_key):
        cached.cache_clear()


def _cluster(events: Sequence[Event], networks: Mapping[str, Network]) -> list[list[int]]:
    labels = _network_labels(networks)
    order = sorted(range(len(events)), key=lambda i: (_event_key(events[i]), i))
    feats = [_features(events[i], labels) for i in order]  # position p ↔ events[order[p]]

    # URLs that one source gives to several of its events name a series or list, not an event.
    by_source_url: dict[tuple[str, str], int] = defaultdict(int)
    for f in feats:
        if f.url:
            by_source_url[(f.event.source_id, f.url)] += 1
    shared = frozenset(url for (_, url), n in by_source_url.items() if n > 1)

    # Pairs already compared. A pair meets only on a day both events are indexed under, so
    # ``seen`` is emptied after each day; only a pair of two multi-day events can meet again
    # on a later day, and is remembered in ``seen_across`` for the whole run.
    seen: set[tuple[int, int]] = set()
    seen_across: set[tuple[int, int]] = set()
    multi_day = [f.when.last > f.when.first for f in feats]  # ⇔ indexed under several days
    edges: list[tuple[float, int, int]] = []
    vetoed: set[tuple[int, int]] = set()
    window = LATE_TOLERANCE.total_seconds()
    stamp = [f.when.start.timestamp() if f.when.start is not None else None for f in feats]

    def consider(p: int, q: int) -> None:
        pair = (p, q) if p < q else (q, p)
        known = seen_across if multi_day[p] and multi_day[q] else seen
        if pair in known:
            return
        known.add(pair)
        if feats[p].event.source_id == feats[q].event.source_id:
            return
        score = _compare(feats[pair[0]], feats[pair[1]], shared)
        if score > 0:
            edges.append((-score, pair[0], pair[1]))
        elif score == VETO:
            vetoed.add(pair)

    for blocks, probe_blocks in _candidate_blocks(feats):
        for members in blocks:
            # Timed events are compared only with timed events starting within the hour
            # (anything further apart is vetoed anyway), and with every untimed one.
            timed = sorted((p for p in members if stamp[p] is not None), key=lambda p: (stamp[p], p))
            untimed = [p for p in members if stamp[p] is None]
            for x, p in enumerate(timed):
                for q in timed[x + 1:]:
                    if stamp[q] - stamp[p] > window:
                        break
                    consider(p, q)
                for q in untimed:
                    consider(p, q)
            for x, p in enumerate(untimed):
                for q in untimed[x + 1:]:
                    consider(p, q)
        for probes, members in probe_blocks:
            for p in probes:
                for q in members:
                    if q != p and (stamp[p] is None or stamp[q] is None or abs(stamp[q] - stamp[p]) <= window):
                        consider(p, q)
        seen.clear()
    seen_across.clear()

    # Kruskal-like: strongest pairs first. A union is refused when it would put two
    # events of one source together, or join two events that veto each other.
    parent = list(range(len(feats)))
    # Members and sources of the roots of joined groups only: most events stay alone, and
    # a list and a set for each of 200,000 events was the clustering's last peak.
    members_of: dict[int, list[int]] = {}
    sources_of: dict[int, set[str]] = {}

    def find(p: int) -> int:
        while parent[p] != p:
            parent[p] = parent[parent[p]]
            p = parent[p]
        return p

    edges.sort()
    for _neg, p, q in edges:
        rp, rq = find(p), find(q)
        if rp == rq:
            continue
        sp, sq = sources_of.get(rp) or {feats[rp].event.source_id}, sources_of.get(rq) or {feats[rq].event.source_id}
        if sp & sq:
            continue
        mp, mq = members_of.get(rp) or [rp], members_of.get(rq) or [rq]
        if len(mp) > 1 or len(mq) > 1:
            if any(_vetoes(feats, x, y, vetoed, shared) for x in mp for y in mq):
                continue
        if (len(mp), rp) < (len(mq), rq):
            rp, rq, mp, mq, sp, sq = rq, rp, mq, mp, sq, sp
        parent[rq] = rp
        mp.extend(mq)
        sp |= sq
        members_of[rp], sources_of[rp] = mp, sp
        members_of.pop(rq, None)
        sources_of.pop(rq, None)

    groups: dict[int, list[int]] = defaultdict(list)
    for p in range(len(feats)):
        groups[find(p)].append(p)
    # positions are in event-key order, so a group's smallest position is its smallest key.
    result = sorted(groups.values(), key=min)
    return [sorted(order[p] for p in group) for group in result]


def _vetoes(feats: list[_Features], x: int, y: int, vetoed: set[tuple[int, int]], shared: frozenset[str]) -> bool:
    pair = (x, y) if x < y else (y, x)
    if pair in vetoed:
        return True
    return _compare(feats[pair[0]], feats[pair[1]], shared) == VETO
