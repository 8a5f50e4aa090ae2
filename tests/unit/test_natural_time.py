"""Natural times: wall-clock phrases in a zone, across DST, relative times, durations, offsets."""

from datetime import UTC, datetime, timedelta

import pytest

from dcs.natural_time import parse_duration, parse_offsets, parse_when

THURSDAY = datetime(2027, 3, 25, 12, 0, tzinfo=UTC)
"""Thursday; Berlin moves to summer time on Sunday 2027-03-28, New York did on 2027-03-14."""


def utc(year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("friday 8pm", utc(2027, 3, 26, 19, 0)),  # CET, UTC+1
        ("tomorrow 18:30", utc(2027, 3, 26, 17, 30)),
        ("sunday 8pm", utc(2027, 3, 28, 18, 0)),  # CEST after the change, UTC+2
        ("next monday at 9", utc(2027, 3, 29, 7, 0)),
        ("2027-12-24 19:00", utc(2027, 12, 24, 18, 0)),
        ("24 Dec 7pm", utc(2027, 12, 24, 18, 0)),
    ],
)
def test_wall_clock_phrases_are_read_in_the_zone(text, expected):
    """A Berlin member's '8pm' is 8pm in Berlin, summer time or not."""
    assert parse_when(text, "Europe/Berlin", THURSDAY) == expected


def test_new_york_reads_in_eastern_daylight_time():
    """New York is on EDT (UTC-4) in late March."""
    assert parse_when("friday 8pm", "America/New_York", THURSDAY) == utc(2027, 3, 27, 0, 0)


def test_the_same_wall_time_moves_across_the_dst_change():
    """Saturday 20:00 and Sunday 20:00 in Berlin are 23 hours apart (the clocks jump)."""
    saturday = parse_when("saturday 20:00", "Europe/Berlin", THURSDAY)
    sunday = parse_when("sunday 20:00", "Europe/Berlin", THURSDAY)
    assert sunday - saturday == timedelta(hours=23)


def test_relative_time_is_elapsed_time_across_the_change():
    """'in 24 hours' is 24 real hours, even over the night the clocks jump."""
    saturday_noon = utc(2027, 3, 27, 11, 0)
    assert parse_when("in 24 hours", "Europe/Berlin", saturday_noon) == saturday_noon + timedelta(
        hours=24
    )
    assert parse_when("in 2 hours", "Europe/Berlin", THURSDAY) == THURSDAY + timedelta(hours=2)


def test_an_explicit_offset_wins_over_the_zone():
    """A text with its own offset means that instant."""
    assert parse_when("2027-12-24 19:00 +05:00", "Europe/Berlin", THURSDAY) == utc(
        2027, 12, 24, 14, 0
    )


def test_unreadable_text_says_how_to_write_it():
    """Nonsense gets an example, not a traceback."""
    with pytest.raises(ValueError, match=r"could not read 'blah'.*friday 8pm"):
        parse_when("blah", "Europe/Berlin", THURSDAY)


def test_a_past_time_is_refused():
    """An explicit date that already went by is refused, with the time it was read as."""
    with pytest.raises(ValueError, match="in the past"):
        parse_when("2027-01-01 10:00", "Europe/Berlin", THURSDAY)


def test_an_unknown_zone_is_refused():
    """The zone name is checked before any parsing."""
    with pytest.raises(ValueError, match="unknown time zone"):
        parse_when("friday 8pm", "Mars/Olympus", THURSDAY)


@pytest.mark.parametrize(
    ("text", "minutes"),
    [("2h", 120), ("90m", 90), ("1h30m", 90), ("2 hours", 120), ("1 day", 1440), ("45", 45)],
)
def test_durations(text, minutes):
    """The ways members write a length of time."""
    assert parse_duration(text) == timedelta(minutes=minutes)


@pytest.mark.parametrize("text", ["", "soon", "2 parsecs", "h"])
def test_bad_durations_are_refused(text):
    """Nothing is guessed."""
    with pytest.raises(ValueError):
        parse_duration(text)


def test_reminder_offsets():
    """Offsets come back in minutes, latest-first, duplicates once."""
    assert parse_offsets("24h,1h,0") == (1440, 60, 0)
    assert parse_offsets("1d, 30m, at start") == (1440, 30, 0)
    assert parse_offsets("1h, 60m") == (60,)
    with pytest.raises(ValueError):
        parse_offsets(" , ")
