"""app.yaml for the python3 runtimes of App Engine standard: the typed model the runner, check and stage read.

`load_app_yaml` applies every rule of platform-facts §5.1 (handlers: handlers.py, scaling: scaling.py) and
raises ConfigError with FILE:LINE problems; warnings ride along on the model.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path

from deploy.secret_rules import check_env_secrets

from .handlers import Handler, HandlerKind, read_handlers
from .problems import Problem
from .scaling import Scaling, ScalingKind, check_instance_class, read_scaling
from .yaml_nodes import (
    Findings,
    Node,
    check_keys,
    did_you_mean,
    expect_list,
    expect_map,
    get_bool,
    get_str,
    parse_duration,
    read_yaml,
)

__all__ = ["AppYaml", "Handler", "HandlerKind", "Scaling", "ScalingKind", "load_app_yaml", "RUNTIMES"]

# runtime -> (end of support, deprecated): platform-facts §1.1. After end of support no new deploys.
RUNTIMES: dict[str, tuple[date, date]] = {
    "python37": (date(2024, 1, 30), date(2025, 1, 31)),
    "python38": (date(2024, 10, 14), date(2025, 10, 1)),
    "python39": (date(2025, 10, 5), date(2026, 10, 1)),
    "python310": (date(2026, 10, 4), date(2027, 10, 1)),
    "python311": (date(2027, 10, 24), date(2028, 10, 24)),
    "python312": (date(2028, 10, 2), date(2029, 10, 2)),
    "python313": (date(2029, 10, 10), date(2030, 10, 10)),
    "python314": (date(2030, 10, 10), date(2031, 10, 10)),
}
NEWEST_RUNTIME = "python314"
PREVIEW_RUNTIMES = ("python315",)  # named as preview in one doc copy only (unconfirmed): a warning
NOTICE_DAYS = 90
SERVICE_ID = re.compile(r"(?!-)[a-z\d\-]{0,62}[a-z\d]")
VERSION_ID = SERVICE_ID
ENV_KEY = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_CONNECTOR = re.compile(r"projects/[^/\s]+/locations/[^/\s]+/connectors/[^/\s]+")
INBOUND_SERVICES = ("warmup", "mail", "mail_bounce", "xmpp_message", "xmpp_presence", "xmpp_subscribe",
                    "xmpp_error", "channel_presence", "rest")
BUNDLED_SERVICES = ("app_identity_service", "blobstore", "capability_service", "datastore_v3", "deferred",
                    "images", "mail", "memcache", "modules", "namespaces", "ndb", "search", "taskqueue",
                    "urlfetch", "user")
ERROR_CODES = ("over_quota", "timeout", "default", "dos_api_denial")
KNOWN_KEYS = ("runtime", "service", "module", "entrypoint", "instance_class", "env_variables",
              "build_env_variables", "handlers", "automatic_scaling", "basic_scaling", "manual_scaling",
              "inbound_services", "app_engine_apis", "app_engine_bundled_services", "default_expiration",
              "error_handlers", "includes", "service_account", "vpc_access_connector", "vpc_access",
              "runtime_config", "main", "standard_websocket", "env")
# key -> (problem, fix): what gcloud refuses for python3 runtimes (§5.1).
REFUSED_KEYS = {
    "application": ("`application:` is not allowed in app.yaml", "remove it; pass --project to gcloud"),
    "project": ("`project:` is not allowed in app.yaml", "remove it; pass --project to gcloud"),
    "version": ("`version:` is not allowed in app.yaml", "remove it; pass --version to gcloud"),
    "threadsafe": ("`threadsafe:` is a python27 setting; the python3 runtimes refuse it", "remove it"),
    "skip_files": ("`skip_files:` is refused on the python3 runtimes",
                   "remove it and list the files in .gcloudignore instead"),
    "libraries": ("`libraries:` is only for python27", "remove it and list packages in requirements.txt"),
    "position": ("`position:` belongs to a handler of an included file, not to app.yaml", "remove it"),
    "api_version": ("`api_version:` is a first-generation setting the python3 runtimes do not take",
                    "remove it"),
}
# Keys the SDK schema still parses but that App Engine standard python3 ignores: warnings.
IGNORED_KEYS = ("beta_settings", "network", "resources", "health_check", "liveness_check", "readiness_check",
                "vm", "vm_settings", "vm_health_check", "zones", "endpoints_api_service",
                "flexible_runtime_settings", "api_config", "admin_console", "builtins", "auto_id_policy",
                "backends", "pagespeed", "nobuild_files", "source_language", "derived_file_type",
                "runtime_channel")
# Variables the platform sets itself; app.yaml values for them are ignored (§2).
PLATFORM_VARIABLES = ("PORT", "GOOGLE_CLOUD_PROJECT", "NODE_ENV")
INCLUDE_KEYS = ("handlers", "env_variables", "includes", "inbound_services", "builtins",
                "admin_console")


@dataclass(frozen=True)
class AppYaml:
    """A service's app.yaml (any file name): everything the local runner and the deploy tooling use."""

    path: Path
    runtime: str
    service: str = "default"
    entrypoint: str | None = None
    instance_class: str = "F1"
    env_variables: Mapping[str, str] = field(default_factory=dict)
    build_env_variables: Mapping[str, str] = field(default_factory=dict)
    handlers: tuple[Handler, ...] = ()
    scaling: Scaling = field(default_factory=Scaling)
    inbound_services: frozenset[str] = frozenset()
    default_expiration: int = 600
    service_account: str | None = None
    app_engine_apis: bool = False
    line_of: Mapping[str, int] = field(default_factory=dict)  # top-level key -> line, for later checks
    warnings: tuple[Problem, ...] = ()

    @property
    def root(self) -> Path:
        """The service's folder: where its code, requirements.txt and static files are."""
        return self.path.parent

    @property
    def warmup(self) -> bool:
        return "warmup" in self.inbound_services

    def line(self, key: str) -> int:
        """The line of a top-level key (1 when absent), for problems found later (requirements, deploy)."""
        return self.line_of.get(key, 1)


def _runtime(root: Node, findings: Findings, today: date) -> str:
    node = root.get("runtime")
    if node is None:
        findings.error(1, "app.yaml has no runtime", f"add `runtime: {NEWEST_RUNTIME}` as the first line")
        return NEWEST_RUNTIME
    value = get_str(node, "runtime", findings, f"write e.g. `runtime: {NEWEST_RUNTIME}`") or ""
    line = node.key_line
    if value in RUNTIMES:
        end, _deprecated = RUNTIMES[value]
        if today >= end:
            findings.error(line, f"runtime {value} reached end of support on {end.isoformat()}: App Engine "
                           "refuses new deploys", f"move to a supported runtime, e.g. `runtime: {NEWEST_RUNTIME}`")
        elif (end - today).days <= NOTICE_DAYS:
            findings.warn(line, f"runtime {value} reaches end of support on {end.isoformat()}",
                          f"plan the move to `runtime: {NEWEST_RUNTIME}`")
    elif value in PREVIEW_RUNTIMES:
        findings.warn(line, f"runtime {value} is at most a preview (not confirmed as available)",
                      f"use `runtime: {NEWEST_RUNTIME}` unless your project has the preview")
    elif value in ("python", "python27", "python-compat"):
        findings.error(line, f"runtime {value} is a first-generation runtime this kit does not deploy",
                       f"use `runtime: {NEWEST_RUNTIME}`")
    else:
        guess = did_you_mean(value, list(RUNTIMES))
        findings.error(line, f"runtime {value!r} is not an App Engine standard Python 3 runtime",
                       f"did you mean `{guess}`?" if guess else f"use e.g. `runtime: {NEWEST_RUNTIME}`")
    return value or NEWEST_RUNTIME


def _service(root: Node, findings: Findings) -> str:
    node, alias = root.get("service"), root.get("module")
    if node is not None and alias is not None:
        findings.error(alias.key_line, "both service and module are set", "keep only `service:`")
    elif alias is not None:
        findings.warn(alias.key_line, "`module:` is the deprecated name of `service:`", "rename it to `service:`")
        node = alias
    if node is None:
        return "default"
    value = get_str(node, "service", findings, "write e.g. `service: api`") or "default"
    if not SERVICE_ID.fullmatch(value):
        findings.error(node.key_line, f"service {value!r} is not a valid service id",
                       "use 1-63 lower-case letters, digits and -, not starting or ending with -")
    elif "-dot-" in value:
        findings.error(node.key_line, f"service {value!r} contains -dot-", "choose a name without -dot-")
    return value


def version_problems(version: str, service: str = "default", project: str | None = None) -> list[str]:
    """What App Engine refuses in a version id (§5.1), for `--version` checks by the deploy tooling."""
    found = []
    if not VERSION_ID.fullmatch(version):
        found.append("use 1-63 lower-case letters, digits and -, not starting or ending with -")
    if "-dot-" in version:
        found.append("must not contain -dot-")
    if version.startswith("ah-builtin"):
        found.append("must not start with ah-builtin")
    if project is not None and len(f"{version}-dot-{service}-dot-{project}") > 63:
        found.append(f"{version}-dot-{service}-dot-{project} is longer than 63 characters")
    return found


def _variables(node: Node | None, what: str, findings: Findings, check_names: bool) -> dict[str, str]:
    block = expect_map(node, what, findings, f"`{what}:` with one `NAME: value` per indented line")
    if block is None:
        return {}
    values: dict[str, str] = {}
    for name, child in block.entries.items():
        if check_names and (not ENV_KEY.fullmatch(name) or name.startswith("GAE")):
            findings.error(child.key_line, f"{what} key {name!r} is not allowed",
                           "use letters, digits and _ (not starting with a digit, and not with GAE)")
            continue
        if check_names and name in PLATFORM_VARIABLES:
            findings.warn(child.key_line, f"{name} is set by App Engine; this value is ignored there",
                          f"remove {name} from {what}")
        if not child.is_scalar or child.value is None:
            findings.error(child.key_line, f"{what}[{name!r}] is {child.describe()}, not a plain value",
                           "give it a text value, quoted if needed (empty: \"\")")
            continue
        values[name] = child.text if not isinstance(child.value, str) else child.value
    return values


def _string_list(node: Node | None, what: str, allowed: tuple[str, ...], findings: Findings) -> list[str]:
    found = []
    for item in expect_list(node, what, findings, f"a list of names, e.g. `{what}: [{allowed[0]}]`"):
        name = item.text if item.is_scalar else ""
        if name not in allowed:
            guess = did_you_mean(name, allowed)
            findings.error(item.line, f"{what} has an unknown entry {item.describe()}",
                           f"did you mean `{guess}`?" if guess else f"use names from: {', '.join(allowed)}")
        else:
            found.append(name)
    return found


def _error_handlers(node: Node | None, root_dir: Path, findings: Findings) -> None:
    for item in expect_list(node, "error_handlers", findings, "a list of `- file: errors/quota.html` entries"):
        entry = expect_map(item, "an error_handlers entry", findings, "`- file: PATH` with optional error_code")
        if entry is None:
            continue
        check_keys(entry, ("error_code", "file", "mime_type"), "an error_handlers entry", findings)
        code = entry.get("error_code")
        if code is not None and (not code.is_scalar or code.text not in ERROR_CODES):
            findings.error(code.key_line, f"error_code is {code.describe()}", f"use one of {', '.join(ERROR_CODES)}")
        file_node = entry.get("file")
        if file_node is None:
            findings.error(entry.line, "an error handler needs a file", "add `file: PATH` (a static file)")
            continue
        name = get_str(file_node, "file", findings, "write the file's path")
        path = root_dir / name if name else None
        if path is not None and path.is_file() and path.stat().st_size >= 10240:
            findings.error(file_node.key_line, f"error handler file {name!r} is {path.stat().st_size} bytes; "
                           "the limit is 10 KB", "make the page smaller (link to images and CSS)")
        elif path is not None and not path.is_file():
            findings.warn(file_node.key_line, f"error handler file {name!r} does not exist",
                          "create it or correct the path")


def _vpc(root: Node, findings: Findings) -> None:
    node = root.get("vpc_access_connector")
    block = expect_map(node, "vpc_access_connector", findings, "`name: projects/P/locations/R/connectors/C`")
    if block is not None:
        check_keys(block, ("name", "egress_setting"), "vpc_access_connector", findings)
        name = block.get("name")
        if name is None:
            findings.error(block.key_line, "vpc_access_connector needs a name",
                           "add `name: projects/PROJECT/locations/REGION/connectors/NAME`")
        elif not (name.is_scalar and _CONNECTOR.fullmatch(name.text)):
            findings.error(name.key_line, f"vpc_access_connector name {name.describe()} is not a connector path",
                           "write projects/PROJECT/locations/REGION/connectors/NAME")
        egress = block.get("egress_setting")
        if egress is not None and egress.text not in ("private-ranges-only", "all-traffic"):
            findings.error(egress.key_line, f"egress_setting is {egress.describe()}",
                           "use private-ranges-only or all-traffic")
    direct = expect_map(root.get("vpc_access"), "vpc_access", findings, "`network_interface:` and `vpc_egress:`")
    if direct is not None:
        check_keys(direct, ("network_interface", "vpc_egress"), "vpc_access", findings)
        findings.warn(direct.key_line, "vpc_access (Direct VPC) on App Engine standard is not confirmed",
                      "prefer vpc_access_connector unless Google documents Direct VPC for your runtime")
        iface = expect_map(direct.get("network_interface"), "network_interface", findings, "`network: NAME`")
        if iface is not None:
            check_keys(iface, ("network", "subnet", "tags"), "network_interface", findings)
        egress = direct.get("vpc_egress")
        if egress is not None and egress.text not in ("private-ranges-only", "all-traffic"):
            findings.error(egress.key_line, f"vpc_egress is {egress.describe()}",
                           "use private-ranges-only or all-traffic")


def _include_path(text: str, base: Path, app_dir: Path) -> Path | None:
    """An include's file: relative to the including file, then the app folder, then the cwd (§5.1)."""
    for folder in (base, app_dir, Path.cwd()):
        candidate = folder / text
        if candidate.is_dir():
            candidate = candidate / "include.yaml"
        if candidate.is_file():
            return candidate
    return None


def _includes(node: Node | None, base: Path, app_dir: Path, findings: Findings, seen: set[Path],
              head: list[tuple[Node, Findings]], tail: list[tuple[Node, Findings]], env: dict[str, str]) -> None:
    """Merge included files client-side as gcloud does: their handlers go first, or last with `position: tail`."""
    for item in expect_list(node, "includes", findings, "a list of paths, e.g. `includes: [common.yaml]`"):
        text = get_str(item, "an includes entry", findings, "write the included file's path")
        if text is None:
            continue
        path = _include_path(text, base, app_dir)
        if path is None:
            findings.error(item.line, f"included file {text!r} was not found",
                           "give a path relative to app.yaml (a folder must hold include.yaml)")
            continue
        path = path.resolve()
        if path in seen:
            continue
        seen.add(path)
        sub = findings.for_file(path)
        root = expect_map(read_yaml(path, sub), "an included file", sub, "`handlers:` and `env_variables:`")
        if root is None:
            continue
        check_keys(root, INCLUDE_KEYS, "an included file", sub)
        _includes(root.get("includes"), path.parent, app_dir, sub, seen, head, tail, env)
        for handler in expect_list(root.get("handlers"), "handlers", sub, "a list of `- url: ...` entries"):
            position = handler.get("position") if handler.is_map else None
            (tail if position is not None and position.text == "tail" else head).append((handler, sub))
        env.update(_variables(root.get("env_variables"), "env_variables", sub, True))


def read_app_yaml_node(root: Node, path: Path, findings: Findings, today: date) -> AppYaml:
    """Every §5.1 rule over a parsed app.yaml; problems land in `findings`."""
    for key, child in root.entries.items():
        if key in REFUSED_KEYS:
            problem, fix = REFUSED_KEYS[key]
            findings.error(child.key_line, problem, fix)
        elif key in IGNORED_KEYS:
            findings.warn(child.key_line, f"`{key}:` is not used by App Engine standard python3", "remove it")
    check_keys(root, KNOWN_KEYS, "app.yaml", findings, handled=(*REFUSED_KEYS, *IGNORED_KEYS))
    runtime = _runtime(root, findings, today)
    service = _service(root, findings)
    env_node = root.get("env")
    if env_node is not None and env_node.text != "standard":
        findings.error(env_node.key_line, f"env is {env_node.describe()}: App Engine flexible is not what this "
                       "kit deploys", "remove `env:` (standard is the default)")
    for key, fix in (("runtime_config", "remove it (flexible only)"), ("main", "remove it (Go only)")):
        if key in root.entries:
            findings.warn(root.entries[key].key_line, f"`{key}:` is ignored by App Engine standard python3", fix)
    entry_node = root.get("entrypoint")
    entrypoint = get_str(entry_node, "entrypoint", findings,
                         "write e.g. `entrypoint: gunicorn -b :$PORT main:app`, or remove it")
    if entry_node is not None and entrypoint is not None and not entrypoint.strip():
        findings.error(entry_node.key_line, "entrypoint is empty",
                       "write e.g. `entrypoint: gunicorn -b :$PORT main:app`, or remove it")
        entrypoint = None
    if entrypoint and re.search(r"(^|[\s:=])8080\b", entrypoint) and "$PORT" not in entrypoint:
        findings.warn(entry_node.key_line if entry_node else 1, "the entrypoint binds port 8080 literally",
                      "bind $PORT (e.g. `-b :$PORT`): App Engine's front layer needs its own port")
    scaling = read_scaling(root, findings)
    instance_class = check_instance_class(root.get("instance_class"), scaling, findings)
    env = _variables(root.get("env_variables"), "env_variables", findings, True)
    check_env_secrets(root.get("env_variables"), findings)  # deploy/secret_rules.py: references, not values
    build_env = _variables(root.get("build_env_variables"), "build_env_variables", findings, False)
    expiration = 600
    exp_node = root.get("default_expiration")
    if exp_node is not None:
        seconds = parse_duration(exp_node.text) if exp_node.is_scalar else None
        if seconds is None:
            findings.error(exp_node.key_line, f"default_expiration is {exp_node.describe()}, not a duration",
                           'write e.g. "4d 5h 30m 15s" (units d, h, m, s; a bare number is seconds)')
        else:
            expiration = seconds
    head: list[tuple[Node, Findings]] = []
    tail: list[tuple[Node, Findings]] = []
    included_env: dict[str, str] = {}
    _includes(root.get("includes"), path.parent, path.parent, findings, {path.resolve()}, head, tail,
              included_env)
    own = expect_list(root.get("handlers"), "handlers", findings, "a list of `- url: ...` entries")
    included = {id(node) for node, _ in head + tail}
    handlers = read_handlers(head + [(h, findings) for h in own] + tail, path.parent, findings, included)
    if handlers and not any(h.kind == "script" for h in handlers):
        if entrypoint is None and not (path.parent / "main.py").is_file():
            findings.error(root.entries["handlers"].key_line if "handlers" in root.entries else 1,
                           "only static handlers and no app: App Engine needs a `script: auto` handler "
                           "or an entrypoint", "add `- url: /.*` with `script: auto`, or an entrypoint")
        else:
            findings.warn(root.entries["handlers"].key_line if "handlers" in root.entries else 1,
                          "no `script: auto` handler: where App Engine sends paths that match no handler "
                          "is not confirmed", "end the list with `- url: /.*` and `script: auto`")
    inbound = _string_list(root.get("inbound_services"), "inbound_services", INBOUND_SERVICES, findings)
    apis = get_bool(root.get("app_engine_apis"), "app_engine_apis", findings) or False
    bundled_node = root.get("app_engine_bundled_services")
    _string_list(bundled_node, "app_engine_bundled_services", BUNDLED_SERVICES, findings)
    if "warmup" in inbound and scaling.kind != "automatic":
        findings.warn(root.entries["inbound_services"].key_line, f"warmup requests are only sent on automatic "
                      f"scaling; this service uses {scaling.kind} scaling", "handle /_ah/start instead, or remove warmup")
    for name in inbound:
        if name != "warmup" and not apis:
            findings.warn(root.entries["inbound_services"].key_line, f"inbound service {name!r} needs the "
                          "legacy bundled services", "set `app_engine_apis: true` or remove it")
    _error_handlers(root.get("error_handlers"), path.parent, findings)
    account_node = root.get("service_account")
    account = get_str(account_node, "service_account", findings, "write the service account's email")
    if account_node is not None and account is not None and not _EMAIL.fullmatch(account):
        findings.error(account_node.key_line, f"service_account {account!r} is not an email address",
                       "write NAME@PROJECT.iam.gserviceaccount.com")
    _vpc(root, findings)
    get_bool(root.get("standard_websocket"), "standard_websocket", findings)
    merged_env = {**included_env, **env}
    return AppYaml(
        path=path, runtime=runtime, service=service, entrypoint=entrypoint, instance_class=instance_class,
        env_variables=merged_env, build_env_variables=build_env, handlers=handlers, scaling=scaling,
        inbound_services=frozenset(inbound), default_expiration=expiration, service_account=account,
        app_engine_apis=apis, line_of={k: v.key_line for k, v in root.entries.items()},
    )


def load_app_yaml(path: Path | str, *, today: date | None = None) -> AppYaml:
    """Read and check a service file; ConfigError lists every problem (FILE:LINE), warnings ride on the model.

    `today` decides which runtimes are past end of support (tests pin it).
    """
    path = Path(path)
    findings = Findings(path)
    root = expect_map(read_yaml(path, findings), "the top level of app.yaml", findings,
                      "`runtime: python313` and other `key: value` lines")
    if root is None:
        findings.raise_if_errors()
        root = Node("map", 1, 1)
    config = read_app_yaml_node(root, path, findings, today or date.today())
    findings.raise_if_errors()
    return replace(config, warnings=findings.warnings())
