"""`python -m deploy functions [DIR] [--dry-run]`: `gcloud functions deploy` for each entry point main.py exports.

Stages the folder with gcloud functions' ignore rules, boots each entry point with functions-framework
on loopback (deploy.preflight, unless --skip-preflight), then deploys each with app.yaml's env_variables
(`--env-vars-file`, written to .local/, never uploaded).

Entry points are found by importing main.py in a subprocess (the app is read only through its files and a
process): module-level objects made by `framework.adapters.cloud_functions.http(app)` deploy with
`--trigger-http`; `cloud_event(app)` ones get their trigger from the app's `@app.on_event` registrations
(platform-facts §7.3): a Pub/Sub topic from a `source="//pubsub.googleapis.com/projects/P/topics/T"`
filter (else `--topic`), a Storage bucket from `source="//storage.googleapis.com/projects/_/buckets/B"`
(else `--bucket`). A gen2 function has one trigger, so an entry point with handlers for several triggers
is deployed once per trigger, as `NAME-topic-T` / `NAME-bucket-B`.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from deploy import gcloud as gc
from deploy import stage as staging
from deploy.config.app_yaml import AppYaml, load_app_yaml
from deploy.config.problems import ConfigError
from deploy.preflight import PreflightError, preflight_functions

PUBSUB = "google.cloud.pubsub.topic.v1.messagePublished"
STORAGE_PREFIX = "google.cloud.storage.object.v1."
_TOPIC_SOURCE = re.compile(r"^//pubsub\.googleapis\.com/projects/[^/]+/topics/([^/*?\[]+)$")
_BUCKET_SOURCE = re.compile(r"^//storage\.googleapis\.com/projects/_/buckets/([^/*?\[]+)$")

# Runs in the app's folder with the app's interpreter: prints the entry points as JSON.
_DISCOVER = r"""
import inspect, json, sys
sys.path.insert(0, ".")
import main
found = []
for name, value in sorted(vars(main).items()):
    if getattr(value, "__module__", None) != "framework.adapters.cloud_functions":
        continue
    kind = {"http.<locals>.http_function": "http", "cloud_event.<locals>.event_function": "cloud_event"}.get(
        getattr(value, "__qualname__", ""))
    if kind is None:
        continue
    rules = []
    if kind == "cloud_event":
        app = inspect.getclosurevars(value).nonlocals.get("app")
        for rule in getattr(getattr(app, "event_router", None), "rules", []):
            rules.append({"type": rule.event_type, "filters": dict(rule.filters),
                          "handler": getattr(rule.handler, "__qualname__", repr(rule.handler))})
    found.append({"name": name, "kind": kind, "rules": rules})
print("ENTRY-POINTS " + json.dumps(found))
"""


class FunctionsError(Exception):
    """Entry points that cannot be found or whose trigger cannot be derived; the message says the fix."""


@dataclass(frozen=True)
class EntryPoint:
    """A module-level function of main.py made by http() or cloud_event(), with its handlers' rules."""

    name: str
    kind: str
    rules: tuple[tuple[str, tuple[tuple[str, str], ...], str], ...] = ()


@dataclass(frozen=True)
class Deployment:
    """One `gcloud functions deploy`: the function's name, its entry point and trigger flags."""

    name: str
    entry_point: str
    trigger: tuple[str, ...]


def discover(app_dir: Path, python: str = sys.executable) -> list[EntryPoint]:
    """Import `app_dir/main.py` in a subprocess and list its http()/cloud_event() entry points."""
    if not (app_dir / "main.py").is_file():
        raise FunctionsError(f"{app_dir / 'main.py'} does not exist: gcloud deploys Python functions from main.py")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("GAE_", "K_", "FUNCTION_"))}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(app_dir), env.get("PYTHONPATH")]))
    done = subprocess.run([python, "-c", _DISCOVER], cwd=app_dir, env=env, capture_output=True, text=True,
                          timeout=120, check=False)
    line = next((ln for ln in done.stdout.splitlines() if ln.startswith("ENTRY-POINTS ")), None)
    if done.returncode or line is None:
        tail = "\n".join("  " + ln for ln in done.stderr.strip().splitlines()[-15:])
        raise FunctionsError(f"importing main.py failed, so its entry points are unknown:\n{tail}")
    return [EntryPoint(e["name"], e["kind"], tuple((r["type"], tuple(r["filters"].items()), r["handler"])
                                                   for r in e["rules"]))
            for e in json.loads(line.removeprefix("ENTRY-POINTS "))]


def function_name(*parts: str) -> str:
    """A Cloud Run functions name: lower case letters, digits and hyphens, starting with a letter, <= 63."""
    text = re.sub(r"[^a-z0-9]+", "-", "-".join(parts).lower()).strip("-")
    text = text if text[:1].isalpha() else "fn-" + text
    return text[:63].rstrip("-")


def _trigger(entry: EntryPoint, event_type: str, filters: dict[str, str], handler: str, topic: str | None,
             bucket: str | None) -> tuple[str, tuple[str, ...]]:
    """(name suffix, trigger flags) of one handler registration."""
    if any(c in event_type for c in "*?["):
        raise FunctionsError(f"{entry.name}: handler {handler} matches the event type pattern {event_type!r}; "
                             "a trigger needs one exact type: register it for an exact type")
    source = filters.get("source", "")
    if event_type == PUBSUB:
        match = _TOPIC_SOURCE.match(source)
        name = match.group(1) if match else topic
        if not name:
            raise FunctionsError(
                f"{entry.name}: handler {handler} takes Pub/Sub messages but names no topic. Add "
                "source=\"//pubsub.googleapis.com/projects/PROJECT/topics/TOPIC\" to its @app.on_event, "
                "or pass --topic TOPIC.")
        return f"topic-{name}", (f"--trigger-topic={name}",)
    if event_type.startswith(STORAGE_PREFIX):
        match = _BUCKET_SOURCE.match(source)
        name = match.group(1) if match else bucket
        if not name:
            raise FunctionsError(
                f"{entry.name}: handler {handler} takes Cloud Storage events but names no bucket. Add "
                "source=\"//storage.googleapis.com/projects/_/buckets/BUCKET\" to its @app.on_event, "
                "or pass --bucket BUCKET.")
        if event_type == STORAGE_PREFIX + "finalized":
            return f"bucket-{name}", (f"--trigger-bucket={name}",)
        short = event_type.removeprefix(STORAGE_PREFIX)
        return f"bucket-{name}-{short}", (f"--trigger-event-filters=type={event_type}",
                                          f"--trigger-event-filters=bucket={name}")
    return f"{event_type.rsplit('.', 1)[-1]}", (f"--trigger-event-filters=type={event_type}",)


def plan(entries: Sequence[EntryPoint], *, topic: str | None = None, bucket: str | None = None
         ) -> list[Deployment]:
    """The deployments: one per http() entry point, one per distinct trigger of a cloud_event() one."""
    deployments: list[Deployment] = []
    for entry in entries:
        if entry.kind == "http":
            deployments.append(Deployment(function_name(entry.name), entry.name, ("--trigger-http",)))
            continue
        if not entry.rules:
            raise FunctionsError(f"{entry.name} = cloud_event(app), but the app registers no @app.on_event "
                                 "handler, so there is no trigger to deploy it with")
        triggers: dict[tuple[str, ...], str] = {}
        for event_type, filters, handler in entry.rules:
            suffix, flags = _trigger(entry, event_type, dict(filters), handler, topic, bucket)
            triggers.setdefault(flags, suffix)
        for flags, suffix in triggers.items():
            name = function_name(entry.name) if len(triggers) == 1 else function_name(entry.name, suffix)
            deployments.append(Deployment(name, entry.name, flags))
    return deployments


def preflight_targets(entries: Sequence[EntryPoint]) -> list[tuple[str, str, str]]:
    """(function name, entry point, signature type) of each entry point, for deploy.preflight."""
    return [(function_name(e.name), e.name, "http" if e.kind == "http" else "cloudevent") for e in entries]


def _env_file(app_dir: Path, variables: dict[str, str]) -> Path | None:
    """app.yaml's env_variables as the YAML file `--env-vars-file` reads, kept out of the upload (.local/)."""
    if not variables:
        return None
    path = app_dir / ".local" / "functions-env.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(dict(variables), default_flow_style=False))
    return path


def command(args: argparse.Namespace) -> int:
    """Run `functions`: discover, plan, stage, then one `gcloud functions deploy` per deployment."""
    app_dir = Path(args.app_dir).resolve()
    try:
        app_yaml = load_app_yaml(app_dir / "app.yaml") if (app_dir / "app.yaml").is_file() else None
        runtime = args.runtime or (app_yaml.runtime if app_yaml else None)
        if not runtime:
            raise FunctionsError("no runtime: pass --runtime python312 (or keep an app.yaml beside main.py)")
        entries = discover(app_dir)
        deployments = plan(entries, topic=args.topic, bucket=args.bucket)
        if not deployments:
            raise FunctionsError("main.py exports no http(app) or cloud_event(app) entry point: add e.g. "
                                 "`http_function = http(app)` (framework.adapters.cloud_functions)")
        _, staged = staging.stage(app_dir, args.out, staging.FUNCTIONS)
    except (FunctionsError, staging.StageError, ConfigError) as exc:
        print(f"functions: refused\n{exc}", file=sys.stderr)
        return 1
    status = 1
    try:
        status = _deploy_staged(args, app_dir, app_yaml, runtime, entries, deployments, staged)
        return status
    finally:
        # Our own temporary copy goes once gcloud has read it; kept when the printed command is still to run.
        if args.out is None and not args.dry_run and status != gc.NOT_FOUND:
            shutil.rmtree(staged, ignore_errors=True)


def _deploy_staged(args: argparse.Namespace, app_dir: Path, app_yaml: AppYaml | None, runtime: str,
                   entries: Sequence[EntryPoint], deployments: Sequence[Deployment], staged: Path) -> int:
    """preflight the entry points from the staged folder, then one gcloud functions deploy each."""
    print(f"staged the upload in {staged}")
    variables = dict(app_yaml.env_variables) if app_yaml else {}
    if args.skip_preflight:
        print("preflight: skipped (--skip-preflight)")
    else:
        try:
            reports = preflight_functions(app_dir, preflight_targets(entries), staged, variables=variables)
        except PreflightError as exc:
            print(f"functions: not deployed: preflight failed\n{exc}", file=sys.stderr)
            return 1
        print("\n\n".join(report.text() for report in reports))
        if not all(report.ok for report in reports):
            print("functions: not deployed: an entry point did not boot cleanly", file=sys.stderr)
            return 1
    env_file = _env_file(app_dir, variables)
    driver = gc.Gcloud(dry_run=args.dry_run)
    status = 0
    for deployment in deployments:
        print(f"function {deployment.name}: entry point {deployment.entry_point}, {' '.join(deployment.trigger)}")
        status = driver.run(gc.functions_deploy(
            deployment.name, runtime=runtime, source=str(staged), entry_point=deployment.entry_point,
            trigger=deployment.trigger, region=args.region, project=args.project,
            env_vars_file=str(env_file) if env_file else None,
            allow_unauthenticated=True if args.allow_unauthenticated and deployment.trigger == ("--trigger-http",)
            else None, quiet=args.yes))
        if status:
            break
    return status


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `functions` on `python -m deploy`."""
    parser = subparsers.add_parser("functions", help="deploy main.py's http()/cloud_event() entry points",
                                   description=(__doc__ or "").splitlines()[0])
    parser.add_argument("app_dir", nargs="?", default=".", help="the folder with main.py (default: .)")
    parser.add_argument("--project", help="the Google Cloud project (default: gcloud's configured one)")
    parser.add_argument("--region", help="the functions' region (default: gcloud's functions/region)")
    parser.add_argument("--runtime", help="e.g. python312 (default: app.yaml's runtime)")
    parser.add_argument("--topic", help="Pub/Sub topic for handlers whose on_event names none")
    parser.add_argument("--bucket", help="Cloud Storage bucket for handlers whose on_event names none")
    parser.add_argument("--allow-unauthenticated", action="store_true", help="make the HTTP functions public")
    parser.add_argument("--out", help="staging folder to create (default: a new temporary folder)")
    parser.add_argument("--dry-run", action="store_true", help="print the gcloud commands, run nothing")
    parser.add_argument("--yes", action="store_true", help="no prompts (gcloud --quiet)")
    parser.add_argument("--skip-preflight", action="store_true",
                        help="deploy without booting each entry point with functions-framework first")
    parser.set_defaults(func=command)
