"""Vendor socket commands of the virtual modem (issue 5 §2; reference §4 and §8.12).

Importing this module registers (``virtual.py`` loads every ``sockets*.py`` anyway)

* the Quectel TCP/IP commands ``+QICSGP +QIACT +QIDEACT`` (``sockets_quectel_pdp``), ``+QIOPEN
  +QICLOSE +QISTATE +QISEND +QISENDEX +QIRD`` (``sockets_quectel``) and ``+QIGETERROR``
  (``sockets_quectel_common``), and
* the u-blox commands ``+USOCR +USOCO +USOCL +USOER +UDCONF`` (``sockets_ublox``) and ``+USOWR
  +USOST +USORD +USORF`` (``sockets_ublox_io``);

a profile decides which of them a module answers (``Profile.commands``). All talk to the
simulated far end of :mod:`cellfleet.modem.sockets_net`: by default an echo server one 0.2 s
round trip away; :func:`set_peer` makes a modem's peer (or one host's) a ``sink`` or ``refuse``
it, or changes its timing. Traffic is billed to the device's session records through
``DeviceBackend.record_exchange``.
"""

from __future__ import annotations

from cellfleet.modem import (  # noqa: F401  (imported for their command registrations)
    sockets_quectel,
    sockets_quectel_common,
    sockets_quectel_pdp,
    sockets_ublox,
    sockets_ublox_io,
)
from cellfleet.modem.sockets_net import (
    DEFAULT_PEER,
    PeerModel,
    peer_for,
    resolve_host,
    set_peer,
)

__all__ = ["DEFAULT_PEER", "PeerModel", "peer_for", "resolve_host", "set_peer"]
