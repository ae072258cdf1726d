"""The control channel of a modem server: a unix socket speaking JSON lines.

One request per line, one answer per line, any number per connection::

    {"op": "sms", "modem": 0, "from": "+491701234567", "text": "hi"}  -> {"ok": true}
    {"op": "status"}  -> {"ok": true, "now_s": 12.5, "modems": [{"index": 0, "link": "./modem0",
                          "path": "/dev/pts/5", "profile": "bg96", "imei": "...", "attached": false,
                          "registration": {"stat": 1, "plmn": "00101", ...}, "sms_sent": [...],
                          "sessions": [...]}]}

Errors answer ``{"ok": false, "error": "<one line>"}``. The socket lives at ``<first link>.ctl``
(or where ``--control`` says) and every further link gets a ``<link>.ctl`` symlink to it, so
``cellfleet modem sms LINK`` finds it from the link alone. The server runs the requests inside its
own loop (:class:`ControlServer` registers with its selector), so no locking is needed.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import selectors
import socket
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cellfleet.modem.pty_server import publish_link

if TYPE_CHECKING:
    from cellfleet.modem.pty_server import ModemServer

#: Longest request line accepted (bytes); an SMS text is at most a few kB even when concatenated.
MAX_REQUEST_BYTES = 64 * 1024
#: Wall seconds a client (``request``) waits for the server's answer. The server never waits:
#: its sockets are non-blocking and unsent answers are buffered per connection.
DEFAULT_TIMEOUT_S = 10.0


class ControlError(Exception):
    """The control socket could not be reached or answered with an error."""


def control_path_for(link: str | os.PathLike) -> Path:
    """Where a server serving ``link`` listens for control requests."""
    return Path(f"{os.fspath(link)}.ctl")


class ControlServer:
    """Accepts control connections for ``server`` and answers their JSON-line requests."""

    def __init__(self, path: Path, server: ModemServer, links: list[Path | None]) -> None:
        self.path = path
        self.server = server
        _remove_stale_socket(path)
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(os.fspath(path))
        self._listener.listen(8)
        self._listener.setblocking(False)
        self._aliases = [control_path_for(link) for link in links[1:] if link is not None]
        for alias in self._aliases:
            if alias != path:
                publish_link(alias, os.path.abspath(path))
        self._connections: dict[socket.socket, _Connection] = {}
        self._sel: selectors.BaseSelector | None = None

    def register(self, sel: selectors.BaseSelector) -> None:
        self._sel = sel
        sel.register(self._listener, selectors.EVENT_READ, (2, lambda _mask: self._accept()))

    def close(self) -> None:
        for conn in list(self._connections):
            self._drop(conn)
        with contextlib.suppress(KeyError, ValueError):
            if self._sel is not None:
                self._sel.unregister(self._listener)
        self._listener.close()
        for alias in self._aliases:
            if alias.is_symlink() and os.readlink(alias) == os.path.abspath(self.path):
                alias.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def _accept(self) -> None:
        try:
            conn, _ = self._listener.accept()
        except BlockingIOError:
            return
        conn.setblocking(False)  # never block the server loop: answers wait in ``_Connection.output``
        self._connections[conn] = _Connection()
        assert self._sel is not None
        self._sel.register(conn, selectors.EVENT_READ, (2, lambda mask: self._on_event(conn, mask)))

    def _on_event(self, conn: socket.socket, mask: int) -> None:
        state = self._connections.get(conn)
        if state is None:
            return  # dropped by an earlier event of the same batch
        if mask & selectors.EVENT_WRITE and not self._flush(conn, state):
            return
        if mask & selectors.EVENT_READ:
            try:
                data = conn.recv(65536)
            except BlockingIOError:
                data = None
            except OSError:
                data = b""
            if data == b"":
                state.closing = True  # the client is done sending; it may still read (half-close)
            elif data:
                state.input += data
        self._answer_requests(conn, state)

    def _answer_requests(self, conn: socket.socket, state: _Connection) -> None:
        """Answer complete request lines while nothing waits to be sent: a client that does not
        read its answers gets no more of them (memory stays bounded) and stalls nobody else."""
        while not state.output and (end := state.input.find(b"\n")) >= 0:
            line = bytes(state.input[:end])
            del state.input[: end + 1]
            if line.strip():
                self._queue_answer(conn, state, handle_request(self.server, line))
                if conn not in self._connections:
                    return
        if not state.output and len(state.input) > MAX_REQUEST_BYTES:
            state.input.clear()
            state.closing = True
            self._queue_answer(conn, state, {"ok": False, "error": f"request longer than {MAX_REQUEST_BYTES} bytes"})
        if conn in self._connections:
            self._update_interest(conn, state)

    def _queue_answer(self, conn: socket.socket, state: _Connection, reply: dict[str, Any]) -> None:
        state.output += json.dumps(reply).encode() + b"\n"
        self._flush(conn, state)

    def _flush(self, conn: socket.socket, state: _Connection) -> bool:
        """Send what the socket takes now; False if the connection was dropped."""
        try:
            while state.output:
                del state.output[: conn.send(state.output)]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._drop(conn)
            return False
        return True

    def _update_interest(self, conn: socket.socket, state: _Connection) -> None:
        if state.output:
            wanted = selectors.EVENT_WRITE  # no reading until the answers are taken (back-pressure)
        elif state.closing:
            self._drop(conn)
            return
        else:
            wanted = selectors.EVENT_READ
        assert self._sel is not None
        key = self._sel.get_key(conn)
        if key.events != wanted:
            self._sel.modify(conn, wanted, key.data)

    def _drop(self, conn: socket.socket) -> None:
        self._connections.pop(conn, None)
        with contextlib.suppress(KeyError, ValueError):
            if self._sel is not None:
                self._sel.unregister(conn)
        conn.close()


class _Connection:
    """One control client: request bytes not yet answered, answer bytes not yet sent."""

    def __init__(self) -> None:
        self.input = bytearray()
        self.output = bytearray()
        self.closing = False  # the client closed its side (or sent too long a line): drop once sent


def handle_request(server: ModemServer, line: bytes) -> dict[str, Any]:
    """The answer to one request line (never raises: bad requests get ``ok: false``)."""
    try:
        request = json.loads(line)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        return {"ok": False, "error": f"request is not JSON: {exc}"}
    if not isinstance(request, dict):
        return {"ok": False, "error": "request must be a JSON object"}
    op = request.get("op")
    try:
        if op == "status":
            return {"ok": True, "now_s": server.now_s(), "modems": [_modem_status(server, i) for i in range(len(server.modems))]}
        if op == "sms":
            index = _modem_index(server, request.get("modem", 0))
            sender, text = request.get("from"), request.get("text")
            if not isinstance(sender, str) or not sender:
                return {"ok": False, "error": "sms needs 'from': the sender's number as a string"}
            if not isinstance(text, str):
                return {"ok": False, "error": "sms needs 'text': a string"}
            server.inject_sms(index, sender, text)
            return {"ok": True}
    except ValueError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a modem bug must not leave the client waiting
        return {"ok": False, "error": f"internal error: {type(exc).__name__}: {exc}"}
    return {"ok": False, "error": f"unknown op {op!r}; expected 'sms' or 'status'"}


def _modem_index(server: ModemServer, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < len(server.modems):
        raise ValueError(f"'modem' must be an index from 0 to {len(server.modems) - 1}, got {value!r}")
    return value


def _modem_status(server: ModemServer, index: int) -> dict[str, Any]:
    modem = server.modems[index]
    now_s = server.now_s()
    registration = modem.device.registration(now_s)
    return {
        "index": index,
        "link": server.paths[index],
        "path": server.slave_paths[index],
        "profile": modem.profile.name,
        "imei": modem.device.imei,
        "imsi": modem.device.imsi,
        "attached": server.attached(index),
        "registration": dataclasses.asdict(registration),
        # MO SMS the device handed to the network (StaticDevice keeps them): proves what was sent
        "sms_sent": [{"to": sms.destination, "text": sms.text, "at_s": sms.at_s} for sms in getattr(modem.device, "sms_sent", ())],
        # socket traffic billed through the wire model (payload and IP bytes both ways)
        "sessions": [dataclasses.asdict(record) for record in getattr(modem.device, "sessions", ())],
    }


def request(path: str | os.PathLike, message: dict[str, Any], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> dict[str, Any]:
    """Send one request to the control socket at ``path`` and return its (successful) answer.

    Raises :class:`ControlError` naming the socket when it cannot be reached or answers an error.
    """
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout_s)
            sock.connect(os.fspath(path))
            sock.sendall(json.dumps(message).encode() + b"\n")
            answer = bytearray()
            while not answer.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                answer += chunk
    except (FileNotFoundError, ConnectionRefusedError) as exc:
        raise ControlError(f"no modem server listens on {os.fspath(path)} ({exc.strerror})") from None
    except OSError as exc:
        raise ControlError(f"control socket {os.fspath(path)}: {exc}") from None
    try:
        reply = json.loads(answer)
    except json.JSONDecodeError:
        raise ControlError(f"control socket {os.fspath(path)} gave no answer") from None
    if not reply.get("ok"):
        raise ControlError(str(reply.get("error", "request failed")))
    return reply


def _remove_stale_socket(path: Path) -> None:
    """Remove a socket file nobody listens on (a crashed server's); refuse a live one or a non-socket."""
    if not os.path.lexists(path):
        return
    if path.is_symlink() or not path.is_socket():
        raise FileExistsError(f"{path} exists and is not a control socket; refusing to replace it")
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(os.fspath(path))
        except (ConnectionRefusedError, FileNotFoundError):
            path.unlink(missing_ok=True)
            return
    raise FileExistsError(f"another modem server is listening on {path}")
