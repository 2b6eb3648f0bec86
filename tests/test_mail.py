"""Mail delivery against a real SMTP server (aiosmtpd on 127.0.0.1, an ephemeral port):
plain, STARTTLS and implicit TLS with a test CA (trustme) and login; exactly once per
night and recipient on SQLite and PostgreSQL (the ``store`` fixture); the outbox."""

from __future__ import annotations

import base64
import dataclasses
import email
import email.policy
import logging
import socket
import threading
import time
from datetime import date, datetime, timedelta, timezone
from email.header import decode_header, make_header

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from aggregator import mail
from aggregator.config import ConfigError
from aggregator.mail import DeliveryError, SmtpSettings, build_message, deliver, send_once

NIGHT = date(2025, 3, 4)
NOW = datetime(2025, 3, 4, 5, 0, tzinfo=timezone.utc)
ANNA = "anna@example.org"
SUBJECT = "Netzwerktimer: 3 neue Terminüberschneidungen"
TEXT = "Guten Morgen,\n\n3 neue Terminüberschneidungen:\n- Netzwerktreffen Jena ↔ Gründerabend Erfurt\n"
HTML = "<p>Guten Morgen,</p><p>3 neue <b>Terminüberschneidungen</b></p>"
USER, PASSWORD = "digest-bot", "Geheimnis-Ä-42!"


# --- a real SMTP server ----------------------------------------------------


class _Controller(Controller):
    """Controller on an ephemeral port: learn the port before the start-up self-test connects."""

    def _trigger_server(self):
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class Recorder:
    """The server's handler: keeps every accepted message; ``refuse`` makes it answer that instead."""

    def __init__(self):
        self.messages: list[dict] = []
        self.refuse: str | None = None

    async def handle_DATA(self, server, session, envelope):
        if self.refuse:
            return self.refuse
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "message": email.message_from_bytes(envelope.content, policy=email.policy.default),
                "raw": envelope.content,
                "tls": session.ssl is not None,
                "authenticated": bool(session.authenticated),
            }
        )
        return "250 OK"


class Authenticator:
    def __init__(self, user: str, password: str):
        self.user, self.password = user, password
        self.mechanisms: list[str] = []

    def __call__(self, server, session, envelope, mechanism, auth_data):
        self.mechanisms.append(mechanism)
        ok = isinstance(auth_data, LoginPassword) and auth_data.login == self.user.encode() and auth_data.password == self.password.encode()
        return AuthResult(success=ok, handled=False)


@pytest.fixture(scope="module")
def ca():
    return trustme.CA()


@pytest.fixture
def ca_file(ca, tmp_path):
    path = tmp_path / "test-ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path


@pytest.fixture
def server_context(ca):
    import ssl

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(ctx)
    return ctx


@pytest.fixture
def smtp_server():
    """Start servers with the given aiosmtpd options; each is stopped after the test."""
    started = []

    def start(**options):
        handler = Recorder()
        controller = _Controller(handler, hostname="127.0.0.1", port=0, server_hostname="mail.test", **options)
        controller.start()
        started.append(controller)
        return controller, handler

    yield start
    for controller in started:
        controller.stop()


def settings(port: int, security: str = "none", **extra) -> SmtpSettings:
    env = {"NETZWERKTIMER_SMTP_HOST": "127.0.0.1", "NETZWERKTIMER_SMTP_PORT": str(port), "NETZWERKTIMER_SMTP_SECURITY": security}
    env.update(extra)
    smtp = SmtpSettings.from_env(env)
    assert smtp is not None
    return smtp


def login_env(ca_file) -> dict:
    return {"NETZWERKTIMER_SMTP_USER": USER, "NETZWERKTIMER_SMTP_PASSWORD": PASSWORD, "NETZWERKTIMER_SMTP_CA_FILE": str(ca_file)}


def digest(recipient: str = ANNA, night: date = NIGHT, subject: str = SUBJECT):
    return build_message(
        subject, TEXT, HTML, sender="Netzwerktimer <netzwerktimer@example.org>", recipients=[recipient], night=night,
        message_id_domain="netzwerktimer.example", when=NOW,
    )


def secrets_of(password: str, user: str = USER) -> list[str]:
    return [password, base64.b64encode(password.encode()).decode(), base64.b64encode(f"\0{user}\0{password}".encode()).decode()]


def content(part) -> str:
    """A part's decoded text with the wire's CRLF line ends as LF."""
    return part.get_content().replace("\r\n", "\n")


def assert_digest(received: dict, recipient: str = ANNA) -> None:
    msg = received["message"]
    assert received["rcpt_tos"] == [recipient]
    assert received["mail_from"] == "netzwerktimer@example.org"
    assert msg.get_content_type() == "multipart/alternative"
    parts = list(msg.iter_parts())
    assert [p.get_content_type() for p in parts] == ["text/plain", "text/html"]
    assert parts[0].get_content_charset() == "utf-8"
    assert content(parts[0]) == TEXT
    assert content(parts[1]).strip() == HTML
    assert msg["To"] == recipient
    assert msg["Subject"] == SUBJECT
    assert msg["Auto-Submitted"] == "auto-generated"
    assert email.utils.parsedate_to_datetime(msg["Date"]) == NOW
    assert msg["Message-ID"] == mail.message_id_for(NIGHT, [recipient], "netzwerktimer.example")
    raw_headers = received["raw"].split(b"\r\n\r\n", 1)[0]
    assert b"=?utf-8?" in raw_headers.lower(), "the umlaut subject must be RFC 2047-encoded"
    assert "Terminüberschneidungen".encode() not in raw_headers
    assert all(b < 128 for b in received["raw"]), "7-bit clean: smtplib does not announce 8BITMIME"


# --- settings ----------------------------------------------------------------


def test_no_host_means_the_outbox():
    assert SmtpSettings.from_env({}) is None
    assert SmtpSettings.from_env({"NETZWERKTIMER_MAIL_FROM": "digest@example.org"}) is None
    assert mail.mail_from_env({}) == "netzwerktimer@localhost"
    assert mail.mail_from_env({"NETZWERKTIMER_MAIL_FROM": "Netzwerktimer <digest@example.org>"}) == "Netzwerktimer <digest@example.org>"


@pytest.mark.parametrize("security,port", [(None, 587), ("starttls", 587), ("tls", 465), ("TLS", 465), ("none", 25)])
def test_default_port_follows_the_security(security, port):
    env = {"NETZWERKTIMER_SMTP_HOST": "mail.example.org"}
    if security:
        env["NETZWERKTIMER_SMTP_SECURITY"] = security
    smtp = SmtpSettings.from_env(env)
    assert (smtp.host, smtp.port, smtp.security, smtp.user, smtp.sender) == ("mail.example.org", port, security.lower() if security else "starttls", None, "netzwerktimer@localhost")


def test_explicit_settings():
    smtp = SmtpSettings.from_env(
        {"NETZWERKTIMER_SMTP_HOST": "mail.example.org", "NETZWERKTIMER_SMTP_PORT": "2525", "NETZWERKTIMER_SMTP_SECURITY": "tls",
         "NETZWERKTIMER_SMTP_USER": USER, "NETZWERKTIMER_SMTP_PASSWORD": PASSWORD, "NETZWERKTIMER_MAIL_FROM": "digest@example.org"}
    )
    assert (smtp.port, smtp.security, smtp.user, smtp.password, smtp.sender) == (2525, "tls", USER, PASSWORD, "digest@example.org")


@pytest.mark.parametrize(
    "extra,variable",
    [
        ({"NETZWERKTIMER_SMTP_SECURITY": "ssl"}, "NETZWERKTIMER_SMTP_SECURITY"),
        ({"NETZWERKTIMER_SMTP_PORT": "abc"}, "NETZWERKTIMER_SMTP_PORT"),
        ({"NETZWERKTIMER_SMTP_PORT": "70000"}, "NETZWERKTIMER_SMTP_PORT"),
        ({"NETZWERKTIMER_SMTP_PORT": "0"}, "NETZWERKTIMER_SMTP_PORT"),
        ({"NETZWERKTIMER_SMTP_USER": USER}, "NETZWERKTIMER_SMTP_PASSWORD"),
        ({"NETZWERKTIMER_SMTP_PASSWORD": PASSWORD}, "NETZWERKTIMER_SMTP_USER"),
        ({"NETZWERKTIMER_SMTP_SECURITY": "none", "NETZWERKTIMER_SMTP_USER": USER, "NETZWERKTIMER_SMTP_PASSWORD": PASSWORD}, "NETZWERKTIMER_SMTP_SECURITY"),
        ({"NETZWERKTIMER_MAIL_FROM": "not an address"}, "NETZWERKTIMER_MAIL_FROM"),
        ({"NETZWERKTIMER_MAIL_FROM": "a@example.org\r\nBcc: evil@example.org"}, "NETZWERKTIMER_MAIL_FROM"),
        ({"NETZWERKTIMER_SMTP_CA_FILE": "/nonexistent/ca.pem"}, "NETZWERKTIMER_SMTP_CA_FILE"),
    ],
)
def test_a_wrong_value_names_the_variable_and_never_the_password(extra, variable):
    env = {"NETZWERKTIMER_SMTP_HOST": "mail.example.org", "NETZWERKTIMER_SMTP_PASSWORD": PASSWORD, "NETZWERKTIMER_SMTP_USER": USER}
    env.update(extra)
    if "NETZWERKTIMER_SMTP_USER" in extra and "NETZWERKTIMER_SMTP_PASSWORD" not in extra:
        del env["NETZWERKTIMER_SMTP_PASSWORD"]
    if "NETZWERKTIMER_SMTP_PASSWORD" in extra and "NETZWERKTIMER_SMTP_USER" not in extra:
        del env["NETZWERKTIMER_SMTP_USER"]
    with pytest.raises(ConfigError) as info:
        SmtpSettings.from_env(env)
    assert variable in str(info.value)
    assert PASSWORD not in str(info.value) and PASSWORD not in repr(info.value)


def test_smtp_settings_without_a_host_are_refused():
    with pytest.raises(ConfigError, match="NETZWERKTIMER_SMTP_HOST"):
        SmtpSettings.from_env({"NETZWERKTIMER_SMTP_PORT": "587"})


def test_the_password_is_not_in_repr_or_str():
    smtp = SmtpSettings.from_env({"NETZWERKTIMER_SMTP_HOST": "mail.example.org", "NETZWERKTIMER_SMTP_USER": USER, "NETZWERKTIMER_SMTP_PASSWORD": PASSWORD})
    assert smtp.password == PASSWORD
    assert PASSWORD not in repr(smtp) and PASSWORD not in str(smtp) and PASSWORD not in f"{smtp!r} {smtp}"
    assert USER in repr(smtp)


# --- the message ---------------------------------------------------------------


def test_message_structure_and_headers():
    msg = digest()
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    raw = msg.as_bytes()
    headers = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in headers.lower()
    assert str(make_header(decode_header(msg["Subject"]))) == SUBJECT
    assert msg["Message-ID"].startswith("<digest-20250304-") and msg["Message-ID"].endswith("@netzwerktimer.example>")
    # deterministic per night and recipient, different otherwise
    assert digest()["Message-ID"] == msg["Message-ID"] == digest(recipient="Anna@Example.org")["Message-ID"]
    assert digest(recipient="ben@example.org")["Message-ID"] != msg["Message-ID"]
    assert digest(night=date(2025, 3, 5))["Message-ID"] != msg["Message-ID"]
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Subject"] == SUBJECT and content(parsed.get_body(("plain",))) == TEXT


@pytest.mark.parametrize(
    "subject", ["Netzwerktimer\r\nBcc: victim@example.org", "Netzwerktimer\nBcc: victim@example.org", "Netzwerktimer\rX: y", "a\u2028b", "a\x00b"]
)
def test_header_injection_in_the_subject_is_refused(subject):
    with pytest.raises(ValueError, match="line break"):
        digest(subject=subject)


@pytest.mark.parametrize("recipient", ["anna@example.org\r\nBcc: victim@example.org", "anna@example.org, ben@example.org", "nobody"])
def test_a_bad_recipient_is_refused(recipient):
    with pytest.raises(ValueError):
        digest(recipient=recipient)


# --- delivery over SMTP -------------------------------------------------------------


def test_plain_smtp_delivers_both_parts_with_the_right_headers(smtp_server):
    controller, server = smtp_server()
    where = deliver(digest(), settings(controller.port), outbox=None)
    assert where == f"smtp 127.0.0.1:{controller.port}"
    assert len(server.messages) == 1
    assert_digest(server.messages[0])
    assert not server.messages[0]["tls"]


@pytest.mark.parametrize("password", [PASSWORD, "ascii-only-secret"], ids=["utf8-password", "ascii-password"])
@pytest.mark.parametrize("mechanism", ["PLAIN", "LOGIN"])
def test_starttls_with_login(smtp_server, server_context, ca_file, mechanism, password):
    auth = Authenticator(USER, password)
    other = {"PLAIN": "LOGIN", "LOGIN": "PLAIN"}[mechanism]
    controller, server = smtp_server(
        tls_context=server_context, require_starttls=True, authenticator=auth, auth_required=True, auth_require_tls=True, auth_exclude_mechanism=[other]
    )
    smtp = settings(controller.port, "starttls", **{**login_env(ca_file), "NETZWERKTIMER_SMTP_PASSWORD": password})
    assert deliver(digest(), smtp, outbox=None) == f"smtp 127.0.0.1:{controller.port}"
    assert auth.mechanisms == [mechanism]
    assert len(server.messages) == 1
    assert server.messages[0]["tls"] and server.messages[0]["authenticated"]
    assert_digest(server.messages[0])


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_implicit_tls_with_login(smtp_server, server_context, ca_file):
    auth = Authenticator(USER, PASSWORD)
    # aiosmtpd cannot tell that an implicit-TLS connection is encrypted, hence auth_require_tls=False
    controller, server = smtp_server(ssl_context=server_context, authenticator=auth, auth_required=True, auth_require_tls=False)
    smtp = settings(controller.port, "tls", **login_env(ca_file))
    assert deliver(digest(), smtp, outbox=None) == f"smtp 127.0.0.1:{controller.port}"
    assert auth.mechanisms and len(server.messages) == 1
    assert server.messages[0]["authenticated"]
    assert_digest(server.messages[0])


def test_a_certificate_from_an_unknown_ca_is_refused(smtp_server, server_context):
    controller, server = smtp_server(tls_context=server_context, require_starttls=True)
    with pytest.raises(DeliveryError, match="TLS .*failed.*CERTIFICATE_VERIFY_FAILED|certificate verify failed"):
        deliver(digest(), settings(controller.port, "starttls"), outbox=None)
    assert server.messages == []


def test_starttls_required_but_not_offered(smtp_server):
    controller, server = smtp_server()
    with pytest.raises(DeliveryError, match="does not offer STARTTLS"):
        deliver(digest(), settings(controller.port, "starttls"), outbox=None)
    assert server.messages == []


def test_an_unreachable_server_is_a_delivery_error():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(DeliveryError, match=f"cannot connect to 127.0.0.1:{port}"):
        deliver(digest(), settings(port), outbox=None)


def test_a_silent_server_times_out():
    with socket.socket() as sock:  # accepts connections (backlog) but never greets
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        smtp = dataclasses.replace(settings(sock.getsockname()[1]), timeout=0.5)
        started = time.monotonic()
        with pytest.raises(DeliveryError, match="timed out"):
            deliver(digest(), smtp, outbox=None)
        assert time.monotonic() - started < 5


def test_a_wrong_password_fails_without_showing_it(smtp_server, server_context, ca_file, caplog):
    caplog.set_level(logging.DEBUG)
    auth = Authenticator(USER, "the-right-one")
    controller, server = smtp_server(tls_context=server_context, require_starttls=True, authenticator=auth, auth_required=True)
    smtp = settings(controller.port, "starttls", **login_env(ca_file))
    with pytest.raises(DeliveryError) as info:
        deliver(digest(), smtp, outbox=None)
    text = f"{info.value} {info.value!r} {info.value.__cause__!r} {info.value.__context__!r}"
    assert "login" in str(info.value) and "535" in str(info.value)
    for secret in secrets_of(PASSWORD):
        assert secret not in text
        assert secret not in caplog.text
    assert server.messages == []


# --- exactly once per night and recipient -----------------------------------------------


def test_a_second_run_the_same_night_sends_nothing(store, smtp_server, tmp_path):
    controller, server = smtp_server()
    smtp = settings(controller.port)
    first = send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path / "outbox", NOW)
    assert first == mail.SendResult("sent", where=f"smtp 127.0.0.1:{controller.port}")
    second = send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path / "outbox", NOW + timedelta(hours=1))
    assert second.status == "already_sent" and second.where == first.where
    assert len(server.messages) == 1
    assert_digest(server.messages[0])
    [row] = store.digest_sends(NIGHT)
    assert (row.recipient, row.status, row.attempts, row.delivered_to, row.last_error) == (ANNA, "sent", 1, first.where, None)
    assert row.message_id == digest()["Message-ID"] and row.sent_at == NOW
    assert store.last_digest_sent(ANNA) == NOW and store.last_digest_sent("ben@example.org") is None
    # the next night is a new digest
    nxt = send_once(store, NIGHT + timedelta(days=1), ANNA, digest(night=NIGHT + timedelta(days=1)), smtp, tmp_path / "outbox", NOW + timedelta(days=1))
    assert nxt.status == "sent" and len(server.messages) == 2


def test_a_refusing_server_leaves_it_unsent_and_the_next_run_retries(store, smtp_server, tmp_path):
    controller, server = smtp_server()
    smtp = settings(controller.port)
    server.refuse = "550 5.7.1 Mailbox unavailable"
    failed = send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW)
    assert failed.status == "failed" and "550" in failed.error and "Mailbox unavailable" in failed.error
    [row] = store.digest_sends(NIGHT)
    assert (row.status, row.attempts, row.sent_at) == ("failed", 1, None) and "550" in row.last_error
    again = send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW + timedelta(minutes=30))
    assert again.status == "failed"
    assert store.digest_sends(NIGHT)[0].attempts == 2
    server.refuse = None  # the server is fixed
    fixed = send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW + timedelta(hours=1))
    assert fixed.status == "sent"
    [row] = store.digest_sends(NIGHT)
    assert (row.status, row.attempts, row.last_error, row.sent_at) == ("sent", 3, None, NOW + timedelta(hours=1))
    assert len(server.messages) == 1
    assert send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW + timedelta(hours=2)).status == "already_sent"
    assert len(server.messages) == 1


def test_a_wrong_password_is_retried_once_it_is_fixed(store, smtp_server, server_context, ca_file, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    auth = Authenticator(USER, PASSWORD)
    controller, server = smtp_server(tls_context=server_context, require_starttls=True, authenticator=auth, auth_required=True)
    wrong = "falsches-Passwort-7"
    bad = settings(controller.port, "starttls", **{**login_env(ca_file), "NETZWERKTIMER_SMTP_PASSWORD": wrong})
    result = send_once(store, NIGHT, ANNA, digest(), bad, tmp_path, NOW)
    assert result.status == "failed" and "535" in result.error
    [row] = store.digest_sends(NIGHT)
    assert row.status == "failed"
    for secret in secrets_of(wrong):
        assert secret not in result.error and secret not in row.last_error and secret not in caplog.text
    good = settings(controller.port, "starttls", **login_env(ca_file))
    assert send_once(store, NIGHT, ANNA, digest(), good, tmp_path, NOW + timedelta(hours=1)).status == "sent"
    assert len(server.messages) == 1 and store.digest_sends(NIGHT)[0].status == "sent"
    for secret in secrets_of(PASSWORD):
        assert secret not in caplog.text


def test_a_crash_between_acceptance_and_marking_resends_with_the_same_message_id_and_says_so(store, smtp_server, tmp_path, monkeypatch):
    """At-least-once in the one window left: the server accepted the message, the process died
    before the row was marked sent. The claim of a live run is respected; a stale one (or one of a
    dead run, tests/test_mail_crash.py) is taken over, the digest goes out again with the same
    Message-ID, and the row and the result say that the recipient may have two copies."""
    controller, server = smtp_server()
    smtp = settings(controller.port)
    real = store.mark_digest_sent

    def die(*args, **kwargs):
        raise KeyboardInterrupt("the process dies before it marks the row")

    monkeypatch.setattr(store, "mark_digest_sent", die)
    with pytest.raises(KeyboardInterrupt):
        send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW)
    monkeypatch.setattr(store, "mark_digest_sent", real)
    assert len(server.messages) == 1
    [row] = store.digest_sends(NIGHT)
    assert row.status == "delivering" and row.sent_at is None
    # another run a few minutes later: this process (the claimer) still lives, so it may still be sending
    assert send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW + timedelta(minutes=5)).status == "in_progress"
    assert len(server.messages) == 1
    # once the claim is stale, the next run sends again: a second copy, the same Message-ID
    result = send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW + timedelta(minutes=20))
    assert result.status == "sent" and result.note == mail.POSSIBLE_DUPLICATE
    assert len(server.messages) == 2
    assert server.messages[0]["message"]["Message-ID"] == server.messages[1]["message"]["Message-ID"]
    [row] = store.digest_sends(NIGHT)
    assert row.status == "sent" and row.possible_duplicate
    assert send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW + timedelta(hours=1)).status == "already_sent"
    assert len(server.messages) == 2


def test_force_sends_again(store, smtp_server, tmp_path):
    controller, server = smtp_server()
    smtp = settings(controller.port)
    assert send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW).status == "sent"
    assert send_once(store, NIGHT, ANNA, digest(), smtp, tmp_path, NOW + timedelta(minutes=1), force=True).status == "sent"
    assert len(server.messages) == 2
    assert store.digest_sends(NIGHT)[0].attempts == 2


def test_concurrent_claims_let_exactly_one_caller_send(store):
    barrier = threading.Barrier(8)
    results: list[bool] = []
    errors: list[BaseException] = []

    def claim():
        try:
            barrier.wait()
            results.append(store.claim_digest(NIGHT, ANNA, NOW))
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=claim) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [False] * 7 + [True]
    assert len(store.digest_sends(NIGHT)) == 1


def test_claims_are_per_recipient_and_night(store):
    assert store.claim_digest(NIGHT, ANNA, NOW)
    assert store.claim_digest(NIGHT, "ben@example.org", NOW)
    assert store.claim_digest(NIGHT + timedelta(days=1), ANNA, NOW)
    assert not store.claim_digest(NIGHT, ANNA, NOW)
    store.mark_digest_failed(NIGHT, ANNA, "550 no", NOW)
    assert store.claim_digest(NIGHT, ANNA, NOW + timedelta(minutes=1))
    store.mark_digest_sent(NIGHT, ANNA, "<id@x>", "smtp h:25", NOW + timedelta(minutes=1))
    store.mark_digest_failed(NIGHT, ANNA, "late failure of a slower run", NOW + timedelta(minutes=2))
    row = next(r for r in store.digest_sends(NIGHT) if r.recipient == ANNA)
    assert row.status == "sent", "a failure reported late never undoes a sent row"
    assert [r.recipient for r in store.digest_sends(NIGHT)] == [ANNA, "ben@example.org"]


# --- the outbox -------------------------------------------------------------------------


def test_without_smtp_the_message_goes_to_the_outbox(store, tmp_path):
    outbox = mail.outbox_dir(tmp_path / "data")
    result = send_once(store, NIGHT, ANNA, digest(), None, outbox, NOW)
    assert result.status == "sent"
    path = outbox / "2025-03-04-anna@example.org.eml"
    assert result.where == str(path)
    assert sorted(p.name for p in outbox.iterdir()) == [path.name], "no temporary files are left"
    parsed = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert parsed.get_content_type() == "multipart/alternative"
    assert content(parsed.get_body(("plain",))) == TEXT
    assert content(parsed.get_body(("html",))).strip() == HTML
    assert parsed["Subject"] == SUBJECT and parsed["To"] == ANNA
    assert send_once(store, NIGHT, ANNA, digest(), None, outbox, NOW + timedelta(hours=1)).status == "already_sent"
    [row] = store.digest_sends(NIGHT)
    assert row.status == "sent" and row.delivered_to == str(path)


def test_an_unwritable_outbox_is_a_delivery_error(store, tmp_path):
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    result = send_once(store, NIGHT, ANNA, digest(), None, blocked / "outbox", NOW)
    assert result.status == "failed" and "outbox" in result.error
    assert store.digest_sends(NIGHT)[0].status == "failed"


def test_send_once_refuses_a_message_for_someone_else(store, tmp_path):
    with pytest.raises(ValueError, match="not addressed"):
        send_once(store, NIGHT, "ben@example.org", digest(), None, tmp_path, NOW)
    assert store.digest_sends(NIGHT) == []
