"""The event loop under :class:`~cellfleet.modem.pty_server.ModemServer`: one thread, one selector.

``SelectorLoop`` owns the ``selectors`` selector, a wake-up pipe, and the queue of calls other
threads make into the loop (``_in_loop``). Every registration's data is ``(priority, handler)``;
the events of one ``select`` are handled in priority order (0 wake-ups, 1 attach / detach,
2 data), then ``_run_timers``. The subclass says how long the loop may sleep (``_timeout_s``:
``None`` = until an event) and what runs when a timer falls due; a failing handler is logged and
the loop serves on. No modem knowledge here.
"""

from __future__ import annotations

import contextlib
import logging
import os
import queue
import selectors
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

#: Wall seconds a call from another thread (``inject``, ``mute``, ``inject_sms``...) waits for the
#: loop to run it.
LOOP_CALL_TIMEOUT_S = 10.0
_log = logging.getLogger("cellfleet.modem.pty_server")


@dataclass
class _Call:
    """A function to run in the loop thread for another thread, and its outcome."""

    fn: Callable[[], object]
    done: threading.Event = field(default_factory=threading.Event)
    error: BaseException | None = None


class SelectorLoop:
    """A selector loop with a wake-up pipe and calls from other threads (module docstring)."""

    def __init__(self) -> None:
        self._sel: selectors.BaseSelector | None = None
        self._wake_r = self._wake_w = -1
        self._calls: queue.SimpleQueue[_Call] = queue.SimpleQueue()
        self._stop_requested = False
        self._thread: threading.Thread | None = None
        self._loop_ident: int | None = None

    def request_stop(self) -> None:
        """Ask the loop to end (safe from a signal handler); ``serve_forever`` then cleans up."""
        self._stop_requested = True
        self._wake()

    # ------------------------------------------------------------------ for the subclass
    def _timeout_s(self) -> float | None:
        """Wall seconds the loop may sleep; ``None``: until an event."""
        return None

    def _run_timers(self) -> None:
        """Runs after each ``select``: do what fell due."""

    def _close(self) -> None:
        """Release everything (the loop ended in the serving thread)."""
        self._close_loop()

    def _open_loop(self) -> selectors.BaseSelector:
        self._sel = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe()
        for fd in (self._wake_r, self._wake_w):
            os.set_blocking(fd, False)
        self._sel.register(self._wake_r, selectors.EVENT_READ, (0, self._on_wake))
        return self._sel

    def _close_loop(self) -> None:
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1
        if self._sel is not None:
            self._sel.close()
            self._sel = None

    # ------------------------------------------------------------------------ the loop
    def _run(self) -> None:
        self._loop_ident = threading.get_ident()
        try:
            while not self._stop_requested:
                assert self._sel is not None
                events = self._sel.select(self._timeout_s())
                events.sort(key=lambda event: event[0].data[0])  # wake-ups, then attach/detach, then data
                for key, mask in events:
                    self._guarded(key.data[1], mask)
                self._guarded(self._run_timers)
        finally:
            self._loop_ident = None
            while not self._calls.empty():  # never leave a caller waiting
                call = self._calls.get_nowait()
                call.error = RuntimeError("the modem server stopped")
                call.done.set()
            if self._thread is None:
                self._close()

    @staticmethod
    def _guarded(fn: Callable[..., object], *args: object) -> None:
        """Run one event handler; a bug in one modem's handling is logged, the others keep serving."""
        try:
            fn(*args)
        except Exception:  # noqa: BLE001 - logged; one modem's bug must not stop the others
            _log.exception("modem server: an event handler failed; serving on")

    def _in_loop(self, fn: Callable[[], object]) -> None:
        """Run ``fn`` in the loop thread (now, if this is it or none runs) and re-raise its error."""
        if self._loop_ident is None or self._loop_ident == threading.get_ident():
            fn()
            return
        call = _Call(fn)
        self._calls.put(call)
        self._wake()
        if not call.done.wait(timeout=LOOP_CALL_TIMEOUT_S):
            raise TimeoutError(f"the modem server loop did not answer within {LOOP_CALL_TIMEOUT_S:g} s")
        if call.error is not None:
            raise call.error

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"!")

    def _on_wake(self, _mask: int) -> None:
        with contextlib.suppress(OSError):
            os.read(self._wake_r, 4096)
        while not self._calls.empty():
            call = self._calls.get_nowait()
            try:
                call.fn()
            except Exception as exc:  # noqa: BLE001 - re-raised in the calling thread
                call.error = exc
            finally:
                call.done.set()
