"""Golden transcripts: every file under tests/golden/<profile>/ replayed against VirtualModem,
compared byte for byte (format in tests/golden/transcript.py). The generic profile's
transcripts include the python-gsmmodem (reference §6.1) and gammu (§6.2) sequences."""

from __future__ import annotations

from pathlib import Path

import pytest
from golden.transcript import decode, encode, parse, render, replay

from cellfleet.modem.profiles import PROFILE_NAMES

GOLDEN = Path(__file__).parent / "golden"
FILES = sorted(GOLDEN.glob("*/*.txt"))


@pytest.mark.parametrize("path", FILES, ids=[f"{p.parent.name}/{p.stem}" for p in FILES])
def test_transcript(path: Path) -> None:
    for line_no, expected, actual in replay(parse(path)):
        assert actual == expected, (
            f"{path.name}:{line_no}: expected\n" + "\n".join(render(expected)) + "\ngot\n" + "\n".join(render(actual))
        )


def test_every_profile_has_a_transcript() -> None:
    assert {p.parent.name for p in FILES} == set(PROFILE_NAMES)


def test_client_transcripts_exist() -> None:
    names = {p.stem for p in (GOLDEN / "generic").glob("*.txt")}
    assert {"python_gsmmodem", "gammu"} <= names


def test_escapes_round_trip() -> None:
    data = bytes(range(256))
    assert decode(encode(data)) == data
    assert encode(b"\r\n> ") == "\\r\\n>\\x20"


def test_a_wrong_byte_fails_the_comparison(tmp_path: Path) -> None:
    """The runner is strict: one missing CR breaks a transcript."""
    bad = tmp_path / "generic" / "bad.txt"
    bad.parent.mkdir()
    bad.write_text("> ATE0\\r\n< ATE0\\r\\r\\nOK\\n\n")
    (_, _, _), (_, expected, actual) = replay(parse(bad))
    assert expected != actual and actual == b"ATE0\r\r\nOK\r\n"
