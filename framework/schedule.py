"""App Engine's cron schedule grammar (cron.yaml `schedule:`), parsed and turned into run times.

Three forms (platform-facts §5.4):
* end-time interval ``every N minutes|mins|hours``: the next run is N after the previous one finished;
* start-time interval ``every N minutes|hours from HH:MM to HH:MM`` or ``every N hours synchronized``:
  runs on a fixed grid inside a daily window (the end is inclusive; ``synchronized`` is the window
  00:00-23:59 and N must divide 24 hours);
* custom ``(every|ORDINALS) (day|WEEKDAYS) [of (month|MONTHS|quarter)] HH:MM`` and
  ``DAYS of (month|MONTHS|quarter) HH:MM`` (day-of-month lists such as ``1,15 of month 04:00``).

Daylight saving time (Google does not document it for cron; these are our deliberate choices):
* a wall time that does not exist on a day (it falls in a spring-forward gap) runs when the gap ends,
  e.g. ``every day 02:30`` in Europe/Berlin runs at 03:00 on that day: a daily job is never skipped;
* a wall time that happens twice (fall-back) runs once, at its first occurrence (the summer-time one);
* interval grids step in real elapsed time from the window's start, so on a DST day the wall-clock
  times of later runs shift by the change.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import TypedDict

# zoneinfo and difflib are imported when needed: an app declaring UTC jobs registers them at every cold
# start and should not pay for the time zone database or the suggestion machinery.

__all__ = ["CUSTOM", "END_TIME_INTERVAL", "START_TIME_INTERVAL", "Schedule", "ScheduleError"]

END_TIME_INTERVAL = "end-time interval"
START_TIME_INTERVAL = "start-time interval"
CUSTOM = "custom"

_DAY = timedelta(days=1)


class ScheduleError(ValueError):
    """A cron schedule or timezone that App Engine would reject; the message names the problem and the fix."""


_WEEKDAYS = {  # Python's numbering: Monday = 0
    "mon": 0, "monday": 0, "tue": 1, "tuesday": 1, "wed": 2, "wednesday": 2, "thu": 3, "thursday": 3,
    "fri": 4, "friday": 4, "sat": 5, "saturday": 5, "sun": 6, "sunday": 6,
}
_MONTHS = {
    "jan": 1, "january": 1, "feb": 2, "february": 2, "mar": 3, "march": 3, "apr": 4, "april": 4,
    "may": 5, "jun": 6, "june": 6, "jul": 7, "july": 7, "aug": 8, "august": 8, "sep": 9, "september": 9,
    "oct": 10, "october": 10, "nov": 11, "november": 11, "dec": 12, "december": 12,
}
_MONTH_NAMES = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_ORDINALS = {
    "1st": 1, "first": 1, "2nd": 2, "second": 2, "3rd": 3, "third": 3, "4th": 4, "fourth": 4,
    "5th": 5, "fifth": 5,
}
_PERIODS = {"minutes": 60, "mins": 60, "hours": 3600}
_KEYWORDS = {"every", "of", "from", "to", "synchronized", "day", "month", "quarter"}
_VOCABULARY = sorted({*_WEEKDAYS, *_MONTHS, *_ORDINALS, *_PERIODS, *_KEYWORDS})

# Words people write that the grammar does not have, with the fix App Engine needs.
_HINTS = {
    "minute": "write 'minutes' or 'mins' (always plural, e.g. 'every 1 minutes')",
    "min": "write 'mins' or 'minutes' (e.g. 'every 1 mins')",
    "hour": "write 'hours' (always plural, e.g. 'every 1 hours')",
    "hrs": "write 'hours'",
    "seconds": "the shortest interval is 1 minute: 'every 1 minutes'",
    "days": "for a daily job write 'every day HH:MM', e.g. 'every day 03:00'",
    "weeks": "for a weekly job name the day: 'every monday HH:MM'",
    "at": "drop 'at': the time follows the days directly, e.g. 'every day 10:00'",
    "and": "separate lists with commas, e.g. 'every mon,wed 09:00'",
    "on": "drop 'on', e.g. 'every monday 09:00'",
    "the": "drop 'the', e.g. '1st monday of month 09:00'",
    "every": "'every' may only start the schedule",
    "weekday": "list the days: 'every mon,tue,wed,thu,fri 09:00'",
    "weekend": "list the days: 'every sat,sun 09:00'",
    "daily": "write 'every day HH:MM'",
    "hourly": "write 'every 1 hours'",
    "midnight": "write the time as '00:00'",
    "noon": "write the time as '12:00'",
    "last": "App Engine has no 'last'; use '5th' (skipped in months without one) or day numbers",
    "between": "write 'from HH:MM to HH:MM'",
    "until": "write 'from HH:MM to HH:MM'",
}

_TIME_RE = re.compile(r"^(?:\d|[01]\d|2[0-3]):[0-5]\d$")
_TOKEN_RE = re.compile(r",|[^\s,]+")


def _is_number(token: str | None) -> bool:
    return token is not None and re.fullmatch(r"[0-9]+", token) is not None


class _Parts(TypedDict, total=False):
    kind: str
    interval: timedelta
    window: tuple[time, time]
    synchronized: bool
    at: time
    ordinals: frozenset[int]
    weekdays: frozenset[int]
    monthdays: frozenset[int]
    months: frozenset[int]


@dataclass(frozen=True)
class Schedule:
    """One parsed cron schedule; equal when text and timezone are equal (see `same_as` for meaning)."""

    text: str
    timezone: str = "UTC"
    kind: str = field(default=CUSTOM, compare=False, repr=False)
    interval: timedelta | None = field(default=None, compare=False, repr=False)  # interval forms
    window: tuple[time, time] | None = field(default=None, compare=False, repr=False)  # start-time intervals
    synchronized: bool = field(default=False, compare=False, repr=False)
    at: time | None = field(default=None, compare=False, repr=False)  # custom form: the time of day
    ordinals: frozenset[int] = field(default=frozenset(), compare=False, repr=False)  # 1..5
    weekdays: frozenset[int] = field(default=frozenset(), compare=False, repr=False)  # Monday = 0
    monthdays: frozenset[int] = field(default=frozenset(), compare=False, repr=False)  # 1..31
    months: frozenset[int] = field(default=frozenset(), compare=False, repr=False)  # 1..12

    @classmethod
    def parse(cls, text: str, timezone: str | None = "UTC") -> Schedule:
        """Parse `text` as App Engine does; a bad schedule or timezone raises ScheduleError."""
        if not isinstance(text, str):
            raise ScheduleError(f"a cron schedule must be text, not {type(text).__name__}; "
                                "e.g. 'every 5 minutes'")
        tz_name = timezone or "UTC"
        _zone(tz_name)
        parts = _Parser(text).parse()
        return cls(text=text, timezone=tz_name, **parts)

    @property
    def tzinfo(self) -> tzinfo:
        return _zone(self.timezone)

    def same_as(self, other: Schedule) -> bool:
        """True when both schedules run at the same times (`every mon 9:00` is `every monday 09:00`)."""
        return self._meaning() == other._meaning()

    def _meaning(self) -> tuple[object, ...]:
        return (self.kind, self.interval, self.window, self.at, self.ordinals, self.weekdays,
                self.monthdays, self.months, self.timezone)

    def next_run(self, after: datetime, *, last_finished: datetime | None = None) -> datetime:
        """The first run strictly after `after` (aware UTC result; a naive `after` counts as UTC).

        End-time intervals wait `interval` after `last_finished` (the previous run's end) when given,
        else after `after`, rounded down to the whole minute as App Engine does. Start-time intervals
        and custom forms ignore `last_finished`: skipping a start that collides with a still-running
        job is the scheduler's business.
        """
        after = _aware(after)
        if self.kind == END_TIME_INTERVAL:
            assert self.interval is not None
            base = _aware(last_finished) if last_finished is not None else after
            result = (base + self.interval).replace(second=0, microsecond=0)
            return result if result > after else after.replace(second=0, microsecond=0) + timedelta(minutes=1)
        candidates = self._window_runs(after) if self.kind == START_TIME_INTERVAL else self._custom_runs(after)
        for run in candidates:
            if run > after:
                return run.astimezone(UTC)
        raise ScheduleError(f"schedule {self.text!r} never runs after {after.isoformat()}")  # pragma: no cover

    def next_runs(self, after: datetime, count: int) -> list[datetime]:
        """The next `count` runs after `after`, each run assumed to finish at once."""
        runs: list[datetime] = []
        for _ in range(count):
            after = self.next_run(after)
            runs.append(after)
        return runs

    def _window_runs(self, after: datetime) -> Iterator[datetime]:
        assert self.window is not None and self.interval is not None
        zone = self.tzinfo
        start, end = self.window
        day = after.astimezone(zone).date() - _DAY  # a window that wraps midnight began the day before
        for _ in range(3 * 366):
            first = _resolve(day, start, zone)
            last = _resolve(day + _DAY if end < start else day, end, zone)
            if last >= after:
                steps = max(0, (after - first) // self.interval) if after > first else 0
                run = first + steps * self.interval
                while run <= last:
                    if run > after:
                        yield run
                    run += self.interval
            day += _DAY

    def _custom_runs(self, after: datetime) -> Iterator[datetime]:
        assert self.at is not None
        zone = self.tzinfo
        local = after.astimezone(zone).date()
        year, month = local.year, local.month
        for _ in range(12 * 401):  # the calendar repeats every 400 years
            if month in self.months:
                for day in self._days_in(year, month):
                    when = date(year, month, day)
                    if when >= local - _DAY:
                        yield _resolve(when, self.at, zone)
            year, month = (year + 1, 1) if month == 12 else (year, month + 1)

    def _days_in(self, year: int, month: int) -> list[int]:
        first_weekday, length = date(year, month, 1).weekday(), _month_length(year, month)
        if self.monthdays:
            return sorted(d for d in self.monthdays if d <= length)
        days = []
        for ordinal in self.ordinals:
            for weekday in self.weekdays:
                day = (weekday - first_weekday) % 7 + 1 + 7 * (ordinal - 1)
                if day <= length:
                    days.append(day)
        return sorted(days)

    def __str__(self) -> str:
        return self.text if self.timezone == "UTC" else f"{self.text} ({self.timezone})"


def _aware(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _zone(name: str) -> tzinfo:
    if name == "UTC":
        return UTC
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError):
        known = sorted(available_timezones())
        if not known:
            raise ScheduleError(f"timezone {name!r} cannot be looked up: this machine has no time zone "
                                "database; add `tzdata` to requirements.txt") from None
        close = _close_match(name, known, 0.6) if isinstance(name, str) else None
        hint = f"did you mean {close!r}? " if close else ""
        raise ScheduleError(f"unknown timezone {name!r}: {hint}use an IANA zone name such as "
                            "'Europe/Berlin' or 'America/New_York' (default 'UTC')") from None


def _close_match(word: str, choices: list[str], cutoff: float) -> str | None:
    import difflib

    found = difflib.get_close_matches(word, choices, n=1, cutoff=cutoff)
    return found[0] if found else None


def _month_length(year: int, month: int) -> int:
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (following - timedelta(days=1)).day


def _resolve(day: date, wall: time, zone: tzinfo) -> datetime:
    """The instant `wall` o'clock happens on `day` in `zone`, with the DST rules in the module doc."""
    local = datetime.combine(day, wall, tzinfo=zone)  # fold=0: the first of two repeated wall times
    for _ in range(24 * 60 + 1):
        instant = local.astimezone(UTC)
        if instant.astimezone(zone).replace(tzinfo=None) == local.replace(tzinfo=None):
            return instant
        local += timedelta(minutes=1)  # inside a spring-forward gap: the first wall minute that exists
    raise ScheduleError(f"no time near {wall} on {day} exists in {zone}")  # pragma: no cover


class _Parser:
    """Recursive descent over the cron grammar's words; every error names the word and the fix."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens: list[str] = _TOKEN_RE.findall(text)
        self.pos = 0

    # -- tokens --
    def peek(self, ahead: int = 0) -> str | None:
        index = self.pos + ahead
        return self.tokens[index] if index < len(self.tokens) else None

    def take(self) -> str:
        token = self.tokens[self.pos]
        self.pos += 1
        return token

    def error(self, problem: str, fix: str) -> ScheduleError:
        return ScheduleError(f"bad cron schedule {self.text!r}: {problem}; {fix}")

    def unexpected(self, wanted: str, example: str) -> ScheduleError:
        token = self.peek()
        if token is None:
            done = " ".join(self.tokens[: self.pos]).replace(" ,", ",")
            return self.error(f"it ends after {done!r} where {wanted} must follow", f"e.g. {example!r}")
        return self.error(f"expected {wanted}, found {token!r}", self.hint(token) or f"e.g. {example!r}")

    def hint(self, token: str) -> str | None:
        if token != token.lower() and token.lower() in _VOCABULARY:
            return f"keywords are lower case: write {token.lower()!r}"
        if token in _HINTS:
            return _HINTS[token]
        if re.fullmatch(r"\d+(st|nd|rd|th)", token):
            return "ordinals go from 1st to 5th; for a day of the month write its number, e.g. '20 of month 09:00'"
        if re.fullmatch(r"\d+:\d+(:\d+)?", token) or re.fullmatch(r"\d+(am|pm)", token):
            return "times are 24-hour HH:MM from 00:00 to 23:59, e.g. '09:30' or '17:00'"
        if re.fullmatch(r"\d+[a-z]+", token):
            return "put a space between the number and the word, e.g. 'every 5 minutes'"
        close = _close_match(token.lower(), _VOCABULARY, 0.75)
        if close and close != token:
            return f"did you mean {close!r}?"
        if token in _VOCABULARY:
            return "see the forms: 'every N minutes', 'every mon,wed 09:00', '1st monday of month 09:00'"
        return None

    def end(self) -> None:
        if self.peek() is not None:
            raise self.error(f"unexpected {self.peek()!r} after the time",
                             self.hint(self.peek() or "") or "the time of day must come last")

    # -- grammar --
    def parse(self) -> _Parts:
        if not self.tokens:
            raise self.error("it is empty", "e.g. 'every 5 minutes' or 'every day 03:00'")
        if self.peek() == "every" and _is_number(self.peek(1)):
            return self.interval()
        return self.custom()

    def interval(self) -> _Parts:
        self.take()
        number_text = self.take()
        number = int(number_text)
        if number < 1 or len(number_text) > 5:
            raise self.error(f"the interval {number_text} is out of range",
                             "use a whole number from 1 to 99999, e.g. 'every 5 minutes'")
        unit = self.peek()
        if unit not in _PERIODS:
            if unit == "of":
                raise self.error(f"'every {number_text}' is not followed by 'minutes', 'mins' or 'hours'",
                                 f"for a day of the month write '{number_text} of month HH:MM'")
            raise self.unexpected("'minutes', 'mins' or 'hours'", f"every {number_text} minutes")
        self.take()
        step = timedelta(seconds=number * _PERIODS[unit])
        nxt = self.peek()
        if nxt is None:
            return {"kind": END_TIME_INTERVAL, "interval": step}
        if nxt == "synchronized":
            self.take()
            if step > _DAY or _DAY % step:
                raise self.error(f"'synchronized' needs an interval that divides 24 hours evenly, not "
                                 f"{number_text} {unit}",
                                 "use 1, 2, 3, 4, 6, 8, 12 or 24 hours (or a divisor of 1440 minutes)")
            if self.peek() is not None:
                raise self.error(f"unexpected {self.peek()!r} after 'synchronized'",
                                 "'synchronized' cannot be combined with 'from ... to ...' or days; end the "
                                 "schedule there")
            return {"kind": START_TIME_INTERVAL, "interval": step, "window": (time(0, 0), time(23, 59)),
                    "synchronized": True}
        if nxt == "from":
            self.take()
            start = self.clock("the window's start time after 'from'", "from 09:00 to 17:00")
            if self.peek() != "to":
                raise self.unexpected("'to HH:MM'", f"every {number_text} {unit} from {start:%H:%M} to 17:00")
            self.take()
            stop = self.clock("the window's end time after 'to'", f"from {start:%H:%M} to 17:00")
            if self.peek() == "synchronized":
                raise self.error("'synchronized' cannot be combined with 'from ... to ...'",
                                 "use one of them")
            self.end()
            return {"kind": START_TIME_INTERVAL, "interval": step, "window": (start, stop)}
        if nxt in _WEEKDAYS or nxt in _MONTHS or nxt in ("day", "of") or nxt in _ORDINALS:
            raise self.error(f"an interval cannot be limited to days ({nxt!r})",
                             f"use either 'every {number_text} {unit}' or a day form such as "
                             "'every mon,wed 09:00'")
        raise self.error(f"unexpected {nxt!r} after 'every {number_text} {unit}'",
                         self.hint(nxt) or "it may only be followed by 'synchronized' or 'from HH:MM to HH:MM'")

    def clock(self, wanted: str, example: str) -> time:
        token = self.peek()
        if token is None or not _TIME_RE.match(token):
            raise self.unexpected(wanted + " (24-hour HH:MM)", example)
        self.take()
        hours, minutes = token.split(":")
        return time(int(hours), int(minutes))

    def word_list(self, table: dict[str, int], what: str, example: str) -> set[int]:
        values = set()
        while True:
            token = self.peek()
            if token is None or token not in table:
                raise self.unexpected(what, example)
            values.add(table[self.take()])
            if self.peek() != ",":
                return values
            self.take()

    def custom(self) -> _Parts:
        ordinals: set[int] = set()
        weekdays: set[int] = set()
        monthdays: set[int] = set()
        first = self.peek() or ""
        if _is_number(first):
            while True:
                token = self.peek() or ""
                if not _is_number(token):
                    raise self.unexpected("a day of the month (1 to 31)", "1,15 of month 04:00")
                day = int(self.take())
                if not 1 <= day <= 31:
                    raise self.error(f"day {token} of the month is out of range", "use days 1 to 31")
                monthdays.add(day)
                if self.peek() != ",":
                    break
                self.take()
            if self.peek() != "of":
                raise self.unexpected("'of' and the months", f"{first} of month 04:00")
        else:
            if first == "every":
                self.take()
                ordinals = set(range(1, 6))
                if (self.peek() or "") in _ORDINALS:
                    raise self.error(f"'every' cannot be followed by an ordinal ({self.peek()!r})",
                                     f"drop 'every': '{self.peek()} monday of month 09:00'")
            elif first in _ORDINALS:
                ordinals = self.word_list(_ORDINALS, "an ordinal (1st to 5th)", "1st monday 09:00")
            elif first in _WEEKDAYS or first == "day":
                raise self.error(f"{first!r} needs 'every' or an ordinal before it",
                                 f"e.g. 'every {first} 09:00' or '1st {first} of month 09:00'")
            else:
                raise self.unexpected("'every', an ordinal (1st to 5th) or a day of the month",
                                      "every monday 09:00")
            if self.peek() == "day":
                self.take()
                if first == "every":
                    weekdays = set(range(7))
                else:  # '2nd day' is the 2nd day of the month, not the 2nd week's days
                    monthdays, ordinals = ordinals, set()
            else:
                weekdays = self.word_list(_WEEKDAYS, "'day' or weekdays (mon to sun)", "every mon,wed 09:00")
        months = set(range(1, 13))
        if self.peek() == "of":
            self.take()
            months = self.month_spec()
        at = self.clock("the time of day", f"{self.text.strip()} 09:00" if self.peek() is None else "every day 09:00")
        self.end()
        if monthdays:
            shortest = min(monthdays)
            if not any(shortest <= _month_length(2000, m) for m in months):  # 2000: a leap year
                names = ",".join(_MONTH_NAMES[m - 1] for m in sorted(months))
                raise self.error(f"day {shortest} never occurs in {names}", "pick days that exist in those months")
        return {"kind": CUSTOM, "at": at, "ordinals": frozenset(ordinals), "weekdays": frozenset(weekdays),
                "monthdays": frozenset(monthdays), "months": frozenset(months)}

    def month_spec(self) -> set[int]:
        token = self.peek()
        if token == "month":
            self.take()
            return set(range(1, 13))
        if token == "quarter":
            self.take()
            return {1, 4, 7, 10}
        if token in _ORDINALS:  # '2nd month of quarter'
            offsets = self.word_list(_ORDINALS, "1st, 2nd or 3rd", "1st month of quarter")
            if max(offsets) > 3:
                raise self.error("a quarter has three months", "use 1st, 2nd or 3rd month of quarter")
            for word in ("month", "of", "quarter"):
                if self.peek() != word:
                    raise self.unexpected(repr(word), "1st monday of 2nd month of quarter 09:00")
                self.take()
            return {q + o - 1 for q in (1, 4, 7, 10) for o in offsets}
        return self.word_list(_MONTHS, "'month', 'quarter' or month names (jan to dec)", "1 of jan,july 00:00")
