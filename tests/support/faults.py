"""The faults the chaos run injects, and what a person must then read about the source.

Each ``Fault`` is one way a site misbehaves (a mode of ``tests/support/sites_server.py``,
or a URL where every connection is refused). ``words``: the source's reason in
``sources list`` and ``/status`` must contain one of them (case-insensitive) — the
words a person understands, not just "error". A fault with no ``words`` is one we
must read through: the source stays healthy and keeps its events.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.support.fixture_sources import FixtureSource

# What a source yielding no events (or far fewer) is told; it is held as suspicious.
HELD = ("no upcoming events", "upcoming events where it had")
NOT_READABLE = ("not an iCalendar file", "not an RSS/Atom feed", "not an HTML page", "not an HTML/XML page", "not JSON",
                "not a The Events Calendar", "offers no calendar")


@dataclass(frozen=True)
class Fault:
    """One kind of misbehaviour: ``mode`` + ``opts`` on the sites server (``None``: refuse connections)."""

    name: str
    mode: str | None
    opts: dict = field(default_factory=dict)
    words: tuple[str, ...] = ()
    kinds: frozenset[str] | None = None  # only for sources of these kinds (None: any)
    target: str = "main"  # the page it hits: "main" (the source's URL), "next_page" or "detail"
    utf8_only: bool = False  # only for sources whose files are UTF-8
    # kinds that may read through it: kind auto only looks for the calendar on its page
    harmless_for: frozenset[str] = frozenset()

    @property
    def harmless(self) -> bool:
        """We must read through it: the source stays healthy."""
        return not self.words

    def applies_to(self, source: FixtureSource) -> bool:
        if self.kinds is not None and source.kind not in self.kinds:
            return False
        if self.target != "main" and not self._paths(source):
            return False
        return not (self.utf8_only and source.encoding != "utf-8")

    def inject(self, server, source: FixtureSource) -> tuple[list[str], str | None]:
        """Make ``server`` misbehave for ``source``: (paths now faulty, replacement URL or None)."""
        if self.mode is None:
            return [source.path], server.refused_url(source.path)
        paths = self._paths(source)
        if self.target != "main":
            server.touch(source.path)  # else a 304 for the first page means the others are not read
        for path in paths:
            server.misbehave(path, self.mode, **self.opts)
        return paths, None

    def _paths(self, source: FixtureSource) -> list[str]:
        return {"main": [source.path], "next_page": list(source.next_pages), "detail": list(source.details)}[self.target]


FAULTS: tuple[Fault, ...] = (
    Fault("connection_refused", None, words=("connection refused",)),
    Fault("connection_reset", "reset", words=("reset the connection",)),
    Fault("connection_dropped", "drop", words=("closed by the server",)),
    Fault("timeout_before_headers", "slow", {"seconds": 5}, words=("timed out",)),
    Fault("timeout_mid_body", "stall", {"seconds": 5}, words=("timed out",)),
    Fault("http_500", "status", {"code": 500, "body": b"Internal Server Error\n"}, words=("Internal Server Error",)),
    Fault("http_503", "status", {"code": 503, "body": b"Service Unavailable\n"}, words=("Service Unavailable",)),
    Fault("http_429_retry_after", "429", {"retry_after": 3600}, words=("Too Many Requests",)),
    Fault("http_404", "status", {"code": 404, "body": b"Not Found\n"}, words=("Not Found",)),
    Fault("redirect_loop", "redirect_loop", words=("too many redirects",)),
    Fault("redirect_other_host", "other_host"),
    Fault("html_error_page", "error_page", words=NOT_READABLE + HELD),
    Fault("truncated_declared", "truncate", {"fraction": 0.5}, words=("without a complete response",)),
    Fault("truncated_undeclared", "truncate", {"fraction": 0.5, "declared": False}, words=("cut off",) + NOT_READABLE + HELD,
          harmless_for=frozenset({"auto"})),  # the calendar's link is in the page's head
    Fault("garbage", "garbage", {"size": 4096}, words=NOT_READABLE + HELD),
    Fault("compression_bomb", "bomb", {"size": 50_000_000}, words=("larger than",)),
    Fault("over_size_cap", "huge", {"size": 3_000_000}, words=("larger than",)),
    Fault("wrong_charset", "charset", {"encoding": "cp1252"}, utf8_only=True),
    Fault("utf8_bom", "charset", {"encoding": "utf-8", "bom": True}, utf8_only=True),
    Fault("empty_200", "empty", words=("empty",) + NOT_READABLE + HELD),
    Fault("redesign_no_events", "redesign", words=HELD + ("offers no calendar",)),  # kind auto finds nothing to read
    Fault("next_page_500", "status", {"code": 500}, words=("Internal Server Error",), target="next_page"),
    Fault("detail_page_500", "status", {"code": 500}, target="detail"),
)

BY_NAME = {f.name: f for f in FAULTS}


def reason_matches(fault: Fault, reason: str | None) -> bool:
    """Whether ``reason`` says what ``fault`` did in a person's words."""
    text = (reason or "").lower()
    return any(w.lower() in text for w in fault.words)
