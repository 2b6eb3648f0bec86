"""A seeded synthetic "internet" of network sites for the benchmark.

    python -m bench.synth --sites 24 --events 100 --port 8099 --out bench/work/demo
    python -m bench.synth --mutate 0.01 --out bench/work/demo      # change 1 % of the events

Layout of ``--out``:

- ``sites/<site id>/…``: what each site serves (the server in ``bench/server.py``
  serves this folder; ``sites/_server.json`` says which sites send ETag and
  Last-Modified, only Last-Modified, or no validators);
- ``sources.toml``: one network and one source per site, as an operator writes it;
- ``world.json``: the model the files come from (for ``--mutate``);
- ``expected.json``: ground truth: listings, distinct events (what deduplication
  should publish), the same for the ICS sites alone, and per site the URLs a
  reader fetches (first page, then the further pages).

Every site has its own host name ``<id>.bench.test`` (``bench/loopback.py``
resolves those to 127.0.0.1 inside the bench's processes) and one port shared
by all: the product's per-host limits and robots.txt apply per site, as on the
real web.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from bench.synth.render import HTML_SELECTORS, render_site, source_path
from bench.synth.world import NOW, World, make_world, mutate

__all__ = ["NOW", "World", "make_world", "mutate", "write_world", "rewrite_sites", "load_world", "config_text", "event_id"]


_EVENT_ID = [(re.compile(r"^ev(\d+)-"), 0), (re.compile(r"^tribe:(\d+)$"), 1000), (re.compile(r"/veranstaltung/(\d+)-"), 0)]


def event_id(source_uid: str, url: str = "") -> int | None:
    """The world's event id behind a stored listing (from the UIDs and links the sites give), or None."""
    for pattern, offset in _EVENT_ID:
        m = pattern.search(source_uid or "")
        if m:
            return int(m.group(1)) - offset
    m = _EVENT_ID[2][0].search(url or "")
    return int(m.group(1)) if m else None


def _settings_lines() -> list[str]:
    from aggregator.config import Settings

    lines = [
        "[settings]",
        'calendar_name = "Netzwerktimer Bench"',
        'horizon = "365d"',
        'retention = "365d"',
        # one local server answers for every site: generous, so load shows as time, not as errors
        "timeout = 120",
        "retries = 1",
        "backoff = 0.5",
    ]
    # The one place that opts into fetching 127.0.0.1, when this version of the config knows the key.
    if "allow_private_networks" in Settings.model_fields:
        lines.append("allow_private_networks = true")
    return lines


def source_id(world: World, index: int) -> str:
    site = world.sites[index]
    return f"{site.id}-{site.kind}"


def config_text(world: World) -> str:
    """``sources.toml`` for the world: one network and one source per site."""
    lines = _settings_lines() + [""]
    for site in world.sites:
        lines += [f"[networks.{site.id}]", f"name = {json.dumps(site.name, ensure_ascii=False)}",
                  f'short = "{site.short}"', f'website = "{world.base(site)}/{site.id}/"', ""]
    for i, site in enumerate(world.sites):
        url = f"{world.base(site)}/{site.id}/{source_path(site.kind, site.style)}"
        lines += ["[[sources]]", f'id = "{source_id(world, i)}"', f'network = "{site.id}"', f'kind = "{site.kind}"',
                  f'url = "{url}"']
        if site.kind == "html":
            lines.append("[sources.html]")
            lines += [f"{k} = {json.dumps(v)}" for k, v in HTML_SELECTORS[site.style].items()]
        lines.append("")
    return "\n".join(lines)


def _write(root: Path, files: dict[str, bytes], only_changed: bool) -> int:
    written = 0
    for rel, data in files.items():
        path = root / rel
        if only_changed and path.exists() and path.read_bytes() == data:
            continue  # a site regenerates its pages; one whose bytes did not change keeps its date (and ETag)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written += 1
    return written


def _expected(world: World, rendered: dict[int, object]) -> dict:
    shown_all: set[int] = set()
    shown_ics: set[int] = set()
    listings = ics_listings = 0
    per_site = {}
    for i, r in rendered.items():
        site = world.sites[i]
        shown_all |= r.shown
        listings += len(r.shown)
        if site.kind == "ics":
            shown_ics |= r.shown
            ics_listings += len(r.shown)
        per_site[site.id] = {"source": source_id(world, i), "kind": site.kind, "style": site.style,
                             "validators": site.validators, "urls": r.urls, "listings": len(r.shown)}
    ics_files = sorted(str(Path("sites") / site.id / source_path("ics", site.style)) for site in world.sites if site.kind == "ics")
    return {"sites": len(world.sites), "listings": listings, "events": len(shown_all), "ics_listings": ics_listings,
            "ics_events": len(shown_ics), "ics_files": ics_files, "per_site": per_site, "mutations": world.mutations}


def write_world(world: World, out: Path) -> dict:
    """Write every site, the config and the ground truth below ``out``; return the ground truth."""
    out = Path(out)
    root = out / "sites"
    root.mkdir(parents=True, exist_ok=True)
    listings = world.listings()
    rendered = {i: render_site(world, i, listings[i]) for i in range(len(world.sites))}
    for r in rendered.values():
        _write(root, r.files, only_changed=False)
    (root / "_server.json").write_text(json.dumps({"validators": {s.id: s.validators for s in world.sites}}))
    (out / "sources.toml").write_text(config_text(world), encoding="utf-8")
    (out / "world.json").write_text(json.dumps(world.to_json(), ensure_ascii=False))
    expected = _expected(world, rendered)
    (out / "expected.json").write_text(json.dumps(expected, indent=1))
    return expected


def load_world(out: Path) -> World:
    return World.from_json(json.loads((Path(out) / "world.json").read_text()))


def rewrite_sites(out: Path, fraction: float) -> dict:
    """Change ``fraction`` of the events of the world in ``out`` and write the sites that list them again
    (only files whose bytes changed). Returns what changed, with the new ground truth."""
    out = Path(out)
    world = load_world(out)
    touched, changed = mutate(world, fraction)
    listings = world.listings()
    rendered = {i: render_site(world, i, listings[i]) for i in range(len(world.sites))}
    files_written = 0
    first_page_unchanged = 0
    for i in sorted(touched):
        r = rendered[i]
        first = next(iter(r.files))
        before = (out / "sites" / first).read_bytes() if (out / "sites" / first).exists() else None
        files_written += _write(out / "sites", r.files, only_changed=True)
        if before == r.files[first]:
            first_page_unchanged += 1  # the change sits on a later page only
    (out / "world.json").write_text(json.dumps(world.to_json(), ensure_ascii=False))
    expected = _expected(world, rendered)
    (out / "expected.json").write_text(json.dumps(expected, indent=1))
    return {"round": world.mutations, "sites_touched": len(touched), "files_written": files_written,
            "sites_first_page_unchanged": first_page_unchanged, "events_changed": len(changed), "changed_ids": changed,
            "events": expected["events"], "listings": expected["listings"]}
