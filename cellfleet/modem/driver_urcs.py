"""Where the driver's URCs go: subscribers called on their own thread, and a numbered history
that waits (``wait``) can search.

A modem sends URCs at any moment, also in the middle of a command's response (reference §8.2);
:class:`~cellfleet.modem.driver.ModemDriver`'s reader thread hands every one to
:meth:`UrcHub.publish`. Subscriber callbacks run on the hub's dispatcher thread, never on the
reader thread, so a callback may itself send commands through the driver without deadlocking it.
Every URC gets a sequence number (1, 2, …); a wait can start from an earlier mark, so a URC that
a command triggers is not missed when the caller starts waiting only after the command returned.
"""

from __future__ import annotations

import collections
import logging
import queue
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from cellfleet.modem.command_line import Command
from cellfleet.modem.errors import AtTimeout

log = logging.getLogger(__name__)

HISTORY_LENGTH = 1000
"""URCs kept for waits that start from an earlier mark."""
URC_WAIT_TIMEOUT_S = 10.0
"""How long a wait for a URC lasts when the caller gives no timeout."""
DISPATCHER_JOIN_TIMEOUT_S = 5.0
"""How long :meth:`UrcHub.close` waits for the subscribers' callbacks to finish."""
URC_SETTING_COMMANDS = frozenset(
    {"+CREG", "+CGREG", "+CEREG", "+C5GREG", "+CGEREP", "+CNMI", "+CMER", "+CEDRXS", "+CSCON",
     "+CTZR", "+CMGF", "+CSCS"}
)
"""Set commands that decide which URCs the modem sends and how they read (27.007 §7.2 +CREG,
§10.1.20 +CGREG, §10.1.22 +CEREG, §10.1.19 +CGEREP, §8.10 +CMER, §7.40 +CEDRXS, §10.1.31
+CSCON, §8.41 +CTZR; 27.005 §3.4.1 +CNMI, §3.2.3 +CMGF and 27.007 §5.5 +CSCS for the
+CMT/+CMTI formats). Re-applied after a reconnect; ``ATZ`` / ``AT&F`` forget them."""


def remember_urc_settings(settings: dict[str, str], commands: list[Command]) -> None:
    """Note in ``settings`` (name -> ``name=args``) the URC settings that a successful command
    line made; ``ATZ`` / ``AT&F`` (V.250 §6.1.1, §6.1.2) forget them all."""
    for command in commands:
        if command.name in ("Z", "&F"):
            settings.clear()
        elif command.form == "set" and command.name in URC_SETTING_COMMANDS:
            settings[command.name] = f"{command.name}={command.args}"


@dataclass(frozen=True)
class UrcRecord:
    """One unsolicited line as received: its sequence number, text and arrival time."""

    seq: int
    text: str
    monotonic_s: float
    data: bytes | None = None
    """The line or bytes that belong to the URC (the PDU after ``+CMT:``, Quectel direct-push data)."""


class Subscription:
    """A subscription made with :meth:`UrcHub.subscribe`; :meth:`cancel` ends it."""

    def __init__(self, hub: UrcHub, prefix: str, callback: Callable[[str], None]) -> None:
        self.prefix, self.callback, self._hub = prefix, callback, hub
        self.active = True

    def cancel(self) -> None:
        """No more calls after this returns (a call already running finishes)."""
        self.active = False
        self._hub._unsubscribe(self)


class UrcHub:
    """Subscribers and history of one driver's URCs (see the module docstring)."""

    def __init__(self, *, history_length: int = HISTORY_LENGTH) -> None:
        self._cond = threading.Condition()
        self._history: collections.deque[UrcRecord] = collections.deque(maxlen=history_length)
        self._seq = 0
        self._subscriptions: list[Subscription] = []
        self._queue: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._dispatcher = threading.Thread(target=self._dispatch, name="at-urc", daemon=True)
        self._dispatcher.start()

    def publish(self, text: str, data: bytes | None = None) -> None:
        """Record a URC, wake the waits, queue it for the subscribers (any thread)."""
        with self._cond:
            self._seq += 1
            self._history.append(UrcRecord(self._seq, text, time.monotonic(), data))
            self._cond.notify_all()
        self._queue.put(text)

    def subscribe(self, prefix: str, callback: Callable[[str], None]) -> Subscription:
        """Call ``callback(line)`` for every later URC starting with ``prefix`` (``""``: all)."""
        subscription = Subscription(self, prefix, callback)
        with self._cond:
            self._subscriptions.append(subscription)
        return subscription

    def mark(self) -> int:
        """Sequence number of the last URC (0 before the first)."""
        with self._cond:
            return self._seq

    def wait(self, prefix: str, timeout_s: float, *, pattern: str | None = None, after: int | None = None) -> UrcRecord:
        """The first URC numbered above ``after`` (default: :meth:`mark` now) that starts with
        ``prefix`` and matches the regex ``pattern`` (``re.search``) when given. Raises
        :class:`AtTimeout` (command ``"URC <prefix or pattern>"``) after ``timeout_s``."""
        regex = re.compile(pattern) if pattern is not None else None
        deadline = time.monotonic() + timeout_s
        with self._cond:
            cursor = self._seq if after is None else after
            while True:
                for record in self._history:
                    matches = record.text.startswith(prefix) and (regex is None or regex.search(record.text))
                    if record.seq > cursor and matches:
                        return record
                cursor = max(cursor, self._seq)
                remaining_s = deadline - time.monotonic()
                if remaining_s <= 0:
                    raise AtTimeout(f"URC {pattern or prefix}", timeout_s)
                self._cond.wait(remaining_s)

    def close(self) -> None:
        """Deliver what is queued, then stop the dispatcher thread."""
        self._queue.put(None)
        if self._dispatcher is not threading.current_thread():
            self._dispatcher.join(timeout=DISPATCHER_JOIN_TIMEOUT_S)

    def _unsubscribe(self, subscription: Subscription) -> None:
        with self._cond:
            if subscription in self._subscriptions:
                self._subscriptions.remove(subscription)

    def _dispatch(self) -> None:
        while (text := self._queue.get()) is not None:
            with self._cond:
                subscriptions = list(self._subscriptions)
            for subscription in subscriptions:
                if subscription.active and text.startswith(subscription.prefix):
                    try:
                        subscription.callback(text)
                    except Exception:  # a subscriber's bug must not silence the others
                        log.exception("URC callback for %r failed", subscription.prefix)
