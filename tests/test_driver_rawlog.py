"""The raw byte log: pyserial ``spy://``-style hexdump rows, flushed as written, read back exactly."""

from __future__ import annotations

import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cellfleet.modem.rawlog import RawLog, RawRecord, hexdump_rows, read_rawlog

NEW_YEAR_2024_S = 1704067200.0  # 2024-01-01T00:00:00Z


def fixed_clock(*times_s: float):
    values = iter(times_s)
    return lambda: next(values)


def test_one_write_is_one_row_with_time_direction_offset_hex_and_text(tmp_path):
    path = tmp_path / "raw.log"
    with RawLog(path, clock=fixed_clock(NEW_YEAR_2024_S, NEW_YEAR_2024_S + 0.25)) as log:
        log.tx(b"AT+CGMI\r")
    lines = path.read_text().splitlines()
    assert lines == [
        "# cellfleet raw AT log opened 2024-01-01T00:00:00.000000Z",
        # 8 bytes "41 54 2B 43 47 4D 49 0D" (23 chars) padded to the 49-char hex column.
        "2024-01-01T00:00:00.250000Z TX 0000  41 54 2B 43 47 4D 49 0D"
        + " " * (49 - 23)
        + " AT+CGMI.",
    ]


def test_seventeen_bytes_take_two_rows_with_a_gap_after_eight(tmp_path):
    path = tmp_path / "raw.log"
    with RawLog(path, clock=fixed_clock(NEW_YEAR_2024_S, NEW_YEAR_2024_S)) as log:
        log.rx(b"\r\n+CSQ: 20,99\r\n\r\nO")
    rows = path.read_text().splitlines()[1:]
    assert rows == [
        "2024-01-01T00:00:00.000000Z RX 0000  0D 0A 2B 43 53 51 3A 20  32 30 2C 39 39 0D 0A 0D  ..+CSQ: 20,99...",
        "2024-01-01T00:00:00.000000Z RX 0010  0A 4F" + " " * (49 - 5) + " .O",
    ]


def test_hexdump_rows_split_every_sixteen_bytes():
    assert hexdump_rows(bytes(range(0x41, 0x41 + 18))) == [
        (0, "41 42 43 44 45 46 47 48  49 4A 4B 4C 4D 4E 4F 50", "ABCDEFGHIJKLMNOP"),
        (16, "51 52", "QR"),
    ]


def test_events_are_one_line_with_control_characters_replaced(tmp_path):
    path = tmp_path / "raw.log"
    with RawLog(path, clock=fixed_clock(NEW_YEAR_2024_S, NEW_YEAR_2024_S + 1)) as log:
        log.event("port lost: read failed\n[Errno 5]")
    assert path.read_text().splitlines()[1] == "2024-01-01T00:00:01.000000Z EV port lost: read failed.[Errno 5]"


def test_every_record_is_on_disk_before_the_log_is_closed(tmp_path):
    path = tmp_path / "raw.log"
    log = RawLog(path)
    log.tx(b"AT\r")
    log.rx(b"\r\nOK\r\n")
    # Read through another handle while the log is still open: a crash now would keep both.
    assert [(r.direction, r.data) for r in read_rawlog(path)] == [("TX", b"AT\r"), ("RX", b"\r\nOK\r\n")]
    log.close()
    log.tx(b"dropped after close")
    assert len(read_rawlog(path)) == 2


def test_reopening_appends_a_new_session(tmp_path):
    path = tmp_path / "raw.log"
    for _ in range(2):
        with RawLog(path) as log:
            log.tx(b"AT\r")
    text = path.read_text()
    assert text.count("# cellfleet raw AT log opened") == 2
    assert [r.data for r in read_rawlog(path)] == [b"AT\r", b"AT\r"]


def test_empty_writes_are_not_logged(tmp_path):
    path = tmp_path / "raw.log"
    with RawLog(path) as log:
        log.rx(b"")
    assert read_rawlog(path) == []


def test_read_back_gives_time_direction_bytes_and_event_text(tmp_path):
    path = tmp_path / "raw.log"
    clock = fixed_clock(NEW_YEAR_2024_S, NEW_YEAR_2024_S + 1.5, NEW_YEAR_2024_S + 2)
    with RawLog(path, clock=clock) as log:
        log.rx(b"\x00\xff  ")  # bytes whose text column is dots and spaces
        log.event("reopened /dev/pts/3")
    start = datetime.datetime(2024, 1, 1, tzinfo=datetime.UTC)
    assert read_rawlog(path) == [
        RawRecord(start + datetime.timedelta(seconds=1.5), "RX", b"\x00\xff  "),
        RawRecord(start + datetime.timedelta(seconds=2), "EV", b"", "reopened /dev/pts/3"),
    ]


def test_a_line_that_is_not_a_record_is_reported_with_its_number(tmp_path):
    path = tmp_path / "raw.log"
    path.write_text("# header\n2024-01-01T00:00:00.000000Z TX 0000  zz\n")
    with pytest.raises(ValueError, match=r"raw.log:2: not a raw log line"):
        read_rawlog(path)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["TX", "RX"]), st.binary(min_size=1, max_size=80)), max_size=12))
def test_any_byte_sequence_reads_back_exactly(tmp_path_factory, records):
    path = tmp_path_factory.mktemp("raw") / "raw.log"
    with RawLog(path) as log:
        for direction, data in records:
            (log.tx if direction == "TX" else log.rx)(data)
    assert [(r.direction, r.data) for r in read_rawlog(path)] == records
