"""framework.schedule against App Engine's documented cron forms: (schedule, after, expected next run)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from framework.schedule import CUSTOM, END_TIME_INTERVAL, START_TIME_INTERVAL, Schedule, ScheduleError


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# 2026-03-28 is a Saturday. Berlin springs forward on 2026-03-29 at 01:00Z and falls back on 2026-10-25.
NEXT_RUNS = [
    # end-time intervals: N after `after` (or after the last run finished), on a whole minute
    ("every 5 minutes", "UTC", "2026-03-28 12:00:30", None, "2026-03-28 12:05"),
    ("every 5 mins", "UTC", "2026-03-28 12:00:30", "2026-03-28 12:03:10", "2026-03-28 12:08"),
    ("every 1 hours", "UTC", "2026-03-28 10:59:59", None, "2026-03-28 11:59"),
    ("every 12 hours", "UTC", "2026-03-28 20:00", None, "2026-03-29 08:00"),
    # start-time intervals: a grid inside a daily window whose end is inclusive
    ("every 2 hours synchronized", "UTC", "2026-03-28 13:00", None, "2026-03-28 14:00"),
    ("every 2 hours synchronized", "UTC", "2026-03-28 14:00", None, "2026-03-28 16:00"),
    ("every 2 hours synchronized", "UTC", "2026-03-28 23:30", None, "2026-03-29 00:00"),
    ("every 90 minutes synchronized", "UTC", "2026-03-28 01:00", None, "2026-03-28 01:30"),
    ("every 5 minutes from 10:00 to 14:00", "UTC", "2026-03-28 09:00", None, "2026-03-28 10:00"),
    ("every 5 minutes from 10:00 to 14:00", "UTC", "2026-03-28 12:01", None, "2026-03-28 12:05"),
    ("every 5 minutes from 10:00 to 14:00", "UTC", "2026-03-28 13:58", None, "2026-03-28 14:00"),
    ("every 5 minutes from 10:00 to 14:00", "UTC", "2026-03-28 14:00", None, "2026-03-29 10:00"),
    ("every 5 minutes from 10:00 to 14:00", "UTC", "2026-03-28 12:01", "2026-03-28 12:04", "2026-03-28 12:05"),
    ("every 45 minutes from 10:00 to 12:00", "UTC", "2026-03-28 11:30", None, "2026-03-29 10:00"),
    ("every 30 mins from 22:00 to 02:00", "UTC", "2026-03-28 23:45", None, "2026-03-29 00:00"),
    ("every 30 mins from 22:00 to 02:00", "UTC", "2026-03-29 01:59", None, "2026-03-29 02:00"),
    ("every 30 mins from 22:00 to 02:00", "UTC", "2026-03-29 02:00", None, "2026-03-29 22:00"),
    ("every 3 hours from 10:00 to 10:00", "UTC", "2026-03-28 10:00", None, "2026-03-29 10:00"),
    # custom forms
    ("every day 00:00", "UTC", "2026-03-28 00:00", None, "2026-03-29 00:00"),
    ("every day 9:05", "UTC", "2026-03-28 09:04:59", None, "2026-03-28 09:05"),
    ("every monday 09:00", "UTC", "2026-03-28 12:00", None, "2026-03-30 09:00"),
    ("every monday 09:00", "UTC", "2026-03-30 09:00", None, "2026-04-06 09:00"),
    ("every mon,wed,fri 18:00", "UTC", "2026-03-30 18:00", None, "2026-04-01 18:00"),
    ("2nd wednesday of march 17:00", "UTC", "2026-01-01 00:00", None, "2026-03-11 17:00"),
    ("2nd wednesday of march 17:00", "UTC", "2026-03-28 00:00", None, "2027-03-10 17:00"),
    ("2nd,third mon,wed,thu of march 17:00", "UTC", "2026-03-11 17:00", None, "2026-03-12 17:00"),
    ("1st,third monday of month 04:00", "UTC", "2026-03-28 00:00", None, "2026-04-06 04:00"),
    ("1st,third monday of month 04:00", "UTC", "2026-04-06 04:00", None, "2026-04-20 04:00"),
    ("1st monday of sep,oct,nov 17:00", "UTC", "2026-03-28 00:00", None, "2026-09-07 17:00"),
    ("every wed,fri of jan,jun 13:15", "UTC", "2026-03-28 00:00", None, "2026-06-03 13:15"),
    ("1 of jan,april,july,oct 00:00", "UTC", "2026-03-28 00:00", None, "2026-04-01 00:00"),
    ("1,15 of month 04:00", "UTC", "2026-04-01 04:00", None, "2026-04-15 04:00"),
    ("31 of month 10:00", "UTC", "2026-04-01 00:00", None, "2026-05-31 10:00"),
    ("29 of feb 00:00", "UTC", "2026-03-01 00:00", None, "2028-02-29 00:00"),
    ("5th monday of feb 00:00", "UTC", "2026-03-01 00:00", None, "2044-02-29 00:00"),
    ("1st day of month 00:00", "UTC", "2026-03-28 00:00", None, "2026-04-01 00:00"),
    ("first sunday of quarter 00:00", "UTC", "2026-03-28 00:00", None, "2026-04-05 00:00"),
    ("2nd day of 2nd month of quarter 10:00", "UTC", "2026-03-28 00:00", None, "2026-05-02 10:00"),
    # timezones and daylight saving time (our documented choices)
    ("every day 09:00", "America/New_York", "2026-07-01 00:00", None, "2026-07-01 13:00"),
    ("every day 09:00", "America/New_York", "2026-12-01 00:00", None, "2026-12-01 14:00"),
    ("every day 02:30", "Europe/Berlin", "2026-03-28 12:00", None, "2026-03-29 01:00"),  # gap: at 03:00
    ("every day 02:30", "Europe/Berlin", "2026-03-29 01:00", None, "2026-03-30 00:30"),
    ("every day 02:30", "Europe/Berlin", "2026-10-24 12:00", None, "2026-10-25 00:30"),  # twice: the first
    ("every day 02:30", "Europe/Berlin", "2026-10-25 00:30", None, "2026-10-26 01:30"),
    ("every 6 hours synchronized", "Europe/Berlin", "2026-03-29 17:00", None, "2026-03-29 22:00"),
    ("every 6 hours synchronized", "Europe/Berlin", "2026-03-29 00:00", None, "2026-03-29 05:00"),
]


@pytest.mark.parametrize(("text", "tz", "after", "finished", "expected"), NEXT_RUNS)
def test_next_run(text: str, tz: str, after: str, finished: str | None, expected: str) -> None:
    schedule = Schedule.parse(text, tz)
    got = schedule.next_run(utc(after), last_finished=utc(finished) if finished else None)
    assert got == utc(expected)
    assert got.tzinfo is UTC


def test_kinds_and_attributes() -> None:
    assert Schedule.parse("every 5 minutes").kind == END_TIME_INTERVAL
    assert Schedule.parse("every 5 minutes from 10:00 to 11:00").kind == START_TIME_INTERVAL
    assert Schedule.parse("every 2 hours synchronized").synchronized
    custom = Schedule.parse("every monday 09:00", "Europe/Berlin")
    assert (custom.kind, custom.text, custom.timezone) == (CUSTOM, "every monday 09:00", "Europe/Berlin")
    assert Schedule.parse("every day 10:00", None).timezone == "UTC"


def test_naive_after_counts_as_utc() -> None:
    schedule = Schedule.parse("every day 10:00")
    assert schedule.next_run(datetime(2026, 1, 1, 9, 0)) == utc("2026-01-01 10:00")


def test_next_runs_lists_consecutive_runs() -> None:
    runs = Schedule.parse("every 20 mins from 10:00 to 11:00").next_runs(utc("2026-01-01 00:00"), 5)
    assert runs == [utc(t) for t in ("2026-01-01 10:00", "2026-01-01 10:20", "2026-01-01 10:40",
                                     "2026-01-01 11:00", "2026-01-02 10:00")]


def test_same_as_compares_meaning() -> None:
    assert Schedule.parse("every mon 9:00").same_as(Schedule.parse("every  monday 09:00"))
    assert Schedule.parse("every 1 hours").same_as(Schedule.parse("every 60 minutes"))
    assert not Schedule.parse("every 1 hours").same_as(Schedule.parse("every 1 hours synchronized"))
    assert not Schedule.parse("every day 09:00").same_as(Schedule.parse("every day 09:00", "Europe/Paris"))
    assert Schedule.parse("every day 09:00") != Schedule.parse("every day 09:00", "Europe/Paris")


BAD = [  # (schedule, words the message must contain: the bad word and the fix)
    ("", ["empty", "every 5 minutes"]),
    ("every 5 minuts", ["'minuts'", "did you mean 'minutes'"]),
    ("every 1 minute", ["'minute'", "'minutes'"]),
    ("every 1 hour", ["'hour'", "'hours'"]),
    ("Every day 10:00", ["'Every'", "lower case"]),
    ("every 6 hours mon,wed", ["'mon'", "every mon,wed 09:00"]),
    ("every day at 10:00", ["'at'", "drop 'at'"]),
    ("every 7 hours synchronized", ["7 hours", "1, 2, 3, 4, 6, 8, 12 or 24"]),
    ("every 25 hours synchronized", ["25 hours", "divides 24 hours"]),
    ("every 7 minutes synchronized", ["7 minutes", "1440 minutes"]),
    ("every 2 hours synchronized from 10:00 to 12:00", ["'from'", "cannot be combined"]),
    ("every 2 hours from 10:00 to 12:00 synchronized", ["synchronized", "one of them"]),
    ("every 0 minutes", ["0", "from 1 to 99999"]),
    ("every 100000 minutes", ["100000", "from 1 to 99999"]),
    ("every day 24:00", ["'24:00'", "00:00 to 23:59"]),
    ("every day 10:60", ["'10:60'", "HH:MM"]),
    ("every day 9am", ["'9am'", "24-hour"]),
    ("every day", ["time of day", "every day 09:00"]),
    ("30 of feb 10:00", ["day 30", "feb"]),
    ("32 of month 10:00", ["day 32", "1 to 31"]),
    ("0 of month 10:00", ["day 0", "1 to 31"]),
    ("1 of month", ["time of day", "1 of month 09:00"]),
    ("15 10:00", ["'10:00'", "'of'"]),
    ("every 5 minutes from 10:00", ["'to HH:MM'"]),
    ("every 5 minutes from 10 to 11", ["'10'", "HH:MM"]),
    ("monday 09:00", ["'monday'", "every monday 09:00"]),
    ("every 2nd monday 09:00", ["'2nd'", "drop 'every'"]),
    ("every 15 of month 10:00", ["every 15", "15 of month HH:MM"]),
    ("6th monday of month 10:00", ["'6th'", "1st to 5th"]),
    ("every 5mins", ["'5mins'", "space"]),
    ("every mon, 09:00", ["'09:00'", "weekdays"]),
    ("every mon,", ["ends after", "weekdays"]),
    ("every monday 09:00 extra", ["'extra'", "last"]),
    ("every mondays 09:00", ["'mondays'", "did you mean 'monday'"]),
    ("1st monday of smarch 09:00", ["'smarch'", "month names"]),
    ("1st monday of 4th month of quarter 09:00", ["three months", "1st, 2nd or 3rd"]),
    ("1st month of quarter 09:00", ["'month'", "every N minutes"]),
    ("every day last 09:00", ["'last'", "no 'last'"]),
]


@pytest.mark.parametrize(("text", "words"), BAD)
def test_bad_schedules_name_the_word_and_the_fix(text: str, words: list[str]) -> None:
    with pytest.raises(ScheduleError) as caught:
        Schedule.parse(text)
    message = str(caught.value)
    assert message.startswith(f"bad cron schedule {text!r}")
    for word in words:
        assert word in message, message


def test_schedule_error_is_a_value_error() -> None:
    assert issubclass(ScheduleError, ValueError)
    with pytest.raises(ValueError):
        Schedule.parse(42)  # type: ignore[arg-type]


@pytest.mark.parametrize("tz", ["Europe/Berln", "Mars/Olympus", "../etc/passwd", ""])
def test_bad_timezone(tz: str) -> None:
    if tz == "":
        assert Schedule.parse("every day 10:00", tz).timezone == "UTC"  # empty means the default, as in cron.yaml
        return
    with pytest.raises(ScheduleError, match="unknown timezone") as caught:
        Schedule.parse("every day 10:00", tz)
    assert "IANA" in str(caught.value)
    if tz == "Europe/Berln":
        assert "did you mean 'Europe/Berlin'" in str(caught.value)


GOOD = [  # documented examples (App Engine docs, platform-facts §5.4) and grammar corners
    "every 12 hours", "every 5 minutes from 10:00 to 14:00", "every 1 hours from 08:00 to 16:00",
    "every day 00:00", "every monday 09:00", "2nd,third mon,wed,thu of march 17:00",
    "1st monday of sep,oct,nov 17:00", "1 of jan,april,july,oct 00:00", "every 2 hours synchronized",
    "every 5 mins", "1st,3rd monday of month 15:30", "every wed,fri of jan,jun 13:15",
    "first sunday of quarter 00:00", "every day 9:00", "1st,2nd,3rd,4th,5th tue of month 08:00",
    "fourth thursday of november 12:00", "fifth friday of month 23:59", "every sat,sun 10:00",
    "1, 15 of month 04:00", "every day of month 10:00", "every 24 hours synchronized",
    "every thu of quarter 06:00", "31 of feb,mar 10:00",
]


@pytest.mark.parametrize("text", GOOD)
def test_documented_examples_parse_and_run(text: str) -> None:
    schedule = Schedule.parse(text)
    after = utc("2026-03-28 12:00")
    runs = schedule.next_runs(after, 3)
    assert after < runs[0] < runs[1] < runs[2]
