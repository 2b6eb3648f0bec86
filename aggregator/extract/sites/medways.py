"""medways e.V. "Workshopnews" (hand-written PHP): events as runs of ``<br>`` lines.

The page has no element per event. Inside ``#inhalt`` each event is a run of
lines in a ``<p>``, separated by ``<br>``; it begins with a line that starts in
bold (``<b>``/``<strong>``) and gives the date, then the title line, "Ort: …",
an optional time line ("Zeit: 09:00 - 16:30 Uhr", "18:00 Uhr"), a link and
free text. Section headings ("Workshops 2025", "Vorschau 2026") give year-less
dates their year. A bold line without a date ("Termin folgt") is an event
without a date: skipped with a warning.

    [sources.html]
    parser = "medways"
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bs4 import NavigableString, Tag

from aggregator.extract import ExtractContext, Extraction
from aggregator.extract.html import (
    BLOCK_TAGS,
    HEADING_TAGS,
    MAX_DESCRIPTION,
    MAX_ITEMS,
    SKIP_TAGS,
    TIME_LABEL_RE,
    absolute_url,
    build_event,
    find_location,
    finish,
    heading_year,
    page_base,
    parse_html,
    read_when,
    truncate,
)

CONTENT = "#inhalt"
TIME_LINE_RE = re.compile(r"(?i)^(?:ab\s+|um\s+|Beginn:?\s*)?\d{1,2}(?:[:.]\d{2})?\s*(?:[-–]\s*\d{1,2}(?:[:.]\d{2})?\s*)?Uhr\b")
LOCATION_LINE_RE = re.compile(r"(?i)^(?:Ort|Veranstaltungsort|Wo)\s*[:?]")


@dataclass
class _Line:
    text: str = ""
    bold: str = ""  # the bold text the line starts with
    heading: bool = False
    links: list[str] = field(default_factory=list)
    link_text: str = ""


def _lines(root: Tag, base: str) -> list[_Line]:
    """The content as lines: a new line at each <br> and block; bold start, heading and links noted."""
    lines: list[_Line] = []
    cur = _Line()
    bold_open = True  # still reading the line's leading bold text

    def flush() -> None:
        nonlocal cur, bold_open
        cur.text = " ".join(cur.text.split())
        cur.bold = " ".join(cur.bold.split())
        if cur.text:
            lines.append(cur)
        cur, bold_open = _Line(), True

    for node in root.descendants:
        if isinstance(node, Tag):
            if node.name == "br" or node.name in BLOCK_TAGS:
                flush()
            continue
        if not isinstance(node, NavigableString) or type(node) is not NavigableString:
            continue  # comments, doctype, CDATA
        text = str(node).replace("\xa0", " ")
        bold = heading = False
        link = None
        parent = node.parent
        while parent is not None and parent is not root:
            if parent.name in SKIP_TAGS:
                break
            bold = bold or parent.name in ("b", "strong")
            heading = heading or parent.name in HEADING_TAGS
            if link is None and parent.name == "a":
                link = parent
            parent = parent.parent
        else:
            if cur.text.strip() and heading != cur.heading:
                flush()
            cur.heading = heading
            if text.strip():
                if bold and bold_open:
                    cur.bold += text
                else:
                    bold_open = False
            elif cur.bold:
                cur.bold += text
            if link is not None:
                url = absolute_url(str(link.get("href") or ""), base)
                if url and url not in cur.links:
                    cur.links.append(url)
                cur.link_text += text
            cur.text += text
    flush()
    return lines


def extract(body: bytes, ctx: ExtractContext) -> Extraction:
    soup = parse_html(body, max_nodes=ctx.max_html_nodes)
    root = soup.select_one(CONTENT) or soup.body or soup
    base = page_base(soup, ctx.url)
    reference = ctx.now.astimezone(ctx.timezone).date()
    out = Extraction()

    blocks: list[tuple[str, int | None, list[_Line]]] = []  # (date text, section year, lines)
    year: int | None = None
    for line in _lines(root, base):
        if line.heading:
            year = heading_year(line.text)
            blocks.append(("", None, []))  # a heading ends the event before it
            continue
        if line.bold and line.text.startswith(line.bold):
            blocks.append((line.bold, year, []))
            rest = line.text[len(line.bold):].strip(" ,:–-")
            if rest:
                blocks[-1][2].append(_Line(text=rest))
        elif blocks and blocks[-1][0]:
            blocks[-1][2].append(line)

    blocks = [b for b in blocks if b[0]]
    if not blocks:
        out.warnings.append(f"medways: no bold date lines in {CONTENT} — has the site changed?")
    if len(blocks) > MAX_ITEMS:
        out.warnings.append(f"medways: more than {MAX_ITEMS} entries; read the first {MAX_ITEMS}")
        blocks = blocks[:MAX_ITEMS]

    for date_text, section_year, lines in blocks:
        title = lines[0].text if lines else date_text
        rest = lines[1:]
        times = [ln.text for ln in rest if TIME_LINE_RE.match(ln.text) or TIME_LABEL_RE.match(ln.text)]
        when_text = ", ".join([date_text, *(t.split(":", 1)[1] if TIME_LABEL_RE.match(t) else t for t in times)])
        match = read_when(when_text, reference, year=section_year)
        if match is None:
            out.warnings.append(f"item {title!r}: no event date in {date_text!r}; skipped")
            continue
        links = [u for ln in lines for u in ln.links]
        text = "\n".join(ln.text for ln in rest)
        description = "\n".join(
            ln.text for ln in rest
            if ln.text not in times and not LOCATION_LINE_RE.match(ln.text) and ln.text.strip() != ln.link_text.strip()
        )
        out.events.append(
            build_event(
                title,
                match.start,
                match.end,
                url=links[0] if links else "",
                location=find_location(text),
                description=truncate(description, MAX_DESCRIPTION),
                match=match,
            )
        )
        out.warnings.extend(f"item {title!r}: {w}" for w in match.warnings)
    finish(out)
    if ctx.options.get("detail"):
        out.details.extend((i, ev.url) for i, ev in enumerate(out.events) if ev.url)
    return out
