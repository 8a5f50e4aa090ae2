"""UTCDateTime: aware UTC in, aware UTC out, whatever the backend keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from storage.types import UTCDateTime, as_utc, utcnow

PLUS_TWO = timezone(timedelta(hours=2))
NOON_UTC = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("dialect", [sqlite.dialect(), postgresql.dialect()], ids=["sqlite", "pg"])
def test_naive_values_are_refused(dialect):
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 5, 1), dialect)


def test_sqlite_stores_naive_utc_wall_time():
    stored = UTCDateTime().process_bind_param(
        datetime(2026, 5, 1, 14, tzinfo=PLUS_TWO), sqlite.dialect()
    )
    assert stored == datetime(2026, 5, 1, 12)


def test_postgres_stores_aware_utc():
    stored = UTCDateTime().process_bind_param(
        datetime(2026, 5, 1, 14, tzinfo=PLUS_TWO), postgresql.dialect()
    )
    assert stored == NOON_UTC and stored.tzinfo is UTC


@pytest.mark.parametrize(
    "raw",
    [datetime(2026, 5, 1, 12), datetime(2026, 5, 1, 14, tzinfo=PLUS_TWO), NOON_UTC],
    ids=["naive-from-sqlite", "offset", "utc"],
)
def test_results_are_aware_utc(raw):
    value = UTCDateTime().process_result_value(raw, sqlite.dialect())
    assert value == NOON_UTC and value.tzinfo is UTC


def test_none_passes_through():
    assert UTCDateTime().process_bind_param(None, sqlite.dialect()) is None
    assert UTCDateTime().process_result_value(None, sqlite.dialect()) is None
    assert as_utc(None) is None


def test_helpers_are_utc():
    assert utcnow().tzinfo is UTC
    assert as_utc(datetime(2026, 5, 1, 14, tzinfo=PLUS_TWO)) == NOON_UTC
