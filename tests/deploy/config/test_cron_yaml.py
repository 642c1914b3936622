"""cron.yaml (platform-facts §5.4): fields, the schedule grammar through framework.schedule, time zones."""

from __future__ import annotations

from pathlib import Path

import pytest

from deploy.config.cron_yaml import load_cron

from .helpers import assert_one_error, errors, problems, write

SAMPLE = """
cron:
- description: "nightly cleanup"       # optional, < 500 chars
  url: /tasks/cleanup                  # required, must start with /
  schedule: every day 03:00            # required
  timezone: Europe/Berlin              # optional, tz name; default UTC
  target: worker                       # optional service (SDK: [service:]version-ish id)
  retry_parameters: {job_retry_limit: 3, min_backoff_seconds: 2.5, max_doublings: 5}
  attempt_deadline: 600s               # SDK accepts "<float>s" (unconfirmed server use)
"""


def test_the_sample_of_the_platform_facts_passes(tmp_path: Path) -> None:
    path = write(tmp_path, "cron.yaml", SAMPLE)
    assert problems(load_cron, path) == []
    (job,) = load_cron(path).jobs
    assert (job.url, job.line, job.target, job.description) == ("/tasks/cleanup", 3, "worker", "nightly cleanup")
    assert job.schedule.text == "every day 03:00" and job.schedule.timezone == "Europe/Berlin"
    assert (job.retry.job_retry_limit, job.retry.min_backoff_seconds, job.retry.max_doublings) == (3, 2.5, 5)
    assert job.attempt_deadline == 600.0


@pytest.mark.parametrize("schedule", [
    "every 5 minutes", "every 12 hours", "every 10 mins from 09:00 to 17:00", "every 2 hours synchronized",
    "every monday 09:00", "2nd wednesday of march 17:00", "1st,third monday of month 04:00",
    "1 of jan,april,july,oct 00:00", "every day 00:00",
])
def test_documented_schedules_pass(tmp_path: Path, schedule: str) -> None:
    path = write(tmp_path, "cron.yaml", f"cron:\n- url: /job\n  schedule: {schedule}\n")
    assert problems(load_cron, path) == []


@pytest.mark.parametrize("schedule", ["every 6 hours mon,wed", "every day 25:00", "every 5 hours synchronized",
                                      "whenever", "every monday"])
def test_bad_schedules_are_errors_on_their_line(tmp_path: Path, schedule: str) -> None:
    path = write(tmp_path, "cron.yaml", f"cron:\n- url: /job\n  description: x\n  schedule: {schedule}\n")
    assert_one_error(load_cron, path, 4, "")


@pytest.mark.parametrize(("text", "line", "words"), [
    ("- url: /j\n  schedule: every 1 hours\n  timezone: Mars/Olympus\n", 4, "not a known time zone"),
    ("- url: jobs/x\n  schedule: every 1 hours\n", 2, "does not start with /"),
    ("- schedule: every 1 hours\n", 2, "has no url"),
    ("- url: /j\n", 2, "has no schedule"),
    ("- url: /j\n  schedule: every 1 hours\n  description: " + "d" * 500 + "\n", 4, "description is 500"),
    ("- url: /j\n  schedule: every 1 hours\n  target: Worker_1\n", 4, "not a service"),
    ("- url: /j\n  schedule: every 1 hours\n  target: -worker\n", 4, "not a service"),
    ("- url: /j\n  schedule: every 1 hours\n  description: |\n    two\n    lines\n", 4, "several lines"),
    ("- url: /j\n  schedule: every 1 hours\n  retry_parameters:\n    max_doublings: -1\n", 5, "max_doublings"),
    ("- url: /j\n  schedule: every 1 hours\n  retry_parameters:\n    job_retry_limit: 6\n", 5, "job_retry_limit"),
    ("- url: /j\n  schedule: every 1 hours\n  retry_parameters:\n    job_age_limit: 3 weeks\n", 5,
     "job_age_limit"),
    ("- url: /j\n  schedule: every 1 hours\n  retry_parameters:\n    min_backoff_seconds: 10\n"
     "    max_backoff_seconds: 5\n", 5, "above max_backoff_seconds"),
    ("- url: /j\n  schedule: every 1 hours\n  retry_parameters:\n    max_doubling: 2\n", 5, "unknown key"),
    ("- url: /j\n  schedule: every 1 hours\n  attempt_deadline: 10 minutes\n", 4, "attempt_deadline"),
    ("- url: /j\n  schedule: every 1 hours\n  descriptoin: x\n", 4, "unknown key 'descriptoin'"),
])
def test_job_rules(tmp_path: Path, text: str, line: int, words: str) -> None:
    assert_one_error(load_cron, write(tmp_path, "cron.yaml", "cron:\n" + text), line, words)


def test_application_and_missing_list(tmp_path: Path) -> None:
    assert_one_error(load_cron, write(tmp_path, "cron.yaml", "application: x\ncron: []\n"), 1, "application")
    found = errors(load_cron, write(tmp_path, "c2.yaml", "jobs: []\n"))
    assert [line for line, _ in found] == [1, 1] and "unknown key 'jobs'" in found[0][1]


def test_cron_alone_deletes_every_job(tmp_path: Path) -> None:
    path = write(tmp_path, "cron.yaml", "cron:\n")
    assert load_cron(path).jobs == () and errors(load_cron, path) == []


@pytest.mark.parametrize("target", ["worker", "v2", "worker:v2", "a-b:c-d"])
def test_targets_the_sdk_accepts(tmp_path: Path, target: str) -> None:
    path = write(tmp_path, "cron.yaml", f"cron:\n- url: /j\n  schedule: every 1 hours\n  target: {target}\n")
    assert errors(load_cron, path) == []


def test_one_backoff_alone_never_conflicts_with_the_others_default(tmp_path: Path) -> None:
    path = write(tmp_path, "cron.yaml", "cron:\n- url: /j\n  schedule: every 1 hours\n  retry_parameters:\n"
                 "    min_backoff_seconds: 7200\n")
    assert errors(load_cron, path) == []
