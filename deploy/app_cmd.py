"""`python -m deploy app`: check, stage, preflight, then `gcloud app deploy` from the staging folder; and the
verbs that follow a deploy, thin wrappers over gcloud (platform-facts §8): `rollback`, `traffic`, `logs`,
`browse`. Every command prints the gcloud command it runs; `--dry-run` prints without running.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path
from typing import Any

from deploy import gcloud as gc
from deploy import stage as staging
from deploy.check import run_check, split_targets
from deploy.config.app_yaml import version_problems
from deploy.config.problems import ConfigError
from deploy.config.project import Project, load_project
from deploy.preflight import PreflightError, preflight


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--project", help="the Google Cloud project (default: gcloud's configured one)")
    parser.add_argument("--dry-run", action="store_true", help="print the gcloud commands, run nothing")


# --- app -------------------------------------------------------------------------------------------------
def version_refusal(version: str, services: list[str], project: str | None) -> str | None:
    """Why App Engine would refuse `--version` for these services (§5.1), or None; checked before any work."""
    for service in services:
        problems = version_problems(version, service, project)
        if problems:
            return f"--version {version!r}: {'; '.join(problems)} (e.g. v42 or 20261204t1200)"
    return None


def deploy_app(args: argparse.Namespace) -> int:
    """check -> stage -> preflight -> gcloud app deploy; stops at the first step that fails."""
    cwd = Path.cwd()
    app_dir, files = split_targets(args.paths, cwd)
    outside = [f for f in files if not f.is_relative_to(app_dir)]
    if outside:
        print(f"app: not deployed: {outside[0]} is outside the app folder {app_dir}, which is what gets "
              "staged and uploaded; move it inside, or name the folder that holds every file", file=sys.stderr)
        return 2
    status, report = run_check([str(app_dir), *map(str, files)], cwd)
    print(report)
    if status:
        print("app: not deployed: fix the problems `check` found", file=sys.stderr)
        return status
    try:
        project = load_project(app_dir, files)
        refusal = args.version and version_refusal(args.version, [svc.service for svc in project.services],
                                                   args.project)
        if refusal:
            print(f"app: not deployed: {refusal}", file=sys.stderr)
            return 2
        services = staging.service_folders(app_dir, [svc.path for svc in project.services])
        upload, staged = staging.stage(app_dir, args.out, services=services)
    except (staging.StageError, ConfigError) as exc:
        print(f"app: not deployed: stage refused\n{exc}", file=sys.stderr)
        return 1
    status = 1
    try:
        status = _deploy_staged(args, app_dir, project, upload, staged)
        return status
    finally:
        # Our own temporary copy goes once gcloud has read it; kept when the printed command is still to run.
        if args.out is None and not args.dry_run and status != gc.NOT_FOUND:
            shutil.rmtree(staged, ignore_errors=True)


def _deploy_staged(args: argparse.Namespace, app_dir: Path, project: Project, upload: staging.UploadSet,
                   staged: Path) -> int:
    """preflight every service from the staged folder, then gcloud app deploy from it."""
    print(staging.summary(upload, staged))
    if args.skip_preflight:
        print("preflight: skipped (--skip-preflight)")
    else:
        for svc in project.services:  # every service deployed boots from its own staged folder first
            if len(project.services) > 1:
                print(f"preflight of service {svc.service} ({svc.path.relative_to(app_dir).as_posix()}):")
            try:
                result = preflight(app_dir, staged=staged, service_yaml=svc.path)
            except (PreflightError, ConfigError) as exc:
                print(f"app: not deployed: preflight of service {svc.service} failed\n{exc}", file=sys.stderr)
                return 1
            print(result.text())
            if not result.ok:
                print(f"app: not deployed: service {svc.service} of the staged app did not boot cleanly",
                      file=sys.stderr)
                return 1
    deployables = [path.relative_to(app_dir).as_posix()
                   for path in (*(svc.path for svc in project.services), *project.config_files)]
    driver = gc.Gcloud(dry_run=args.dry_run)
    return driver.run(gc.app_deploy(deployables, project=args.project, version=args.version, promote=args.promote,
                                    quiet=args.yes), cwd=staged)


# --- rollback / traffic -----------------------------------------------------------------------------------
def _deployed_at(version: dict[str, Any]) -> str:
    """A sortable deploy time of one `gcloud app versions list --format=json` entry.

    The JSON field names are not in the platform facts (unconfirmed): try `last_deployed_time`
    (a string or {"datetime": ...}), then `version.createTime`, then the id (gcloud's generated ids are
    timestamps, so they sort by time).
    """
    stamp = version.get("last_deployed_time")
    if isinstance(stamp, dict):
        stamp = stamp.get("datetime")
    if not stamp:
        stamp = (version.get("version") or {}).get("createTime")
    return str(stamp or "") + "\0" + str(version.get("id", ""))


def previous_version(versions: list[dict[str, Any]]) -> tuple[str, str]:
    """(serving version, version to roll back to): the one with most traffic, and the newest older than it."""
    if len(versions) < 2:
        raise ValueError("the service has fewer than two versions: there is nothing to roll back to")
    serving = max(versions, key=lambda v: (float(v.get("traffic_split") or 0), _deployed_at(v)))
    older = [v for v in versions if v is not serving and _deployed_at(v) < _deployed_at(serving)]
    if not older:
        raise ValueError(f"no version is older than the serving one ({serving.get('id')}): pass --to VERSION")
    return str(serving.get("id")), str(max(older, key=_deployed_at).get("id"))


def rollback(args: argparse.Namespace) -> int:
    """Send all of a service's traffic back to the version deployed before the serving one (or --to)."""
    driver = gc.Gcloud(dry_run=args.dry_run)
    target = args.to
    if target is None:
        status, text = driver.capture(gc.app_versions_list(args.service, project=args.project))
        if status:
            return status
        if args.dry_run:
            print("(the version to roll back to is read from that list; pass --to VERSION to name it)")
            target = "PREVIOUS_VERSION"
        else:
            try:
                serving, target = previous_version(json.loads(text or "[]"))
            except (ValueError, TypeError) as exc:
                print(f"rollback: {exc}", file=sys.stderr)
                return 1
            print(f"serving: {serving}; rolling back to: {target}")
    return driver.run(gc.set_traffic(args.service, {target: 1}, project=args.project, quiet=args.yes))


def parse_splits(text: str) -> dict[str, str]:
    """`v1=0.5,v2=0.5` -> {"v1": "0.5", "v2": "0.5"}; ValueError with the expected form otherwise."""
    splits = {}
    for part in text.split(","):
        version, sep, weight = part.partition("=")
        try:
            ok = bool(sep and version.strip()) and float(weight) >= 0
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"{part!r} is not VERSION=WEIGHT (for example v1=0.9,v2=0.1)")
        splits[version.strip()] = weight.strip()
    return splits


def traffic(args: argparse.Namespace) -> int:
    """Split a service's traffic between versions (`gcloud app services set-traffic`)."""
    try:
        splits = parse_splits(args.splits)
    except ValueError as exc:
        print(f"traffic: {exc}", file=sys.stderr)
        return 2
    return gc.Gcloud(dry_run=args.dry_run).run(gc.set_traffic(
        args.service, splits, split_by=args.split_by, migrate=args.migrate, project=args.project, quiet=args.yes))


def logs(args: argparse.Namespace) -> int:
    """Tail the app's logs (`gcloud app logs tail`)."""
    return gc.Gcloud(dry_run=args.dry_run).run(gc.app_logs_tail(
        service=args.service, version=args.version, level=args.level, project=args.project))


def browse(args: argparse.Namespace) -> int:
    """Open (or print) the app's URL (`gcloud app browse`)."""
    return gc.Gcloud(dry_run=args.dry_run).run(gc.app_browse(
        service=args.service, version=args.version, launch=not args.no_launch_browser, project=args.project))


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register `app`, `rollback`, `traffic`, `logs` and `browse` on `python -m deploy`."""
    app = subparsers.add_parser("app", help="check, stage, preflight, then gcloud app deploy",
                                description=(__doc__ or "").splitlines()[0])
    app.add_argument("paths", nargs="*", metavar="[DIR] [FILES...]",
                     help="the app folder (default: here) and the files to deploy, as `gcloud app deploy` takes "
                     "them (default: app.yaml and the config files beside it)")
    _common(app)  # with --dry-run, check, stage and preflight still run; only gcloud is not
    app.add_argument("--version", help="the version id (default: gcloud's timestamp)")
    app.add_argument("--promote", action=argparse.BooleanOptionalAction, default=None,
                     help="send all traffic to the new version (default: gcloud's app/promote_by_default)")
    app.add_argument("--yes", action="store_true", help="no prompts (gcloud --quiet)")
    app.add_argument("--out", help="staging folder to create (default: a new temporary folder)")
    app.add_argument("--skip-preflight", action="store_true", help="deploy without booting the staged copy first")
    app.set_defaults(func=deploy_app)

    back = subparsers.add_parser("rollback", help="send a service's traffic back to its previous version")
    _common(back)
    back.add_argument("--service", "-s", default="default", help="the service (default: default)")
    back.add_argument("--to", help="the version to send traffic to (default: the one before the serving one)")
    back.add_argument("--yes", action="store_true", help="no prompts (gcloud --quiet)")
    back.set_defaults(func=rollback)

    split = subparsers.add_parser("traffic", help="split a service's traffic between versions")
    _common(split)
    split.add_argument("splits", help="VERSION=WEIGHT[,VERSION=WEIGHT...], e.g. v1=0.9,v2=0.1")
    split.add_argument("--service", "-s", default="default", help="the service (default: default)")
    split.add_argument("--split-by", choices=("ip", "cookie", "random"), help="how requests are assigned")
    split.add_argument("--migrate", action="store_true", help="migrate traffic gradually (gcloud --migrate)")
    split.add_argument("--yes", action="store_true", help="no prompts (gcloud --quiet)")
    split.set_defaults(func=traffic)

    tail = subparsers.add_parser("logs", help="tail the app's logs")
    _common(tail)
    tail.add_argument("--service", "-s", help="only this service")
    tail.add_argument("--version", "-v", help="only this version")
    tail.add_argument("--level", choices=("critical", "error", "warning", "info", "debug", "any"))
    tail.set_defaults(func=logs)

    url = subparsers.add_parser("browse", help="open the app in a browser (or print its URL)")
    _common(url)
    url.add_argument("--service", "-s", help="this service's URL")
    url.add_argument("--version", "-v", help="this version's URL")
    url.add_argument("--no-launch-browser", action="store_true", help="print the URL only")
    url.set_defaults(func=browse)
