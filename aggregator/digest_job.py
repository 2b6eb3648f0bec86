"""The nightly digest: who gets which conflicts, what changed since their last
digest, and sending it exactly once per night and recipient.

``run_digest(config, store, deployment, night, now)`` promises:

- global recipients (``[digest] recipients``) get every conflict; each
  network's ``contacts`` get the conflicts that involve their network and
  the problems of their network's sources;
- "new", "changed" and "resolved" are relative to the recipient's last sent
  digest (else the last 24 hours); acknowledged conflicts are no news (not
  in new or changed) but stay in the upcoming list, marked as acknowledged
  with their note;
- "announced" lists the events first seen since then that have not ended, by start;
- a dry run records nothing (no publication, no conflict lifecycle, no send);
- nothing new and every source healthy: no mail, unless
  ``[digest] send_when_empty``;
- each (night, recipient) is sent at most once (``aggregator.mail.send_once``);
  a failed send stays unsent and is tried again by the next run; ``force``
  sends again even when sent;
- one log record per recipient (``event`` ``digest.send``: night, recipient,
  status, where it went, error, duration), WARNING when the send failed.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from aggregator.conflict_report import context_of, context_periods, detect
from aggregator.conflict_state import Tracked, side_key
from aggregator.config import Config, Deployment
from aggregator.mail import SmtpSettings, build_message, mail_from_env, send_once
from aggregator.merge import publication
from aggregator.status import source_rows
from aggregator.store import Store
from exporters.digest import DigestConflict, DigestData, DigestEvent, SourceProblem, is_empty, render_digest

log = logging.getLogger(__name__)


@dataclass
class DigestOutcome:
    recipient: str
    status: str  # sent | already_sent | failed | skipped_empty | dry_run
    subject: str = ""
    where: str = ""
    error: str = ""
    text: str = field(default="", repr=False)
    note: str = ""  # what a person should know about the send (aggregator.mail.SendResult.note)


def recipients(config: Config) -> dict[str, tuple[str, ...]]:
    """recipient → the networks it is responsible for (empty: everything)."""
    out: dict[str, tuple[str, ...]] = {r: () for r in config.digest.recipients}
    for nid, network in config.networks.items():
        for contact in network.contacts:
            if out.get(contact) == ():
                continue  # a global recipient sees everything already
            out[contact] = tuple(sorted({*out.get(contact, ()), nid}))
    return out


def run_digest(config: Config, store: Store, deployment: Deployment, night: date, now: datetime, *,
               dry_run: bool = False, force: bool = False, env: dict | None = None,
               stop: threading.Event | None = None) -> list[DigestOutcome]:
    """The outcome per recipient (see the module docstring); once ``stop`` is set no further
    recipient is started (a mail being sent is finished), and the outcomes so far are returned."""
    zone = ZoneInfo(config.settings.timezone)
    # a dry run shows what would be sent and records nothing: no publication, no conflict lifecycle
    published = publication(config, store, now, record=not dry_run)
    tracked = detect(config, store, now, published=published, record=not dry_run)
    problems = _problems(config, store)
    periods = context_periods(config, store)
    smtp = None if dry_run else SmtpSettings.from_env(env)
    # [digest] sender, else NETZWERKTIMER_MAIL_FROM: also for the outbox, where there are no SMTP settings
    sender = config.digest.sender or (smtp.sender if smtp else mail_from_env(env))
    outbox = deployment.data_dir / "outbox"
    results = []
    sent_tonight = {row.recipient for row in store.digest_sends(night) if row.status == "sent"}
    for recipient, networks in sorted(recipients(config).items()):
        if stop is not None and stop.is_set():
            log.info("digest for %s stopped before %s", night, recipient, extra={"event": "digest", "night": night.isoformat(), "outcome": "stopped"})
            break
        started = time.perf_counter()
        if recipient in sent_tonight and not force and not dry_run:
            results.append(_logged(DigestOutcome(recipient, "already_sent"), night, started))
            continue
        since = store.last_digest_sent(recipient) or now - timedelta(hours=24)
        data = _data(config, tracked, published, problems, periods, night, networks, since, now, zone)
        if is_empty(data) and not config.digest.send_when_empty:
            results.append(_logged(DigestOutcome(recipient, "skipped_empty"), night, started))
            continue
        rendered = render_digest(data)
        if dry_run:
            results.append(_logged(DigestOutcome(recipient, "dry_run", rendered.subject, text=rendered.text), night, started))
            continue
        message = build_message(rendered.subject, rendered.text, rendered.html, sender=sender,
                                recipients=[recipient], night=night, message_id_domain="netzwerktimer")
        sent = send_once(store, night, recipient, message, smtp, Path(outbox), now, force=force)
        results.append(_logged(DigestOutcome(recipient, sent.status, rendered.subject, sent.where or "", sent.error or "",
                                             note=sent.note or ""), night, started))
    return results


def _logged(o: DigestOutcome, night: date, started: float) -> DigestOutcome:
    """``o``, after logging it as one ``digest.send`` record."""
    fields = {"event": "digest.send", "night": night.isoformat(), "recipient": o.recipient, "outcome": o.status,
              "duration_s": round(time.perf_counter() - started, 3)}
    if o.where:
        fields["where"] = o.where
    if o.error:
        fields["error"] = o.error
    if o.note:
        fields["note"] = o.note  # e.g. a possible duplicate after a crash in the SMTP hand-over
    log.log(logging.WARNING if o.status == "failed" or o.note else logging.INFO, "digest %s to %s: %s%s%s%s", night, o.recipient,
            o.status, f" → {o.where}" if o.where else "", f" ({o.error})" if o.error else "", f" [{o.note}]" if o.note else "",
            extra=fields)
    return o


def _problems(config: Config, store: Store) -> list[tuple[str, SourceProblem]]:
    out = []
    for row in source_rows(config, store.source_states()):
        if not row["enabled"]:
            continue
        network = config.networks[row["network"]].label
        if row["suspicious"]:
            out.append((row["network"], SourceProblem(row["id"], network, "suspicious", row["suspicious"], None)))
        elif row["outcome"] == "error":
            since = datetime.fromisoformat(row["last_success"]) if row["last_success"] else None
            out.append((row["network"], SourceProblem(row["id"], network, "failing", row["error"] or "", since)))
    return out


def _data(config: Config, tracked: list[Tracked], published, problems, periods, night: date, networks: tuple[str, ...],
          since: datetime, now: datetime, zone: ZoneInfo) -> DigestData:
    kinds = set(config.conflicts.digest_kinds)
    mine = [t for t in tracked if t.kind in kinds and (not networks or set(networks) & (set(t.a.get("networks", [])) | set(t.b.get("networks", []))))]
    by_status: dict[str, list[DigestConflict]] = {"new": [], "changed": [], "resolved": [], "upcoming": []}
    horizon = now + timedelta(weeks=config.digest.upcoming_weeks)
    for t in sorted(mine, key=lambda t: (t.starts_at, -t.score, t.id)):
        status = t.status_since(since)
        conflict = _conflict(config, t, status, zone, periods, getattr(tracked, "more", None) if not t.resolved else None)
        if status in ("new", "changed"):
            by_status[status].append(conflict)
        elif status == "resolved" and t.resolved_at and t.resolved_at > since:
            by_status["resolved"].append(conflict)
        if not t.resolved and t.starts_at < horizon:  # acknowledged ones too: known, still happening
            by_status["upcoming"].append(conflict)
    fresh = [p for p in published
             if p.first_seen > since and not p.event.recurrence_id and (not networks or set(networks) & set(p.networks))
             and _still_ahead(p.event, now, zone)]
    announced = [_event(config, p.event, p.networks, zone) for p in sorted(fresh, key=lambda p: (_instant(p.event.start, zone), p.event.title))]
    return DigestData(
        night=night,
        language=config.digest.language,
        new=by_status["new"],
        changed=by_status["changed"],
        resolved=by_status["resolved"],
        upcoming=by_status["upcoming"],
        announced=announced,
        problems=[p for nid, p in problems if not networks or nid in networks],
        calendar_url=config.digest.calendar_url,
        weeks=config.digest.upcoming_weeks,
        recipient_networks=tuple(config.networks[n].label for n in networks if n in config.networks),
    )


def _instant(value, zone: ZoneInfo) -> datetime:
    """A start or end as an aware datetime: a date is its local midnight."""
    return value if isinstance(value, datetime) else datetime.combine(value, datetime.min.time(), zone)


def _still_ahead(ev, now: datetime, zone: ZoneInfo) -> bool:
    """Whether a newly announced event is still worth announcing: it has not ended (a series
    counts while it may have occurrences ahead, which its first one does not tell)."""
    if ev.rrule or ev.rdates:
        return True
    end = ev.end if ev.end is not None else ev.start
    if not isinstance(end, datetime) and ev.end is None:
        end = end + timedelta(days=1)  # an all-day event without an end lasts its day
    return _instant(end, zone) > now


def _labels(config: Config, ids) -> tuple[str, ...]:
    return tuple(config.networks[n].label if n in config.networks else n for n in ids)


def _side(config: Config, snap: dict, zone: ZoneInfo, more: dict | None = None) -> DigestEvent:
    all_day = bool(snap.get("all_day"))
    if all_day:
        start, end = date.fromisoformat(snap["day_start"]), date.fromisoformat(snap["day_end"])
    else:
        start, end = datetime.fromisoformat(snap["start"]).astimezone(zone), datetime.fromisoformat(snap["end"]).astimezone(zone)
    return DigestEvent(snap.get("title", ""), start, end, all_day, _labels(config, snap.get("networks", [])), snap.get("location", ""), snap.get("url", ""),
                       more=(more or {}).get(side_key(snap), 0))


def _conflict(config: Config, t: Tracked, status: str, zone: ZoneInfo, periods, more: dict | None = None) -> DigestConflict:
    day = t.starts_at.astimezone(zone).date()
    return DigestConflict(
        id=t.id, kind=t.kind, score=t.score, status=status, a=_side(config, t.a, zone, more), b=_side(config, t.b, zone, more),
        first_seen=t.first_seen.astimezone(zone).date(), note=t.ack_note or "", context=tuple(context_of(day, periods)),
    )


def _event(config: Config, ev, networks, zone: ZoneInfo) -> DigestEvent:
    start, end = ev.start, ev.end
    if isinstance(start, datetime):
        start = start.astimezone(zone)
        end = end.astimezone(zone) if isinstance(end, datetime) else end
    return DigestEvent(ev.title, start, end, ev.all_day, _labels(config, networks), ev.location, ev.url, ev.status)
