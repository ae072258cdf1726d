"""The simulated far end of the virtual modem's sockets, shared by the vendor socket commands.

The Quectel (``sockets_quectel.py``) and u-blox (``sockets_ublox.py``) command sets differ in
syntax and URCs, but both drive the same model of a socket talking to a peer through the
simulated network:

* **Peers.** What answers a socket is a :class:`PeerModel`, chosen per modem and optionally per
  host with :func:`set_peer`: ``echo`` (default: every TCP write / UDP datagram comes back
  unchanged after ``rtt_s``), ``sink`` (accepts connections and data, never answers) or
  ``refuse`` (TCP connects fail as if answered by a RST, RFC 9293 §3.5; UDP datagrams are lost).
  ``connect_s`` is how long a TCP connect takes; ``close_after_s`` makes the peer close TCP
  connections that long after they are established (a FIN, RFC 9293 §3.6).
* **Names.** Host names resolve deterministically without DNS (:func:`resolve_host`): an IP
  literal is itself, a syntactically valid name (RFC 1123 §2.1) gets an address in
  198.18.0.0/15, the block reserved for benchmarking (RFC 2544 App. C.2.2, RFC 6890 §2.2.2) so it
  can never be mistaken for a real host; names under ``.invalid`` never resolve (RFC 6761 §6.4).
* **Time.** Everything the network does later (connect results, echoes, peer closes) is a timer
  of the modem (``VirtualModem.schedule``) whose URCs the vendor module formats; a zero delay
  happens at once. Network times are the peer's, not command latency: ``latency_scale`` does not
  touch them.
* **Billing.** Socket traffic goes to ``device.record_exchange`` (which counts it at the IP layer
  through :mod:`cellfleet.emulator.wire`): a TCP connection once, when it ends (closed by either
  side or lost with the network), with every payload byte written and every byte that came back
  (read or not); a UDP datagram once, with its echo as downlink (billed when the echo arrives;
  without an echo, at once with 0 bytes down). A TCP connect that never succeeded is not billed
  (``record_exchange`` has no shape for a lone SYN and RST). A reboot or power-off (also a
  stopping server, through ``VirtualModem.power_off``) ends every connection first (a
  ``@before_reboot`` hook): an established TCP connection is billed up to then, a datagram whose
  echo was still under way is billed without it.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
import weakref
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from cellfleet.modem.cmd_registry import Line, before_reboot

if TYPE_CHECKING:
    from cellfleet.modem.virtual import VirtualModem

PeerBehaviour = Literal["echo", "sink", "refuse"]
Transport = Literal["TCP", "UDP"]
PEER_BEHAVIOURS: tuple[PeerBehaviour, ...] = ("echo", "sink", "refuse")

#: RFC 2544 App. C.2.2 / RFC 6890 §2.2.2: reserved for benchmarking, never a real host.
RESOLVED_NETWORK = ipaddress.IPv4Network("198.18.0.0/15")
#: RFC 1123 §2.1 host name label: letters, digits and hyphens, not starting or ending with one.
_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
MAX_HOST_NAME_CHARS = 253  # RFC 1035 §2.3.4 (255 octets on the wire)
#: ``state.extensions`` key of the modem's connections not yet finished (for ``_end_all``).
CONNECTIONS_KEY = "socket_connections"
#: RFC 6335 §6: the dynamic (ephemeral) port range; local ports are handed out from its start.
EPHEMERAL_PORT_FIRST = 49152
EPHEMERAL_PORT_LAST = 65535


@dataclass(frozen=True)
class PeerModel:
    """How the far end of a socket behaves (module docstring)."""

    behaviour: PeerBehaviour = "echo"
    rtt_s: float = 0.2
    connect_s: float = 0.3
    close_after_s: float | None = None

    def __post_init__(self) -> None:
        if self.behaviour not in PEER_BEHAVIOURS:
            raise ValueError(f"peer behaviour is one of {', '.join(PEER_BEHAVIOURS)}, got {self.behaviour!r}")
        if self.rtt_s < 0 or self.connect_s < 0 or (self.close_after_s is not None and self.close_after_s < 0):
            raise ValueError("rtt_s, connect_s and close_after_s must be >= 0")


DEFAULT_PEER = PeerModel()


@dataclass
class _FarEnd:
    default: PeerModel = DEFAULT_PEER
    hosts: dict[str, PeerModel] = field(default_factory=dict)


#: Peer settings per modem; they belong to the simulated network, so a reboot keeps them.
_FAR_ENDS: weakref.WeakKeyDictionary[VirtualModem, _FarEnd] = weakref.WeakKeyDictionary()


def set_peer(modem: VirtualModem, peer: PeerModel, host: str | None = None) -> None:
    """Make ``peer`` answer ``modem``'s sockets to ``host`` (as the host names it, any case), or
    to every host without a peer of its own when ``host`` is None."""
    far = _FAR_ENDS.setdefault(modem, _FarEnd())
    if host is None:
        far.default = peer
    else:
        far.hosts[host.lower()] = peer


def peer_for(modem: VirtualModem, host: str) -> PeerModel:
    """The peer answering ``modem``'s sockets to ``host``."""
    far = _FAR_ENDS.get(modem)
    if far is None:
        return DEFAULT_PEER
    return far.hosts.get(host.lower(), far.default)


def resolve_host(host: str) -> str | None:
    """The IP address ``host`` resolves to, None if it does not (module docstring)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    name = host.rstrip(".").lower()
    labels = name.split(".")
    if not name or len(name) > MAX_HOST_NAME_CHARS or not all(_LABEL.fullmatch(label) for label in labels):
        return None
    if labels[-1] == "invalid":
        return None
    digest = int.from_bytes(hashlib.sha256(name.encode("ascii")).digest()[:8], "big")
    # skip the block's first and last address (network and broadcast forms)
    return str(RESOLVED_NETWORK[1 + digest % (RESOLVED_NETWORK.num_addresses - 2)])


def allocate_local_port(modem: VirtualModem) -> int:
    """The next free ephemeral port of ``modem`` (RFC 6335 §6), counting up from 49152."""
    ports = modem.state.extensions.setdefault("socket_ports", {"next": EPHEMERAL_PORT_FIRST})
    port = ports["next"]
    ports["next"] = port + 1 if port < EPHEMERAL_PORT_LAST else EPHEMERAL_PORT_FIRST
    return port


def after(modem: VirtualModem, now_s: float, delay_s: float, action: Callable[[float], list[Line]]) -> None:
    """Run ``action`` ``delay_s`` simulated seconds after ``now_s`` (at once if 0); the lines it
    returns are URCs."""
    if delay_s <= 0:
        for line in action(now_s):
            modem.queue_urc(line)
    else:
        modem.schedule(now_s + delay_s, action)


@dataclass(frozen=True)
class Endpoint:
    """A remote socket address: the host as the command named it, its address, the port."""

    host: str
    ip: str
    port: int

    @property
    def remote(self) -> str:
        """``host:port`` as session records name the remote end."""
        return f"{self.host}:{self.port}"


@dataclass(frozen=True)
class Chunk:
    """Bytes that arrived from ``source`` in one piece (a TCP write of the peer, a datagram)."""

    data: bytes
    source: Endpoint


ConnectionHook = Callable[["Connection", float], list[Line]]
ConnectionState = Literal["opening", "open", "remote_closed", "closed"]


def _no_urcs(connection: Connection, at_s: float) -> list[Line]:
    return []


class Connection:
    """One socket's traffic with the simulated far end.

    ``state``: ``opening`` (TCP connect under way), ``open``, ``remote_closed`` (the peer closed
    or the network went away: nothing more arrives, unread data stays readable) or ``closed``
    (the host closed it). ``on_receive`` / ``on_remote_close`` give the vendor's URCs.
    """

    def __init__(
        self,
        modem: VirtualModem,
        transport: Transport,
        *,
        local_port: int,
        target: Endpoint | None = None,
        on_receive: ConnectionHook = _no_urcs,
        on_remote_close: ConnectionHook = _no_urcs,
    ) -> None:
        self.modem = modem
        self.transport = transport
        self.local_port = local_port
        self.target = target
        self.on_receive = on_receive
        self.on_remote_close = on_remote_close
        self.state: ConnectionState = "opening"
        self.opened_s: float | None = None
        self.sent_bytes = 0
        self.received_bytes = 0
        self.rx: deque[Chunk] = deque()
        self._acks: list[tuple[float, int]] = []  # (simulated time the peer's ACK arrives, bytes)
        self._billed = False
        #: datagrams whose echo is under way: (destination, bytes, simulated time sent)
        self._in_flight: dict[int, tuple[Endpoint, int, float]] = {}
        self._datagrams_sent = 0
        live = [c for c in modem.state.extensions.get(CONNECTIONS_KEY, ()) if not c.finished]
        modem.state.extensions[CONNECTIONS_KEY] = [*live, self]

    @property
    def finished(self) -> bool:
        """Nothing more of this connection can be billed."""
        return self.state in ("closed", "remote_closed") and not self._in_flight

    # ------------------------------------------------------------------ lifecycle
    def establish(self, now_s: float) -> None:
        """The connection is up (TCP handshake done; a UDP socket at once)."""
        self.state = "open"
        self.opened_s = now_s
        if self.transport == "TCP" and self.target is not None:
            close_after_s = peer_for(self.modem, self.target.host).close_after_s
            if close_after_s is not None:
                after(self.modem, now_s, close_after_s, self._remote_close)

    def close(self, now_s: float) -> None:
        """The host closes the socket: unread data is dropped, a TCP connection billed."""
        if self.state == "closed":
            return
        self._bill_tcp(now_s)
        self.state = "closed"
        self.rx.clear()

    def lose_network(self, now_s: float) -> None:
        """The PDP context / registration is gone: nothing more arrives or leaves."""
        if self.state == "open":
            self._bill_tcp(now_s)
            self.state = "remote_closed"
        elif self.state == "opening":
            self.state = "closed"

    def end_with_modem(self, now_s: float) -> None:
        """The module reboots or powers off: a TCP connection is billed up to now, datagrams
        whose echo is under way without it; nothing more arrives."""
        self._bill_tcp(now_s)
        for target, size, sent_s in self._in_flight.values():
            self._bill_datagram(target, size, 0, sent_s, sent_s)
        self._in_flight.clear()
        self.state = "closed"
        self.rx.clear()

    def _remote_close(self, at_s: float) -> list[Line]:
        if self.state != "open":
            return []
        self._bill_tcp(at_s)
        self.state = "remote_closed"
        return self.on_remote_close(self, at_s)

    def _bill_tcp(self, now_s: float) -> None:
        if self.transport != "TCP" or self._billed or self.opened_s is None or self.target is None:
            return
        self._billed = True
        self.modem.device.record_exchange(
            protocol="TCP",
            remote=self.target.remote,
            uplink_payload_bytes=self.sent_bytes,
            downlink_payload_bytes=self.received_bytes,
            start_s=self.opened_s,
            end_s=now_s,
        )

    # ------------------------------------------------------------------ data
    def send(self, data: bytes, now_s: float, to: Endpoint | None = None) -> None:
        """Write ``data`` (one TCP write, or one datagram to ``to`` or the connected target)."""
        target = to or self.target
        if target is None or self.state != "open":
            raise RuntimeError("send on a socket that is not open or has no destination")
        peer = peer_for(self.modem, target.host)
        self.sent_bytes += len(data)
        if self.transport == "TCP":
            self._acks.append((now_s + peer.rtt_s, len(data)))
            if peer.behaviour == "echo":
                after(self.modem, now_s, peer.rtt_s, lambda at_s: self._arrive(data, target, at_s))
            return
        if peer.behaviour != "echo":
            self._bill_datagram(target, len(data), 0, now_s, now_s)
            return

        token = self._datagrams_sent
        self._datagrams_sent += 1
        self._in_flight[token] = (target, len(data), now_s)

        def echo(at_s: float) -> list[Line]:
            if self._in_flight.pop(token, None) is None:
                return []  # billed already, when the modem rebooted
            self._bill_datagram(target, len(data), len(data), now_s, at_s)
            return self._arrive(data, target, at_s)

        after(self.modem, now_s, peer.rtt_s, echo)

    def _bill_datagram(self, target: Endpoint, up_bytes: int, down_bytes: int, start_s: float, end_s: float) -> None:
        self.modem.device.record_exchange(
            protocol="UDP",
            remote=target.remote,
            uplink_payload_bytes=up_bytes,
            downlink_payload_bytes=down_bytes,
            start_s=start_s,
            end_s=end_s,
        )

    def _arrive(self, data: bytes, source: Endpoint, at_s: float) -> list[Line]:
        if self.state != "open":
            return []  # the host closed the socket or the network went away meanwhile
        self.received_bytes += len(data)
        self.rx.append(Chunk(data, source))
        return self.on_receive(self, at_s)

    def read(self, max_bytes: int) -> Chunk | None:
        """Take up to ``max_bytes`` unread bytes: across arrivals for TCP (a byte stream), from
        the oldest datagram only for UDP (whose rest stays readable). None if nothing is unread."""
        if not self.rx or max_bytes <= 0:
            return None
        head = self.rx[0]
        if self.transport == "UDP" or len(head.data) >= max_bytes:
            taken, rest = head.data[:max_bytes], head.data[max_bytes:]
            if rest:
                self.rx[0] = Chunk(rest, head.source)
            else:
                self.rx.popleft()
            return Chunk(taken, head.source)
        out = bytearray()
        while self.rx and len(out) < max_bytes:
            chunk = self.rx.popleft()
            room = max_bytes - len(out)
            out += chunk.data[:room]
            if len(chunk.data) > room:
                self.rx.appendleft(Chunk(chunk.data[room:], chunk.source))
        return Chunk(bytes(out), head.source)

    @property
    def unread_bytes(self) -> int:
        return sum(len(chunk.data) for chunk in self.rx)

    @property
    def read_bytes(self) -> int:
        """Bytes that arrived and were taken by the host (dropped ones at close included)."""
        return self.received_bytes - self.unread_bytes

    def acked_bytes(self, now_s: float) -> int:
        """Bytes the peer has acknowledged by ``now_s``: a TCP write is ACKed one round trip
        after it left (RFC 9293 §3.4); UDP has no acknowledgements, so all of it counts."""
        if self.transport == "UDP":
            return self.sent_bytes
        return sum(size for at_s, size in self._acks if at_s <= now_s)


@before_reboot
def _end_all(modem: VirtualModem, now_s: float) -> None:
    """Before a reboot or power-off clears ``state.extensions``: bill what crossed the network."""
    for connection in modem.state.extensions.get(CONNECTIONS_KEY, ()):
        connection.end_with_modem(now_s)
