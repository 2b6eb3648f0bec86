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
EXIT_DATABASE = 3
EXIT_BUSY = 4


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        _configure_logging(args)
    except ConfigError as exc:
        print(f"configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    try:
        deployment = Deployment.from_env(getattr(args, "config", None))
        config = load_config(deployment.config_path)
    except ConfigError as exc:
        print(f"configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    from sqlalchemy.exc import OperationalError

    try:
        if getattr(args, "writes", False) and not getattr(args, "dry_run", False):
            return _as_the_writer(args, config, deployment)
        return args.handler(args, config, deployment)
    except OperationalError as exc:  # the database cannot be reached or used: say so, no traceback
        reason = str(exc.orig or exc).strip().splitlines()[0] if str(exc.orig or exc).strip() else type(exc).__name__
        print(f"database unavailable: {reason}", file=sys.stderr)
        return EXIT_DATABASE


def _as_the_writer(args, config: Config, deployment: Deployment) -> int:
    """Run a command that writes to the database while no other process does (``WriterLock``):
    it waits up to NETZWERKTIMER_WRITER_WAIT seconds, then gives up with exit status 4."""
    from aggregator.store.writer_lock import WriterBusy, WriterLock

    lock = WriterLock(deployment.database_url)
    try:
        with lock.holding(deployment.writer_wait, f"netzwerktimer {args.command}"):
            return args.handler(args, config, deployment)
    except WriterBusy as exc:
        print(str(exc), file=sys.stderr)
        return EXIT_BUSY
    finally:
        lock.close()


def _configure_logging(args) -> None:
    """Logs go to standard error: ``serve`` as JSON lines at INFO, the other commands as text at
    WARNING (INFO with ``-v``), unless NETZWERKTIMER_LOG_FORMAT / NETZWERKTIMER_LOG_LEVEL say otherwise."""
    from aggregator import logs

    serving = args.command == "serve"
    settings = logs.settings_from_env(default_format="json" if serving else "text",
                                      default_level=logging.INFO if serving or args.verbose else logging.WARNING)
    if args.verbose and settings.level > logging.INFO:
        settings = logs.LogSettings(settings.format, logging.INFO)
    logs.configure(settings, logs.secrets_from_env())


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
    r.set_defaults(handler=_refresh, writes=True)

    e = sub.add_parser("export", parents=[common], help="write a calendar from what is stored")
    esub = e.add_subparsers(dest="format", required=True, metavar="FORMAT")
    ics = esub.add_parser("ics", parents=[common], help="the merged calendar as iCalendar")
    ics.add_argument("--network", metavar="ID", help="only this network's events")
    ics.add_argument("-o", "--output", metavar="FILE", help="write here (default: standard output)")
    ics.set_defaults(handler=_export_ics, writes=True)  # a publication not yet recorded is recorded

    s = sub.add_parser("sources", parents=[common], help="list, check, discover and accept sources")
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
    sc.add_argument("--kind", choices=KINDS, default=None, help="with --url: the kind (default auto; html when a selector option is given)")
    sc.add_argument("--network", help="with --url: the network id (default: the first network)")
    for key in ("item", "title", "date", "time", "link", "location", "description", "next-page", "parser"):
        sc.add_argument(f"--{key}", dest=f"html_{key.replace('-', '_')}", metavar="SELECTOR" if key != "parser" else "MODULE", help=f"kind html: [sources.html] {key.replace('-', '_')}")
    sc.add_argument("--detail", dest="html_detail", action="store_true", help="kind html: follow detail pages")
    sc.set_defaults(handler=_sources_check)
    sa = ssub.add_parser("accept", parents=[common], help="accept what a suspicious source yields now, and refresh it")
    sa.add_argument("source_id", metavar="SOURCE_ID")
    sa.set_defaults(handler=_sources_accept, writes=True)
    sd = ssub.add_parser("discover", parents=[common], help="find the calendars, feeds, APIs and event markup a page offers")
    sd.add_argument("url", metavar="URL")
    sd.add_argument("--network", default="NETWORK", help="network id to put into the printed [[sources]] block")
    sd.set_defaults(handler=_sources_discover)

    cf = sub.add_parser("conflicts", parents=[common], help="events of different networks that collide")
    cf.add_argument("--from", dest="date_from", metavar="DATE", type=_date_arg, help="first day (YYYY-MM-DD; default today)")
    cf.add_argument("--to", dest="date_to", metavar="DATE", type=_date_arg, help="last day (default: today + [conflicts] horizon)")
    cf.add_argument("--network", metavar="ID", help="only conflicts involving this network")
    cf.add_argument("--kind", choices=("overlap", "same_day"), help="only this kind (default: both)")
    cf.add_argument("--json", action="store_true", help="print a JSON list")
    cf.set_defaults(handler=_conflicts, writes=True)  # records the conflicts' lifecycle
    cfsub = cf.add_subparsers(dest="action", required=False, metavar="ACTION")
    ack = cfsub.add_parser("ack", parents=[common], help="mark a conflict as known and intended")
    ack.add_argument("conflict_id", metavar="ID")
    ack.add_argument("--note", required=True, help="why it is fine (shown in later digests)")
    ack.set_defaults(handler=_conflicts_ack, writes=True)

    cd = sub.add_parser("check-date", parents=[common], help="what is on a day, and what a new event there would collide with")
    cd.add_argument("day", metavar="DATE", type=_date_arg, help="YYYY-MM-DD")
    cd.add_argument("--start", type=_time_arg, metavar="HH:MM", help="start of the planned event (default: all day)")
    cd.add_argument("--end", type=_time_arg, metavar="HH:MM", help="end of the planned event (default: start + 2 h)")
    cd.add_argument("--network", metavar="ID", help="the network planning it (its own events do not collide)")
    cd.add_argument("--json", action="store_true", help="print JSON")
    cd.set_defaults(handler=_check_date)

    dg = sub.add_parser("digest", parents=[common], help="send the conflict digest (once per night and recipient)")
    dg.add_argument("--dry-run", action="store_true", help="print what would be sent; send and record nothing")
    dg.add_argument("--date", dest="night", metavar="DATE", type=_date_arg, help="the night it is for (default: today)")
    dg.add_argument("--force", action="store_true", help="send even to recipients who got this night's digest")
    dg.set_defaults(handler=_digest, writes=True)

    c = sub.add_parser("config", parents=[common], help="configuration")
    csub = c.add_subparsers(dest="action", required=True, metavar="ACTION")
    cc = csub.add_parser("check", parents=[common], help="validate sources.toml and the environment without starting anything")
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
    from aggregator.pipeline import export
    from exporters.files import write_atomic

    if args.network and args.network not in config.networks:
        print(f"unknown network {args.network!r}; known: {', '.join(sorted(config.networks))}", file=sys.stderr)
        return EXIT_CONFIG
    data = export(config, _open_store(deployment), deployment, args.network)
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
        if r["outcome"] == "error":  # the current failure, also of a source still held as suspicious
            print(f"  ! {r['id']}: {r['error']}")
        if r["suspicious"]:
            print(f"  ? {r['id']}: suspicious, {r['suspicious']}")
        if r["warnings"]:
            print(f"  ~ {r['id']}: {len(r['warnings'])} warnings, first: {r['warnings'][0]}")
    return 0


def _sources_accept(args, config: Config, deployment: Deployment) -> int:
    from aggregator.pipeline import accept

    try:
        source = config.source(args.source_id)
    except KeyError:
        print(f"unknown source id: {args.source_id}", file=sys.stderr)
        return EXIT_CONFIG
    refreshed = accept(config, _open_store(deployment), deployment, source)
    if refreshed is None:
        print(f"{source.id} is not held as suspicious; nothing to accept")
        return 0
    (report,) = refreshed.sources
    print(f"{source.id}: {report.outcome}" + (f", {report.events} events" if report.events is not None else "") + (f": {report.error}" if report.error else ""))
    return 0 if report.outcome in ("fetched", "not_modified", "unchanged") else EXIT_SOURCES_FAILED


def _sources_check(args, config: Config, deployment: Deployment) -> int:
    from zoneinfo import ZoneInfo

    from aggregator import check_table
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
        source = check_table.source_from_options(url=args.url, kind=args.kind, network=network, html=html)
        if isinstance(source, str):
            print(f"cannot check: {source}", file=sys.stderr)
            return EXIT_CONFIG
    result = preview(config, source)
    print(f"{source.url}: {result.fetch.outcome}" + (f" (HTTP {result.fetch.status})" if result.fetch.status else ""))
    if result.error:
        print(f"error: {result.error}")
        return EXIT_SOURCES_FAILED
    for line in check_table.lines(result.events, ZoneInfo(config.settings.timezone)):
        print(line)
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
        print(f"{c.kind:7} {c.url}\n        {c.how}; {c.outcome()}")
    chosen = best(candidates)
    if chosen is None:
        print("none of them yielded events")
        return EXIT_SOURCES_FAILED
    print()
    print(source_block(chosen, suggested_id(chosen.url, chosen.kind), args.network))
    return 0


def _date_arg(text: str):
    from datetime import date

    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def _time_arg(text: str):
    from datetime import time

    try:
        return time.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time (HH:MM): {text!r}") from None


def _known_network(config: Config, network: str | None) -> bool:
    if network and network not in config.networks:
        print(f"unknown network {network!r}; known: {', '.join(sorted(config.networks))}", file=sys.stderr)
        return False
    return True


def _conflicts(args, config: Config, deployment: Deployment) -> int:
    from datetime import datetime, time, timedelta, timezone
    from zoneinfo import ZoneInfo

    from aggregator.conflict_report import as_json, conflict_context, context_periods, detect, involves

    if not _known_network(config, args.network):
        return EXIT_CONFIG
    zone = ZoneInfo(config.settings.timezone)
    now = datetime.now(timezone.utc)
    start = datetime.combine(args.date_from, time(0), zone) if args.date_from else None
    end = datetime.combine(args.date_to + timedelta(days=1), time(0), zone) if args.date_to else None
    store = _open_store(deployment)
    detected = detect(config, store, now, start, end)
    periods = context_periods(config, store)
    found = [t for t in detected if involves(t, args.network) and (not args.kind or t.kind == args.kind)]
    rows = [as_json(t, now, more=detected.more, context=conflict_context(t, periods, zone)) for t in found]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return 0
    if not rows:
        print("no conflicts")
        return 0
    for t, r in zip(found, rows):
        a, b = r["events"]
        print(f"{r['id'][:12]}  {r['kind']:8} score {r['score']:5.1f}  {r['status']}")
        for side, snap in ((a, t.a), (b, t.b)):
            print(f"    {_local_start(snap, zone)}  {side['title']}  [{', '.join(side['networks'])}]" + (f"  @ {side['location']}" if side["location"] else "")
                  + (f"  (+{side['more']} more)" if side.get("more") else ""))
        for line in r["context"]:
            print(f"    ! {line}")
        if r["acknowledged"]:
            print(f"    acknowledged: {r['acknowledged']}")
    print(f"{len(rows)} conflicts")
    if detected.capped:
        print(f"{detected.total} colliding pairs in all; [conflicts] max_per_event = {config.conflicts.max_per_event} lists each "
              f"event's worst; {len(detected.more)} events have more than are listed")
    return 0


def _local_start(snap: dict, zone) -> str:
    """A conflict side's start for people: "YYYY-MM-DD HH:MM" in ``zone`` (the configured timezone, whatever
    zone the source gave), "YYYY-MM-DD all day" for an all-day event."""
    from datetime import datetime

    if snap.get("all_day"):
        return f"{snap.get('day_start', '')} all day"
    try:
        return datetime.fromisoformat(snap["start"]).astimezone(zone).strftime("%Y-%m-%d %H:%M")
    except (KeyError, ValueError):
        return str(snap.get("start", ""))[:16].replace("T", " ")


def _conflicts_ack(args, config: Config, deployment: Deployment) -> int:
    from datetime import datetime, timezone

    store = _open_store(deployment)
    matches = [c for c in store.conflicts() if c["id"].startswith(args.conflict_id)]
    if len(matches) != 1:
        print(f"{'no' if not matches else 'more than one'} conflict with id {args.conflict_id!r}", file=sys.stderr)
        return EXIT_CONFIG
    (conflict,) = matches
    # a resolved conflict no longer collides; if it comes back it is a new one, unacknowledged
    if conflict["resolved_at"] is not None or not store.acknowledge_conflict(conflict["id"], args.note, datetime.now(timezone.utc)):
        print(f"conflict {conflict['id'][:12]} is resolved: its events no longer collide, there is nothing to acknowledge", file=sys.stderr)
        return EXIT_CONFIG
    print(f"{conflict['id'][:12]} acknowledged: {args.note}")
    return 0


def _check_date(args, config: Config, deployment: Deployment) -> int:
    from datetime import datetime, timezone

    from aggregator.conflict_report import check_date

    if not _known_network(config, args.network):
        return EXIT_CONFIG
    if args.end and not args.start:
        print("--end needs --start", file=sys.stderr)
        return EXIT_CONFIG
    result = check_date(config, _open_store(deployment), args.day, datetime.now(timezone.utc), start=args.start, end=args.end, network=args.network)

    def side(s, counted: bool = True) -> dict:
        return {"uid": s.uid, "title": s.title, "start": s.start.isoformat(), "end": s.end.isoformat(), "all_day": s.all_day,
                "networks": list(s.networks), "location": s.location, "url": s.url, "counted_for_conflicts": counted}

    data = {
        "date": result.day.isoformat(),
        "events": [side(s) for s in result.events] + [side(s, counted=False) for s in result.long_events],
        "collisions": [{"kind": kind, "event": side(s)} for kind, s in result.collisions],
        "context": result.context,
        "free_days": [d.isoformat() for d in result.free_days],
    }
    if args.json:
        print(json.dumps(data, ensure_ascii=False, indent=2))
        return 0
    from zoneinfo import ZoneInfo

    zone = ZoneInfo(config.settings.timezone)
    print(f"{result.day.isoformat()}: {len(result.events) + len(result.long_events)} events")
    for s in result.events + result.long_events:
        when = "all day" if s.all_day else f"{s.start.astimezone(zone).strftime('%H:%M')}–{s.end.astimezone(zone).strftime('%H:%M')}"
        if s.start.astimezone(zone).date() != s.end.astimezone(zone).date() and not s.all_day:
            when = f"{s.start.astimezone(zone).strftime('%d.%m. %H:%M')}–{s.end.astimezone(zone).strftime('%d.%m. %H:%M')}"
        print(f"  {when:12} {s.title}  [{', '.join(s.networks)}]" + (f"  @ {s.location}" if s.location else "")
              + ("  (longer than [conflicts] ignore_longer_than: not counted for conflicts)" if s in result.long_events else ""))
    for line in result.context:
        print(f"  ! {line}")
    if result.collisions:
        print("a new event then would collide with:")
        for kind, s in result.collisions:
            print(f"  {kind:8} {s.title}  [{', '.join(s.networks)}]")
    else:
        print("a new event then collides with nothing")
    if result.free_days:
        print("nearest free days: " + ", ".join(d.isoformat() for d in result.free_days))
    return 0


def _digest(args, config: Config, deployment: Deployment) -> int:
    from datetime import datetime, timezone
    from zoneinfo import ZoneInfo

    from aggregator.digest_job import recipients, run_digest
    from aggregator.mail import SmtpSettings

    if not args.dry_run:
        try:
            SmtpSettings.from_env()  # refuse a wrong SMTP setting before anything is claimed
        except ConfigError as exc:
            print(f"configuration refused:\n{exc}", file=sys.stderr)
            return EXIT_CONFIG
    if not recipients(config):
        print("no recipients: set [digest] recipients or a network's contacts in sources.toml")
        return 0
    now = datetime.now(timezone.utc)
    night = args.night or now.astimezone(ZoneInfo(config.settings.timezone)).date()
    failed = False
    for out in run_digest(config, _open_store(deployment), deployment, night, now, dry_run=args.dry_run, force=args.force):
        line = f"{out.recipient}: {out.status}"
        if out.subject:
            line += f" — {out.subject}"
        if out.where:
            line += f" ({out.where})"
        if out.error:
            line += f": {out.error}"
            failed = True
        if out.note:
            line += f" [{out.note}]"
        print(line)
        if args.dry_run and out.text:
            print(out.text)
    return EXIT_SOURCES_FAILED if failed else 0


def _config_check(args, config: Config, deployment: Deployment) -> int:
    """The file (read by ``main``) and the environment: the database URL (checked by
    ``Deployment.from_env`` for every command), the log and the mail settings."""
    from sqlalchemy.engine import make_url

    from aggregator.mail import SmtpSettings, mail_from_env

    try:
        smtp = SmtpSettings.from_env()
        mail_from_env()
    except ConfigError as exc:
        print(f"configuration refused:\n{exc}", file=sys.stderr)
        return EXIT_CONFIG
    enabled = sum(1 for s in config.sources if s.enabled)
    print(f"{config.path}: OK — {len(config.networks)} networks, {len(config.sources)} sources ({enabled} enabled)")
    database = make_url(deployment.database_url)
    mail = f"SMTP {smtp.where}" if smtp else "the outbox"
    print(f"environment: OK — database {database.get_backend_name()}+{database.get_driver_name()}, mail to {mail}")
    return 0


def _serve(args, config: Config, deployment: Deployment) -> int:
    from aggregator.web import serve

    serve(config, deployment, host=args.host, port=args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
