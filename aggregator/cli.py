"""The ``netzwerktimer`` command.

Command names and options are a contract that later features and users
build on: refresh, export ics, sources list, config check, serve.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

from aggregator import __version__
from aggregator.config import KINDS, Config, ConfigError, Deployment, load_config

EXIT_CONFIG = 2
EXIT_SOURCES_FAILED = 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    deployment = Deployment.from_env(getattr(args, "config", None))
    try:
        config = load_config(deployment.config_path)
    except ConfigError as exc:
        print(f"configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    return args.handler(args, config, deployment)


def _parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", metavar="PATH", default=argparse.SUPPRESS, help="sources.toml to use (overrides NETZWERKTIMER_CONFIG)")
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="log progress")

    p = argparse.ArgumentParser(prog="netzwerktimer", description="One merged calendar of the CCIT networks' events.", parents=[common])
    p.add_argument("--version", action="version", version=f"netzwerktimer {__version__}")
    p.set_defaults(verbose=False)
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    r = sub.add_parser("refresh", parents=[common], help="fetch sources, store their events, publish the calendar")
    r.add_argument("source_ids", nargs="*", metavar="SOURCE_ID", help="only these sources (default: every enabled source)")
    r.set_defaults(handler=_refresh)

    e = sub.add_parser("export", parents=[common], help="write a calendar from what is stored")
    esub = e.add_subparsers(dest="format", required=True, metavar="FORMAT")
    ics = esub.add_parser("ics", parents=[common], help="the merged calendar as iCalendar")
    ics.add_argument("--network", metavar="ID", help="only this network's events")
    ics.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output)")
    ics.set_defaults(handler=_export_ics)

    s = sub.add_parser("sources", parents=[common], help="inspect sources")
    ssub = s.add_subparsers(dest="action", required=True, metavar="ACTION")
    sl = ssub.add_parser("list", parents=[common], help="each source: last run, status, events")
    sl.add_argument("--json", action="store_true", help="print JSON")
    sl.set_defaults(handler=_sources_list)
    sc = ssub.add_parser(
        "check",
        parents=[common],
        help="fetch one source once, store nothing, print the events it yields",
        description="Fetch a configured source (or --url with --kind and selectors) once and print what it yields.",
    )
    sc.add_argument("source_id", nargs="?", metavar="SOURCE_ID", help="a source of sources.toml")
    sc.add_argument("--url", help="try this URL instead of a configured source")
    sc.add_argument("--kind", choices=KINDS, default="auto", help="with --url: the kind (default auto)")
    sc.add_argument("--network", help="with --url: the network id (default: the first network)")
    for key in ("item", "title", "date", "time", "link", "location", "description", "next-page", "parser"):
        sc.add_argument(f"--{key}", dest=f"html_{key.replace('-', '_')}", metavar="SELECTOR" if key != "parser" else "MODULE", help=f"with --kind html: [sources.html] {key.replace('-', '_')}")
    sc.add_argument("--detail", dest="html_detail", action="store_true", help="with --kind html: follow detail pages")
    sc.set_defaults(handler=_sources_check)
    sa = ssub.add_parser("accept", parents=[common], help="accept what a suspicious source yields now, and refresh it")
    sa.add_argument("source_id", metavar="SOURCE_ID")
    sa.set_defaults(handler=_sources_accept)
    sd = ssub.add_parser("discover", parents=[common], help="find the calendars, feeds, APIs and event markup a page offers")
    sd.add_argument("url", metavar="URL")
    sd.add_argument("--network", default="NETWORK", help="network id to put into the printed [[sources]] block")
    sd.set_defaults(handler=_sources_discover)

    c = sub.add_parser("config", parents=[common], help="configuration")
    csub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    cc = csub.add_parser("check", parents=[common], help="validate sources.toml without starting anything")
    cc.set_defaults(handler=_config_check)

    sv = sub.add_parser("serve", parents=[common], help="refresh on schedule and serve the calendar over HTTP")
    sv.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1; 0.0.0.0 in a container)")
    sv.add_argument("--port", type=int, default=8080, help="port (default 8080)")
    sv.set_defaults(handler=_serve)
    return p


def _open_store(deployment: Deployment):
    from aggregator.store import Store

    store = Store(deployment.database_url)
    store.migrate()
    return store


def _refresh(args, config: Config, deployment: Deployment) -> int:
    from aggregator.pipeline import refresh, select_sources

    try:
        sources = select_sources(config, args.source_ids)
    except KeyError as exc:
        print(exc.args[0], file=sys.stderr)
        return EXIT_CONFIG
    store = _open_store(deployment)
    report = refresh(config, store, deployment, sources)
    for r in report.sources:
        line = f"{r.source_id}: {r.outcome}"
        if r.http_status:
            line += f" (HTTP {r.http_status})"
        if r.events is not None:
            line += f", {r.events} events"
        if r.sync:
            line += f" (+{r.sync.added} ~{r.sync.updated} -{r.sync.gone})"
        if r.error:
            line += f": {r.error}"
        if r.warnings:
            line += f" [{len(r.warnings)} warnings]"
        print(line)
    path = deployment.public_dir / "calendar.ics"
    print(f"calendar {'written' if report.published else 'unchanged'}: {path}")
    return EXIT_SOURCES_FAILED if report.failed else 0


def _export_ics(args, config: Config, deployment: Deployment) -> int:
    from aggregator.pipeline import render
    from exporters.files import write_atomic

    if args.network and args.network not in config.networks:
        print(f"unknown network {args.network!r}; known: {', '.join(sorted(config.networks))}", file=sys.stderr)
        return EXIT_CONFIG
    data = render(config, _open_store(deployment), args.network)
    if args.output:
        write_atomic(Path(args.output), data)
    else:
        sys.stdout.buffer.write(data)
    return 0


def _sources_list(args, config: Config, deployment: Deployment) -> int:
    from aggregator.status import source_rows

    rows = source_rows(config, _open_store(deployment).source_states())
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    header = ("SOURCE", "NETWORK", "KIND", "ON", "LAST RUN (UTC)", "STATUS", "EVENTS")
    table = [header]
    for r in rows:
        status = r["outcome"] or "never run"
        if r["http_status"]:
            status += f" {r['http_status']}"
        table.append((r["id"], r["network"], r["kind"], "yes" if r["enabled"] else "no", (r["last_run"] or "-")[:16].replace("T", " "), status, str(r["events"])))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip())
    for r in rows:
        if r["suspicious"]:
            print(f"  ? {r['id']}: suspicious, {r['suspicious']}")
        elif r["error"]:
            print(f"  ! {r['id']}: {r['error']}")
        if r["warnings"]:
            print(f"  ~ {r['id']}: {len(r['warnings'])} warnings, first: {r['warnings'][0]}")
    return 0


def _sources_accept(args, config: Config, deployment: Deployment) -> int:
    from aggregator.pipeline import refresh

    try:
        source = config.source(args.source_id)
    except KeyError:
        print(f"unknown source id: {args.source_id}", file=sys.stderr)
        return EXIT_CONFIG
    store = _open_store(deployment)
    state = store.source_state(source.id)
    if not state.suspicious:
        print(f"{source.id} is not held as suspicious; nothing to accept")
        return 0
    store.accept_next(source.id)
    (report,) = refresh(config, store, deployment, [source]).sources
    print(f"{source.id}: {report.outcome}" + (f", {report.events} events" if report.events is not None else "") + (f": {report.error}" if report.error else ""))
    return 0 if report.outcome in ("fetched", "not_modified", "unchanged") else EXIT_SOURCES_FAILED


def _sources_check(args, config: Config, deployment: Deployment) -> int:
    from aggregator.config import Source
    from aggregator.pipeline import preview

    if bool(args.source_id) == bool(args.url):
        print("give either SOURCE_ID or --url", file=sys.stderr)
        return EXIT_CONFIG
    if args.source_id:
        try:
            source = config.source(args.source_id)
        except KeyError:
            print(f"unknown source id: {args.source_id}", file=sys.stderr)
            return EXIT_CONFIG
    else:
        html = {k.removeprefix("html_"): v for k, v in vars(args).items() if k.startswith("html_") and v not in (None, False)}
        network = args.network or next(iter(config.networks), "check")
        try:
            source = Source(id="check", network=network, kind=args.kind, url=args.url, html=html or None)
        except ValueError as exc:
            print(f"cannot check: {exc}", file=sys.stderr)
            return EXIT_CONFIG
    result = preview(config, source)
    print(f"{source.url}: {result.fetch.outcome}" + (f" (HTTP {result.fetch.status})" if result.fetch.status else ""))
    if result.error:
        print(f"error: {result.error}")
        return EXIT_SOURCES_FAILED
    rows = [("START", "END", "TITLE", "LOCATION", "LINK")]
    for ev in sorted(result.events, key=lambda e: (str(e.start), e.title)):
        rows.append((_when(ev.start), _when(ev.end), ev.title + (" [cancelled]" if ev.status == "cancelled" else "") + (" [series]" if ev.rrule or ev.rdates else ""), ev.location, ev.url))
    _print_table(rows, widths=(16, 16, 50, 30, 60))
    print(f"{len(result.events)} events")
    for w in result.warnings:
        print(f"  ~ {w}")
    return 0


def _sources_discover(args, config: Config, deployment: Deployment) -> int:
    import asyncio

    from aggregator.discover import best, source_block, suggested_id
    from aggregator.pipeline import discover_url

    first, candidates = asyncio.run(discover_url(config, args.url))
    if first.outcome != "fetched":
        print(f"{args.url}: {first.error or first.outcome}", file=sys.stderr)
        return EXIT_SOURCES_FAILED
    if not candidates:
        print(f"{args.url}: no calendar, feed, Tribe API or schema.org events found (kind html with selectors may still work)")
        return EXIT_SOURCES_FAILED
    for c in candidates:
        outcome = f"{c.events} events" if c.events is not None else f"error: {c.error}"
        print(f"{c.kind:7} {c.url}\n        {c.how}; {outcome}")
    chosen = best(candidates)
    if chosen is None:
        print("none of them yielded events")
        return EXIT_SOURCES_FAILED
    print()
    print(source_block(chosen, suggested_id(chosen.url, chosen.kind), args.network))
    return 0


def _when(value) -> str:
    if value is None:
        return "-"
    if hasattr(value, "hour"):
        return value.strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _print_table(rows, widths) -> None:
    for row in rows:
        cells = [(c if len(c) <= w else c[: w - 1] + "…").ljust(w) for c, w in zip(row, widths)]
        print("  ".join(cells).rstrip())


def _config_check(args, config: Config, deployment: Deployment) -> int:
    enabled = sum(1 for s in config.sources if s.enabled)
    print(f"{config.path}: OK — {len(config.networks)} networks, {len(config.sources)} sources ({enabled} enabled)")
    return 0


def _serve(args, config: Config, deployment: Deployment) -> int:
    from aggregator.web import serve

    serve(config, deployment, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
