"""Mail delivery of the nightly digest: SMTP (STARTTLS, implicit TLS or plain) or an outbox folder.

Settings come from the environment (``SmtpSettings.from_env``); without
``NETZWERKTIMER_SMTP_HOST`` every message is written as an ``.eml`` file to the
outbox folder (``<data dir>/outbox``) instead.

Exactly once per night and recipient: ``send_once`` claims a row in the
``digest_sends`` table (unique on night + recipient) before it delivers and
marks it sent afterwards, so a second run the same night, a restart or a
second replica sends nothing again, and a failed send stays unsent and is
retried by the next run. A run that dies at any point is taken over by the
next (``aggregator.claims``); what can and cannot be known when it died while
handing the message over is described in ``send_once``.

The SMTP password never appears in a log line, a repr or an error message.
"""

from __future__ import annotations

import base64
import email.policy
import email.utils
import hashlib
import logging
import os
import re
import smtplib
import socket
import ssl
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.message import EmailMessage
from pathlib import Path
from typing import Literal

from aggregator.config import ConfigError
from exporters.files import remove_stale_temps

log = logging.getLogger(__name__)

ENV_SMTP_HOST = "NETZWERKTIMER_SMTP_HOST"
ENV_SMTP_PORT = "NETZWERKTIMER_SMTP_PORT"
ENV_SMTP_SECURITY = "NETZWERKTIMER_SMTP_SECURITY"
ENV_SMTP_USER = "NETZWERKTIMER_SMTP_USER"
ENV_SMTP_PASSWORD = "NETZWERKTIMER_SMTP_PASSWORD"
ENV_SMTP_CA_FILE = "NETZWERKTIMER_SMTP_CA_FILE"
ENV_MAIL_FROM = "NETZWERKTIMER_MAIL_FROM"

DEFAULT_MAIL_FROM = "netzwerktimer@localhost"
DEFAULT_PORTS = {"starttls": 587, "tls": 465, "none": 25}
SECURITIES = ("none", "starttls", "tls")
OUTBOX_DIRNAME = "outbox"

Security = Literal["none", "starttls", "tls"]

# Anything the email package or a mail client might read as the end of a header line.
_LINE_BREAK = re.compile(r"[\r\n\x00\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_DIGEST_ID = re.compile(r"<digest-(\d{8})-[0-9a-f]{40}@")


class DeliveryError(Exception):
    """A message could not be delivered; ``str()`` says why (never with the password)."""


# --- settings ------------------------------------------------------------


@dataclass(frozen=True)
class SmtpSettings:
    """How to reach the mail server. ``repr()`` and ``str()`` leave the password out."""

    host: str
    port: int
    security: Security = "starttls"
    user: str | None = None
    password: str | None = field(default=None, repr=False)
    sender: str = DEFAULT_MAIL_FROM  # NETZWERKTIMER_MAIL_FROM
    ca_file: Path | None = None
    timeout: float = 30.0

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> SmtpSettings | None:
        """The settings from the environment (the SMTP variables in the README); None without a host (then the outbox is used).

        Raises ConfigError naming the variable for a value that cannot be used.
        The password's value is never part of an error.
        """
        env = os.environ if env is None else env
        problems: list[tuple[str, str]] = []

        def get(name: str) -> str:
            return (env.get(name) or "").strip()

        host = get(ENV_SMTP_HOST)
        mail_from = _checked_mail_from(env, problems)
        if not host:
            stray = [n for n in (ENV_SMTP_PORT, ENV_SMTP_SECURITY, ENV_SMTP_USER, ENV_SMTP_PASSWORD, ENV_SMTP_CA_FILE) if get(n)]
            if stray:
                problems.append((ENV_SMTP_HOST, f"not set, but {', '.join(stray)} is; set the host (or unset them to use the outbox)"))
            if problems:
                raise ConfigError("environment", problems)
            return None
        if _LINE_BREAK.search(host) or any(c.isspace() for c in host):
            problems.append((ENV_SMTP_HOST, f"not a host name: {host!r}"))

        security = get(ENV_SMTP_SECURITY).lower() or "starttls"
        if security not in SECURITIES:
            problems.append((ENV_SMTP_SECURITY, f"expected none, starttls or tls, got {get(ENV_SMTP_SECURITY)!r}"))
            security = "starttls"

        port_text = get(ENV_SMTP_PORT)
        port = DEFAULT_PORTS[security]
        if port_text:
            if port_text.isdigit() and 1 <= int(port_text) <= 65535:
                port = int(port_text)
            else:
                problems.append((ENV_SMTP_PORT, f"expected a port number from 1 to 65535, got {port_text!r}"))

        user = get(ENV_SMTP_USER) or None
        password = env.get(ENV_SMTP_PASSWORD) or None  # not stripped: a password may end in a space
        if password is not None and user is None:
            problems.append((ENV_SMTP_USER, f"not set, but {ENV_SMTP_PASSWORD} is"))
        if user is not None and password is None:
            problems.append((ENV_SMTP_PASSWORD, f"not set, but {ENV_SMTP_USER} is"))
        if user is not None and security == "none":
            problems.append((ENV_SMTP_SECURITY, "is none, which would send the password unencrypted; use starttls or tls"))

        ca_file = None
        if get(ENV_SMTP_CA_FILE):
            ca_file = Path(get(ENV_SMTP_CA_FILE))
            if not ca_file.is_file():
                problems.append((ENV_SMTP_CA_FILE, f"no such file: {str(ca_file)!r}"))

        if problems:
            raise ConfigError("environment", problems)
        return cls(host=host, port=port, security=security, user=user, password=password, sender=mail_from, ca_file=ca_file)


def mail_from_env(env: Mapping[str, str] | None = None) -> str:
    """``NETZWERKTIMER_MAIL_FROM`` (default ``netzwerktimer@localhost``), also used for the outbox."""
    problems: list[tuple[str, str]] = []
    value = _checked_mail_from(os.environ if env is None else env, problems)
    if problems:
        raise ConfigError("environment", problems)
    return value


def outbox_dir(data_dir: str | Path) -> Path:
    """Where messages go without SMTP settings: ``<data dir>/outbox``."""
    return Path(data_dir) / OUTBOX_DIRNAME


def _checked_mail_from(env: Mapping[str, str], problems: list[tuple[str, str]]) -> str:
    value = (env.get(ENV_MAIL_FROM) or "").strip() or DEFAULT_MAIL_FROM
    try:
        _check_address(value, "sender")
    except ValueError as exc:
        problems.append((ENV_MAIL_FROM, str(exc)))
    return value


def _check_address(value: str, what: str) -> str:
    """One mail address (``a@b`` or ``Name <a@b>``) without line breaks; returns the addr-spec."""
    if _LINE_BREAK.search(value):
        raise ValueError(f"{what} contains a line break: {value!r}")
    pairs = email.utils.getaddresses([value])
    if len(pairs) != 1 or "@" not in pairs[0][1] or any(c.isspace() for c in pairs[0][1]):
        raise ValueError(f"{what} is not one mail address: {value!r}")
    return pairs[0][1]


# --- the message ---------------------------------------------------------


def message_id_for(night: date, recipients: list[str], domain: str) -> str:
    """The Message-ID of one night's digest to these recipients: the same on every retry,
    so a copy that reached the server before a crash is recognisable (and deduplicated by
    mail systems that do so by Message-ID)."""
    key = ",".join(sorted(_check_address(r, "recipient").lower() for r in recipients))
    return f"<digest-{night:%Y%m%d}-{hashlib.sha1(key.encode('utf-8')).hexdigest()}@{domain}>"


def build_message(
    subject: str,
    text: str,
    html: str,
    *,
    sender: str,
    recipients: list[str],
    night: date,
    message_id_domain: str,
    when: datetime | None = None,
) -> EmailMessage:
    """A multipart/alternative message: text/plain (UTF-8) first, then text/html.

    Headers: Date (``when``, default now), a Message-ID deterministic per night and
    recipients, From, To, Subject (non-ASCII is RFC 2047-encoded on serialisation)
    and ``Auto-Submitted: auto-generated``. A subject, sender or recipient with a
    line break raises ValueError: no header injection.
    """
    if _LINE_BREAK.search(subject):
        raise ValueError("the subject contains a line break (refused: it could inject headers)")
    if not recipients:
        raise ValueError("no recipients")
    if not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?", message_id_domain):
        raise ValueError(f"not a domain for a Message-ID: {message_id_domain!r}")
    _check_address(sender, "sender")
    for r in recipients:
        _check_address(r, "recipient")

    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Date"] = email.utils.format_datetime((when or datetime.now(timezone.utc)).astimezone(timezone.utc))
    msg["Message-ID"] = message_id_for(night, recipients, message_id_domain)
    msg["From"] = sender
    msg["To"] = ", ".join(recipients)
    msg["Subject"] = subject
    msg["Auto-Submitted"] = "auto-generated"
    msg["MIME-Version"] = "1.0"
    # quoted-printable keeps the body 7-bit clean: smtplib does not announce 8BITMIME.
    msg.set_content(text, subtype="plain", charset="utf-8", cte="quoted-printable")
    msg.add_alternative(html, subtype="html", charset="utf-8", cte="quoted-printable")
    return msg


# --- delivery ------------------------------------------------------------


def deliver(message: EmailMessage, smtp: SmtpSettings | None, outbox: Path, on_accepted: Callable[[str], None] | None = None) -> str:
    """Hand the message to the SMTP server, or without settings write it to ``outbox``.

    Returns ``"smtp host:port"`` or the path of the ``.eml`` file. Raises DeliveryError
    with the reason (never the password). Once the server has accepted the message,
    a failure while saying goodbye does not count. ``on_accepted(where)`` is called the
    moment the message is accepted (the server's answer to DATA, the file's rename),
    before saying goodbye, so that recording it leaves the shortest window for a crash.
    """
    if smtp is None:
        where = str(_write_outbox(message, Path(outbox)))
        if on_accepted is not None:
            on_accepted(where)
        return where
    try:
        _send_smtp(message, smtp, on_accepted)
    except DeliveryError as exc:
        reason = _redact(str(exc), smtp)
        log.warning("delivery of %s failed: %s", message.get("Message-ID", "?"), reason)
        raise DeliveryError(reason) from None
    where = f"smtp {smtp.where}"
    log.info("delivered %s to %s via %s", message.get("Message-ID", "?"), message.get("To", "?"), where)
    return where


def _send_smtp(message: EmailMessage, smtp: SmtpSettings, on_accepted: Callable[[str], None] | None = None) -> None:
    where = smtp.where
    context = ssl.create_default_context(cafile=str(smtp.ca_file) if smtp.ca_file else None)
    try:
        if smtp.security == "tls":
            conn = smtplib.SMTP_SSL(smtp.host, smtp.port, timeout=smtp.timeout, context=context)
        else:
            conn = smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout)
    except ssl.SSLError as exc:
        raise DeliveryError(f"TLS with {where} failed: {_describe(exc)}") from None
    except (OSError, smtplib.SMTPException) as exc:
        raise DeliveryError(f"cannot connect to {where}: {_describe(exc)}") from None
    accepted = False
    try:
        conn.ehlo()
        if smtp.security == "starttls":
            if not conn.has_extn("starttls"):
                raise DeliveryError(f"{where} does not offer STARTTLS (set {ENV_SMTP_SECURITY}=tls or none)")
            try:
                conn.starttls(context=context)
            except ssl.SSLError as exc:
                raise DeliveryError(f"TLS with {where} failed: {_describe(exc)}") from None
            conn.ehlo()
        if smtp.user is not None:
            try:
                _login(conn, smtp.user, smtp.password or "")
            except smtplib.SMTPNotSupportedError:
                raise DeliveryError(f"{where} offers no login (AUTH) on this connection") from None
            except smtplib.SMTPException as exc:
                raise DeliveryError(f"login as {smtp.user!r} at {where} failed: {_describe(exc)}") from None
        try:
            refused = conn.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            raise DeliveryError(f"{where} refused every recipient: {_refusals(exc.recipients)}") from None
        except smtplib.SMTPException as exc:
            raise DeliveryError(f"{where} refused the message: {_describe(exc)}") from None
        accepted = True
        if refused:
            # The others have it; one digest per recipient makes this rare. It counts as
            # failed so the refused ones are retried (the others then get it again).
            raise DeliveryError(f"{where} refused some recipients: {_refusals(refused)}")
        if on_accepted is not None:
            on_accepted(f"smtp {where}")
    except DeliveryError:
        raise
    except (OSError, smtplib.SMTPException) as exc:
        if not accepted:
            raise DeliveryError(f"talking to {where} failed: {_describe(exc)}") from None
    finally:
        try:
            conn.quit()
        except (OSError, smtplib.SMTPException):
            pass
        conn.close()


def _login(conn: smtplib.SMTP, user: str, password: str) -> None:
    """smtplib's login, which only takes ASCII; for other credentials AUTH PLAIN or LOGIN
    with UTF-8 (RFC 4616), so a password with umlauts works too."""
    if user.isascii() and password.isascii():
        conn.login(user, password)
        return
    conn.ehlo_or_helo_if_needed()
    if not conn.has_extn("auth"):
        raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
    offered = conn.esmtp_features["auth"].upper().split()

    def b64(text: str) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")

    if "PLAIN" in offered:
        code, resp = conn.docmd("AUTH", "PLAIN " + b64(f"\0{user}\0{password}"))
    elif "LOGIN" in offered:
        code, resp = conn.docmd("AUTH", "LOGIN " + b64(user))
        if code == 334:
            code, resp = conn.docmd(b64(password))
    else:
        raise smtplib.SMTPException(f"no login mechanism for non-ASCII credentials among {' '.join(offered)} (only PLAIN and LOGIN)")
    if code not in (235, 503):
        raise smtplib.SMTPAuthenticationError(code, resp)


def _write_outbox(message: EmailMessage, outbox: Path) -> Path:
    """Write the message atomically (temporary file, then os.replace) as ``<night>-<recipient>.eml``."""
    name = _outbox_name(message)
    try:
        outbox.mkdir(parents=True, exist_ok=True)
        remove_stale_temps(outbox, ".")  # left by a run killed while writing
        fd, tmp = tempfile.mkstemp(prefix=".", suffix=".tmp", dir=outbox)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(message.as_bytes(policy=email.policy.SMTP))
                fh.flush()
                os.fsync(fh.fileno())
            target = outbox / name
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise DeliveryError(f"cannot write to the outbox {str(outbox)!r}: {_describe(exc)}") from None
    log.info("wrote %s to the outbox: %s", message.get("Message-ID", "?"), target)
    return target


def in_outbox(message: EmailMessage, outbox: Path) -> Path | None:
    """The outbox file that already holds this very message (same file name and Message-ID), or None."""
    path = Path(outbox) / _outbox_name(message)
    try:
        with path.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return None
    parsed = email.message_from_bytes(head.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n", policy=email.policy.default)
    # The header may be folded onto its own line; the parser keeps the fold's blank.
    return path if str(parsed.get("Message-ID", "")).strip() == str(message.get("Message-ID", "")).strip() else None


def _outbox_name(message: EmailMessage) -> str:
    return f"{_night_of(message)}-{_safe(message.get('To', 'unknown'))}.eml"


def _night_of(message: EmailMessage) -> str:
    m = _DIGEST_ID.search(message.get("Message-ID", ""))
    if m:
        d = m.group(1)
        return f"{d[:4]}-{d[4:6]}-{d[6:]}"
    try:
        return email.utils.parsedate_to_datetime(message["Date"]).date().isoformat()
    except (TypeError, ValueError):
        return datetime.now(timezone.utc).date().isoformat()


def _safe(to_header: str) -> str:
    addrs = [a.lower() for _, a in email.utils.getaddresses([to_header]) if a] or ["unknown"]
    safe = re.sub(r"[^a-z0-9@._+-]", "_", "+".join(addrs))
    if len(safe) > 120:
        safe = safe[:100] + "-" + hashlib.sha1(safe.encode()).hexdigest()[:12]
    return safe


def _describe(exc: BaseException) -> str:
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode("utf-8", "replace") if isinstance(exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}".strip()
    if isinstance(exc, socket.timeout | TimeoutError):
        return "timed out"
    return f"{type(exc).__name__}: {exc}"


def _refusals(recipients: dict) -> str:
    parts = []
    for addr, (code, text) in recipients.items():
        text = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        parts.append(f"{addr}: {code} {text}")
    return "; ".join(parts)


def _redact(text: str, smtp: SmtpSettings) -> str:
    """Remove the password, and the base64 forms in which AUTH sends it, from a text."""
    if not smtp.password:
        return text
    user, pw = (smtp.user or "").encode(), smtp.password.encode()
    secrets = {smtp.password, base64.b64encode(pw).decode(), base64.b64encode(b"\0" + user + b"\0" + pw).decode()}
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


# --- exactly once --------------------------------------------------------


@dataclass(frozen=True)
class SendResult:
    """What ``send_once`` did: ``sent`` now, ``already_sent`` before (nothing done),
    ``in_progress`` (another live run holds the claim; nothing done) or ``failed`` (see error).
    ``note`` says what a person should know about a send (e.g. a possible duplicate)."""

    status: Literal["sent", "already_sent", "in_progress", "failed"]
    where: str | None = None
    error: str | None = None
    note: str | None = None


POSSIBLE_DUPLICATE = ("sent again after the run that was handing it to the SMTP server died: "
                      "the recipient may have two copies, with the same Message-ID")


def send_once(
    store, night: date, recipient: str, message: EmailMessage, smtp: SmtpSettings | None, outbox: Path, now: datetime, *, force: bool = False
) -> SendResult:
    """Deliver one night's digest to one recipient unless that has been done already.

    1. Claim the (night, recipient) row (``Store.claim_digest_send``): inserted as pending,
       or a failed one taken over, or the claim of a run that died (at once when that run
       was on this host, ``aggregator.claims``; else once the claim is 15 minutes old). The
       unique constraint decides between concurrent runs and replicas; a row already sent,
       or the claim of a live run, is left alone and nothing is sent.
    2. Mark it delivering, then deliver. The moment the server (or the outbox) has accepted
       the message, mark it sent, before saying goodbye to the server. On DeliveryError the
       row is marked failed (attempts + 1, the reason kept) and the next run retries it.

    A crash at any point loses nothing: the next run sends what is not marked sent. Only a
    crash in the window between the server accepting the message and the row being marked
    (one round trip and one commit) can send a second copy, and only by SMTP: when the dead
    run's row says delivering, the outbox is looked at (the file with this Message-ID means
    it arrived: it is marked sent, not written again); SMTP cannot be asked, so the digest is
    sent again with the same Message-ID (mail systems that deduplicate by Message-ID show it
    once), the row is flagged ``possible_duplicate`` and the result carries a ``note``.

    ``force`` sends again even when the row is already sent (an operator's
    ``digest --force``); the claim of a live run is still respected.
    """
    from aggregator.claims import owner_is_gone, run_owner

    wanted = _check_address(recipient, "recipient").lower()
    to = {a.lower() for _, a in email.utils.getaddresses([message.get("To", "")])}
    if wanted not in to:
        raise ValueError(f"the message is not addressed to {recipient!r}")
    claim = store.claim_digest_send(night, recipient, now, force=force, owner=run_owner(), owner_is_gone=owner_is_gone)
    if claim is None:
        previous = next((r for r in store.digest_sends(night) if r.recipient == recipient), None)
        if previous is not None and previous.status == "sent":
            return SendResult("already_sent", where=previous.delivered_to)
        return SendResult("in_progress")
    message_id = message.get("Message-ID")
    note = None
    if claim.taken_from == "delivering":
        if smtp is None and (found := in_outbox(message, outbox)) is not None:
            store.mark_digest_sent(night, recipient, message_id, str(found), now)
            log.info("%s for %s was in the outbox already when its run died; not written again", message_id, recipient)
            return SendResult("sent", where=str(found), note="written to the outbox before its run died; not written again")
        if smtp is not None:
            note = POSSIBLE_DUPLICATE
            log.warning("%s for %s: %s", message_id, recipient, note)
    store.mark_digest_delivering(night, recipient, now)

    def accepted(where: str) -> None:
        store.mark_digest_sent(night, recipient, message_id, where, now, possible_duplicate=note is not None)

    try:
        where = deliver(message, smtp, outbox, on_accepted=accepted)
    except DeliveryError as exc:
        store.mark_digest_failed(night, recipient, str(exc), now)
        return SendResult("failed", error=str(exc))
    return SendResult("sent", where=where, note=note)
