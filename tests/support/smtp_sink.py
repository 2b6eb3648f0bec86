"""An SMTP server on 127.0.0.1 (aiosmtpd) that counts what it accepts, per Message-ID and recipient.

A message counts as delivered once its data is complete (``handle_DATA``), before
the server answers 250: a client killed while waiting for that answer may
already have delivered it, as with a real mail server. ``rcpt_delay`` slows every
RCPT (outside that window), so a digest run spends its time sending;
``data_delay`` holds the 250 back after counting, widening that window on purpose.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import random
import threading
from collections import Counter

from aiosmtpd.controller import Controller


class _Handler:
    def __init__(self, rcpt_delay: tuple[float, float], data_delay: float):
        self.rcpt_delay, self.data_delay = rcpt_delay, data_delay
        self.lock = threading.Lock()
        self.received: Counter = Counter()  # (Message-ID, recipient) → copies

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        await asyncio.sleep(random.uniform(*self.rcpt_delay))
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received[(str(msg.get("Message-ID")).strip(), rcpt.lower())] += 1  # a folded header keeps a blank
        await asyncio.sleep(self.data_delay)  # delivered, but the client does not know yet
        return "250 OK"


class _Controller(Controller):
    def _trigger_server(self):  # learn the ephemeral port before the self-test connects
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpSink:
    """``start()``, ``env`` (the SMTP variables of the README that point at it), ``copies()``, ``stop()``."""

    def __init__(self, rcpt_delay: tuple[float, float] = (0.0, 0.0), data_delay: float = 0.0):
        self.handler = _Handler(rcpt_delay, data_delay)
        self.controller = _Controller(self.handler, hostname="127.0.0.1", port=0)

    def start(self) -> SmtpSink:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def env(self) -> dict[str, str]:
        return {"NETZWERKTIMER_SMTP_HOST": "127.0.0.1", "NETZWERKTIMER_SMTP_PORT": str(self.controller.port),
                "NETZWERKTIMER_SMTP_SECURITY": "none"}

    def copies(self) -> Counter:
        """(Message-ID, recipient) → how many copies were delivered."""
        with self.handler.lock:
            return Counter(self.handler.received)
