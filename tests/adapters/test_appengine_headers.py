"""Parsing App Engine's request headers into `AppEngineInfo`, and ignoring them when not trusted."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from framework.adapters.appengine import (
    TRUSTED_ENVIRON_KEY,
    UNKNOWN,
    Trace,
    parse_cloud_trace_context,
    parse_environ,
    parse_eta,
    parse_int,
    parse_lat_long,
    parse_trace,
    parse_traceparent,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"

FULL_HEADERS = {
    "HTTP_X_APPENGINE_COUNTRY": "US",
    "HTTP_X_APPENGINE_REGION": "ca",
    "HTTP_X_APPENGINE_CITY": "mountain view",
    "HTTP_X_APPENGINE_CITYLATLONG": "37.386051,-122.083851",
    "HTTP_X_APPENGINE_USER_IP": "216.58.1.1",
    "HTTP_X_APPENGINE_HTTPS": "on",
    "HTTP_X_CLOUD_TRACE_CONTEXT": f"{TRACE.upper()}/255;o=1",
    "HTTP_X_APPENGINE_CRON": "true",
    "HTTP_X_APPENGINE_QUEUENAME": "default",
    "HTTP_X_APPENGINE_TASKNAME": "task-1",
    "HTTP_X_APPENGINE_TASKRETRYCOUNT": "3",
    "HTTP_X_APPENGINE_TASKEXECUTIONCOUNT": "2",
    "HTTP_X_APPENGINE_TASKETA": "1234567890.5",
    "HTTP_X_APPENGINE_TASKPREVIOUSRESPONSE": "503",
    "HTTP_X_APPENGINE_TASKRETRYREASON": "instance unavailable",
    "HTTP_X_APPENGINE_FAILFAST": "true",
    "HTTP_X_APPENGINE_REQUEST_LOG_ID": "abc123",
    "HTTP_X_APPENGINE_DEFAULT_VERSION_HOSTNAME": "my-proj.uc.r.appspot.com",
    "HTTP_X_APPENGINE_TIMEOUT_MS": "599999",
}


def test_trusted_environ_gives_every_field() -> None:
    info = parse_environ({**FULL_HEADERS, TRUSTED_ENVIRON_KEY: True})
    assert info.trusted
    assert (info.country, info.region, info.city) == ("US", "ca", "mountain view")
    assert (info.latitude, info.longitude) == (37.386051, -122.083851)
    assert info.user_ip == "216.58.1.1" and info.https is True
    assert (info.trace_id, info.span_id, info.trace_sampled) == (TRACE, "00000000000000ff", True)
    assert info.is_cron and info.is_task
    assert (info.queue_name, info.task_name) == ("default", "task-1")
    assert (info.task_retry_count, info.task_execution_count) == (3, 2)
    assert info.task_eta == datetime(2009, 2, 13, 23, 31, 30, 500000, tzinfo=UTC)
    assert info.task_previous_response == 503
    assert info.task_retry_reason == "instance unavailable"
    assert info.task_fail_fast
    assert info.request_log_id == "abc123"
    assert info.default_version_hostname == "my-proj.uc.r.appspot.com"
    assert info.timeout_ms == 599999


@pytest.mark.parametrize("mark", [None, False, "true", 1])
def test_headers_without_the_trust_mark_are_ignored(mark: object) -> None:
    environ = dict(FULL_HEADERS)
    if mark is not None:
        environ[TRUSTED_ENVIRON_KEY] = mark
    info = parse_environ(environ)
    assert info == UNKNOWN
    assert not info.trusted and not info.is_cron and not info.is_task
    assert info.country is None and info.trace_id is None and info.user_ip is None


def test_unknown_markers_read_as_none() -> None:
    info = parse_environ({
        TRUSTED_ENVIRON_KEY: True,
        "HTTP_X_APPENGINE_COUNTRY": "ZZ",
        "HTTP_X_APPENGINE_REGION": "ca",
        "HTTP_X_APPENGINE_CITY": "?",
        "HTTP_X_APPENGINE_CITYLATLONG": "0.000000,0.000000",
    })
    assert (info.country, info.region, info.city, info.latitude, info.longitude) == (None,) * 5
    assert not info.is_cron and not info.is_task and not info.task_fail_fast


def test_malformed_values_read_as_none() -> None:
    info = parse_environ({
        TRUSTED_ENVIRON_KEY: True,
        "HTTP_X_APPENGINE_CRON": "yes please",
        "HTTP_X_APPENGINE_TASKRETRYCOUNT": "-1",
        "HTTP_X_APPENGINE_TASKEXECUTIONCOUNT": "two",
        "HTTP_X_APPENGINE_TASKETA": "nan",
        "HTTP_X_APPENGINE_TASKPREVIOUSRESPONSE": "99999",
        "HTTP_X_APPENGINE_CITYLATLONG": "north,south",
        "HTTP_X_CLOUD_TRACE_CONTEXT": "not-a-trace",
        "HTTP_X_APPENGINE_TIMEOUT_MS": "1e9",
        "HTTP_X_APPENGINE_QUEUENAME": "q" * 2000,
        "HTTP_X_APPENGINE_USER_IP": "216.58.1.999",
    })
    assert info.user_ip is None
    assert not info.is_cron
    assert info.task_retry_count is None and info.task_execution_count is None
    assert info.task_eta is None and info.task_previous_response is None
    assert info.latitude is None and info.trace_id is None and info.timeout_ms is None
    assert info.queue_name is None and not info.is_task


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("37.386051,-122.083851", (37.386051, -122.083851)),
        ("-33.9,18.4", (-33.9, 18.4)),
        ("0.000000,0.000000", None),
        ("91,0", None),
        ("10,181", None),
        ("inf,1", None),
        ("1;2", None),
        ("", None),
        (None, None),
    ],
)
def test_lat_long(value: str | None, expected: tuple[float, float] | None) -> None:
    assert parse_lat_long(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0", 0), ("17", 17), ("-3", None), ("1.5", None), ("٣", None), ("", None), (None, None),
     (str(2**63 - 1), 2**63 - 1), (str(2**63), None), ("0" * 30 + "5", None), ("9" * 900, None)],
)
def test_int(value: str | None, expected: int | None) -> None:
    assert parse_int(value) == expected


def test_eta() -> None:
    assert parse_eta("0") == datetime(1970, 1, 1, tzinfo=UTC)
    assert parse_eta("1e300") is None
    assert parse_eta("-5") is None
    assert parse_eta("soon") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"{TRACE}/1;o=1", Trace(TRACE, "0000000000000001", True)),
        (f"{TRACE}/18446744073709551615;o=0", Trace(TRACE, "ffffffffffffffff", False)),
        (f"{TRACE}/18446744073709551616;o=1", Trace(TRACE, None, True)),  # >= 2**64: dropped
        (f"{TRACE}/0", Trace(TRACE, None, None)),
        (f"{TRACE}/12345", Trace(TRACE, format(12345, "016x"), None)),
        (TRACE, Trace(TRACE, None, None)),
        ("0" * 32 + "/5;o=1", None),
        ("abc/5;o=1", None),
        (f"{TRACE}/5;o=1;extra", None),
    ],
)
def test_cloud_trace_context(value: str, expected: Trace | None) -> None:
    assert parse_cloud_trace_context(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (f"00-{TRACE}-00f067aa0ba902b7-01", Trace(TRACE, "00f067aa0ba902b7", True)),
        (f"00-{TRACE}-00f067aa0ba902b7-00", Trace(TRACE, "00f067aa0ba902b7", False)),
        (f"01-{TRACE}-00f067aa0ba902b7-03-future", Trace(TRACE, "00f067aa0ba902b7", True)),
        (f"00-{TRACE}-00f067aa0ba902b7-01-extra", None),
        (f"ff-{TRACE}-00f067aa0ba902b7-01", None),
        (f"00-{'0' * 32}-00f067aa0ba902b7-01", None),
        (f"00-{TRACE}-{'0' * 16}-01", None),
        (f"00-{TRACE.upper()}-00f067aa0ba902b7-01", None),
        ("garbage", None),
    ],
)
def test_traceparent(value: str, expected: Trace | None) -> None:
    assert parse_traceparent(value) == expected


def test_traceparent_preferred_over_cloud_trace_context() -> None:
    other = "a" * 32
    environ = {"HTTP_TRACEPARENT": f"00-{TRACE}-00f067aa0ba902b7-01", "HTTP_X_CLOUD_TRACE_CONTEXT": f"{other}/1;o=0"}
    assert parse_trace(environ) == Trace(TRACE, "00f067aa0ba902b7", True)
    environ["HTTP_TRACEPARENT"] = "broken"
    assert parse_trace(environ) == Trace(other, "0000000000000001", False)
    assert parse_trace({}) is None
