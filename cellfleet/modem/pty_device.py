"""The operating-system side of a served modem port: the pty pair, its symlink, its openers.

:class:`~cellfleet.modem.pty_server.ModemServer` builds on these pty facts (reference
``at-commands.md`` §7, §8.21, Linux ``drivers/tty/pty.c``):

* ``open_raw_pty``: the slave is in raw mode, so a client sees the modem's bytes unchanged; the
  master is in packet mode (``TIOCPKT``) where the platform has it, so a client's
  ``tcflush(TCIFLUSH)`` (pyserial does one while opening) shows up as ``TIOCPKT_FLUSHREAD``.
* ``OpenCounter``: bytes written to the master while no client is attached would reach the next
  client, so the server must know when clients come and go. inotify (``IN_OPEN`` /
  ``IN_CLOSE_*`` on the slave's device node, Linux) counts the opens of every other process
  exactly. Without inotify (non-Linux) a pty counts as always attached.
* ``publish_link`` / ``remove_link``: a stable symlink to the slave, so unmodified client software
  opens it like a USB serial port; replaced atomically, removed only while it is still ours.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import os
import struct
import termios
import tty
from pathlib import Path

#: Whether masters are put in packet mode (``TIOCPKT``), which reports a client's input flush.
PACKET_MODE = hasattr(termios, "TIOCPKT") and hasattr(termios, "TIOCPKT_FLUSHREAD")
_IN_OPEN, _IN_CLOSE_WRITE, _IN_CLOSE_NOWRITE, _IN_IGNORED = 0x20, 0x08, 0x10, 0x8000
_INOTIFY_EVENT = struct.Struct("iIII")  # wd, mask, cookie, len (inotify(7))


def open_raw_pty() -> tuple[int, int, str]:
    """A new pty: ``(master fd, slave fd, slave path)``, both ends non-blocking, the slave raw,
    the master in packet mode when ``PACKET_MODE``."""
    master, slave = os.openpty()
    tty.setraw(slave)
    os.set_blocking(master, False)
    os.set_blocking(slave, False)
    if PACKET_MODE:
        fcntl.ioctl(master, termios.TIOCPKT, struct.pack("i", 1))
    return master, slave, os.ttyname(slave)


class OpenCounter:
    """Counts opens and closes of pty slave device nodes by other processes (Linux inotify(7))."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._libc = libc
        self.fd = libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 failed")

    @classmethod
    def create(cls) -> OpenCounter | None:
        """An open counter, or None where inotify does not exist (then ptys count as attached)."""
        try:
            return cls()
        except (OSError, AttributeError):
            return None

    def watch(self, path: str) -> int:
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), _IN_OPEN | _IN_CLOSE_WRITE | _IN_CLOSE_NOWRITE)
        if wd < 0:
            raise OSError(ctypes.get_errno(), f"inotify_add_watch {path} failed")
        return wd

    def unwatch(self, wd: int) -> None:
        self._libc.inotify_rm_watch(self.fd, wd)  # fails harmlessly when the node is already gone

    def read_changes(self) -> list[tuple[int, int]]:
        """``(wd, +1 | -1)`` for each open / close since the last call."""
        changes: list[tuple[int, int]] = []
        while True:
            try:
                data = os.read(self.fd, 64 * _INOTIFY_EVENT.size)
            except BlockingIOError:
                return changes
            offset = 0
            while offset < len(data):
                wd, mask, _cookie, name_len = _INOTIFY_EVENT.unpack_from(data, offset)
                offset += _INOTIFY_EVENT.size + name_len
                if mask & _IN_OPEN:
                    changes.append((wd, +1))
                elif mask & (_IN_CLOSE_WRITE | _IN_CLOSE_NOWRITE):
                    changes.append((wd, -1))

    def close(self) -> None:
        os.close(self.fd)


def publish_link(link: Path, target: str) -> None:
    """Point ``link`` at ``target``, atomically replacing a stale symlink (never a regular file).

    Raises ``FileExistsError`` for a non-link in the way and ``OSError`` saying why the link
    cannot be created, naming ``link`` (never the temporary name used for the atomic replace)."""
    if os.path.lexists(link) and not link.is_symlink():
        raise FileExistsError(f"{link} exists and is not a symlink; refusing to replace it")
    if not link.parent.is_dir():
        raise FileNotFoundError(f"cannot create link {link}: directory {link.parent} does not exist")
    tmp = link.with_name(f".{link.name}.{os.getpid()}.tmp")
    try:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        os.symlink(target, tmp)
        os.replace(tmp, link)
    except OSError as exc:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise OSError(exc.errno, f"cannot create link {link}: {exc.strerror}") from None


def remove_link(link: Path, target: str | None) -> None:
    """Remove ``link`` if it still points at ``target`` (another server may have taken it over)."""
    if _points_to(link, target):
        link.unlink()


def _points_to(link: Path, target: str | None) -> bool:
    try:
        return target is not None and os.readlink(link) == target
    except OSError:
        return False
