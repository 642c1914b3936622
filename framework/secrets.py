"""Secrets in config: `secret://` references resolved from Secret Manager on Google's hosts (from the
environment or `.env` locally), and the startup check that refuses a missing or weak SECRET_KEY there.

A config value `secret://projects/P/secrets/NAME/versions/V` (or the short `secret://NAME`, meaning the
app's own project and version `latest`) is a reference: app.yaml holds it, never the value. Keys listed in
`FRAMEWORK_SECRETS=KEY1,KEY2` (and SECRET_KEY always) are secrets: on Google's hosts each must be present
at startup, and `python -m deploy check` refuses a literal value for them in app.yaml.
Only the standard library is imported here; the Secret Manager client loads on the first fetch.
"""

from __future__ import annotations

import collections
import math
import os
import threading
import typing as t
from pathlib import Path

from .lazy import lazy_pattern
from .platform import detect, on_google_host
from .records import Record

REFERENCE_PREFIX = "secret://"
#: Config keys that are secrets whatever FRAMEWORK_SECRETS says.
ALWAYS_SECRET = ("SECRET_KEY",)
#: The environment variable listing the other config keys that hold secrets.
MARKER_VARIABLE = "FRAMEWORK_SECRETS"
#: Set by `python -m deploy preflight` (a production-like boot on loopback): references get random stand-ins
#: instead of a Secret Manager call, so the boot makes no request to Google.
PREFLIGHT_VARIABLE = "FRAMEWORK_PREFLIGHT"
GENERATE_COMMAND = 'python -c "import secrets; print(secrets.token_urlsafe(48))"'
#: Shortest key accepted on Google's hosts (characters of text, or bytes of a bytes key).
MIN_KEY_LENGTH = 32
#: Least Shannon entropy per character: 32 random hex digits stay above 2.85 (measured over 100,000 keys).
MIN_BITS_PER_CHAR = 2.75
#: Words that mark a key as written by a person; six letters or more, so random keys never hit one by chance.
PLACEHOLDER_WORDS = (
    "secret", "change", "password", "passwd", "example", "replace", "placeholder", "default", "sample",
    "insecure", "unsafe", "dummy", "please", "session", "signing", "develop", "testing", "letmein", "qwerty",
    "123456", "abcdef",
)
#: Whole values that are well-known examples, whatever their length.
PLACEHOLDER_KEYS = frozenset({
    "change-me", "changeme", "change_me", "changethis", "dev", "development", "secret", "secret-key",
    "secret_key", "secretkey", "your-secret-key", "your_secret_key", "replace-me", "test", "testing",
    "default", "password", "key", "xxx", "todo",
})
_HOW_TO_FIX = (
    "Generate a key with: " + GENERATE_COMMAND + " ; keep it in Secret Manager (gcloud secrets create NAME "
    "--data-file=-) and put only its reference in app.yaml: FRAMEWORK_SECRET_KEY: "
    "\"secret://projects/PROJECT/secrets/NAME/versions/latest\". Locally, put FRAMEWORK_SECRET_KEY=... in .env "
    "(never uploaded) or export it."
)
# Secret ids are 1-255 of [A-Za-z0-9_-]; a version is a number, `latest` or an alias (same characters).
# Project ids (or numbers, or domain:project) are left loose but may hold no space or slash.
_REFERENCE = lazy_pattern(
    r"^(?:projects/(?P<project>[^/\s]+)/secrets/(?P<secret>[A-Za-z0-9_-]{1,255})|(?P<short>[A-Za-z0-9_-]{1,255}))"
    r"(?:/versions/(?P<version>[A-Za-z0-9_-]{1,255}))?$"
)


class SecretError(RuntimeError):
    """A secret reference that is malformed or cannot be resolved; the message says how to fix it."""


class SecretKeyError(RuntimeError):
    """SECRET_KEY (or a marked secret) is missing or weak on Google's hosts: the app must not start."""


class SecretReference(Record):
    """A Secret Manager secret version named by a `secret://` value."""

    __slots__ = ("project", "secret", "version")

    project: str
    secret: str
    version: str

    def __init__(self, project: str, secret: str, version: str = "latest") -> None:
        self._fill(project, secret, version)

    @property
    def name(self) -> str:
        """The resource name Secret Manager's AccessSecretVersion takes."""
        return f"projects/{self.project}/secrets/{self.secret}/versions/{self.version}"


def is_reference(value: object) -> bool:
    """Whether `value` is a `secret://` reference (not a secret itself)."""
    return isinstance(value, str) and value.startswith(REFERENCE_PREFIX)


def parse_reference(value: str, project: str | None = None) -> SecretReference:
    """Parse `secret://projects/P/secrets/N[/versions/V]` or `secret://N[/versions/V]` (project: `project`)."""
    match = _REFERENCE.match(value.removeprefix(REFERENCE_PREFIX)) if is_reference(value) else None
    if match is None:
        raise SecretError(
            f"{value!r} is not a secret reference. Write secret://projects/PROJECT/secrets/NAME/versions/latest "
            "(or secret://NAME for the app's own project)."
        )
    if match["short"]:
        if not project:
            raise SecretError(
                f"{value!r} names no project and none is known here (GOOGLE_CLOUD_PROJECT is unset). "
                "Write secret://projects/PROJECT/secrets/NAME/versions/latest."
            )
        return SecretReference(project, match["short"], match["version"] or "latest")
    return SecretReference(match["project"], match["secret"], match["version"] or "latest")


# --- Secret Manager ------------------------------------------------------------------------------------
_fetched: dict[str, str] = {}
_fetch_lock = threading.Lock()


def fetch(reference: SecretReference, *, client: t.Any = None) -> str:
    """The text of a secret version from Secret Manager (once per process per version name).

    `client` is a `secretmanager.SecretManagerServiceClient`; by default one with the host's credentials.
    One trailing newline is dropped: `echo KEY | gcloud secrets create` stores one.
    """
    with _fetch_lock:
        if reference.name in _fetched:
            return _fetched[reference.name]
        if client is None:
            from google.cloud import secretmanager  # cold start: google-cloud only when a secret is fetched

            client = secretmanager.SecretManagerServiceClient()
        try:
            response = client.access_secret_version(request={"name": reference.name})
        except Exception as exc:
            raise SecretError(
                f"Secret Manager could not give {reference.name}: {exc}. Check that the secret exists "
                "(gcloud secrets versions list) and that the app's service account has "
                "roles/secretmanager.secretAccessor on it."
            ) from exc
        try:
            text = bytes(response.payload.data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SecretError(f"{reference.name} is not UTF-8 text; store the key as text.") from exc
        text = text[:-2] if text.endswith("\r\n") else text[:-1] if text.endswith("\n") else text
        _fetched[reference.name] = text
        return text


def _random_stand_in() -> str:
    import secrets as random_source  # cold start: only when a key must be made up

    return random_source.token_urlsafe(48)


# --- local values -----------------------------------------------------------------------------------------
def _dotenv_values(root: Path) -> dict[str, str]:
    path = root / ".env"
    if not path.is_file():
        return {}
    try:
        import dotenv  # cold start: only apps with a .env file pay for it
    except ImportError as exc:
        raise SecretError(
            f"{path} exists but python-dotenv is not installed to read it: pip install python-dotenv, "
            "or export the variables instead."
        ) from exc
    return {k: v for k, v in dotenv.dotenv_values(path, encoding="utf-8").items() if v is not None}


def _development_key(root: Path) -> str:
    """A random key kept in `.local/dev-secret-key` so local sessions survive restarts and span workers."""
    import secrets as random_source  # cold start: only when a key must be made up

    path = root / ".local" / "dev-secret-key"
    try:
        return path.read_text().strip() or _write_key(path, random_source.token_urlsafe(48))
    except FileNotFoundError:
        return _write_key(path, random_source.token_urlsafe(48))
    except OSError:
        return random_source.token_urlsafe(48)


def _write_key(path: Path, key: str) -> str:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path.read_text().strip() or key  # another worker wrote it first
    except OSError:
        return key
    with os.fdopen(fd, "w") as handle:
        handle.write(key + "\n")
    return key


def _local_value(key: str, reference: str, root: Path) -> str:
    """A reference's value off Google's hosts: `.env`'s FRAMEWORK_<KEY>, else (SECRET_KEY only) a dev key."""
    value = _dotenv_values(root).get(f"FRAMEWORK_{key}")
    if value is not None and not is_reference(value):
        return value
    if key == "SECRET_KEY":
        import logging  # cold start: only on this local fallback

        logging.getLogger(__name__).warning(
            "SECRET_KEY is the reference %s, which is only fetched on Google's hosts; using a local "
            "development key from %s. Put FRAMEWORK_SECRET_KEY=... in .env to use your own.",
            reference, root / ".local" / "dev-secret-key",
        )
        return _development_key(root)
    raise SecretError(
        f"{key} is the reference {reference}, which is only fetched from Secret Manager on Google's hosts. "
        f"Locally, put FRAMEWORK_{key}=<value> in {root / '.env'} (never uploaded) or export it."
    )


def _project(env: t.Mapping[str, str]) -> str | None:
    """The app's project: from the environment, else (Cloud Run functions set none) the metadata server."""
    project = detect(env).project
    if project is None:
        from .adapters.cloud_logging import metadata_project  # cold start: only without a project variable

        project = metadata_project(env)
    return project


# --- config -------------------------------------------------------------------------------------------------
def marked_keys(environ: t.Mapping[str, str] | None = None) -> tuple[str, ...]:
    """SECRET_KEY plus the config keys FRAMEWORK_SECRETS lists."""
    env = os.environ if environ is None else environ
    extra = [k.strip() for k in env.get(MARKER_VARIABLE, "").split(",") if k.strip()]
    return tuple(dict.fromkeys([*ALWAYS_SECRET, *(k.removeprefix("FRAMEWORK_") for k in extra)]))


def resolve_config(config: t.MutableMapping[str, t.Any], root: str | os.PathLike[str] | None = None, *,
                   environ: t.Mapping[str, str] | None = None, client: t.Any = None) -> list[str]:
    """Replace every top-level `secret://` value in `config` by the secret; return the keys resolved.

    On Google's hosts the value comes from Secret Manager and a weak SECRET_KEY raises SecretKeyError at
    once; elsewhere from `.env` in `root` (the app's folder), SECRET_KEY falling back to a development key.
    """
    env = os.environ if environ is None else environ
    on_google = on_google_host(env)
    base = Path(root if root is not None else getattr(config, "root_path", os.getcwd()))
    resolved = []
    for key, value in list(config.items()):
        if not is_reference(value):
            continue
        if on_google and env.get(PREFLIGHT_VARIABLE) == "1":
            parse_reference(value, detect(env).project or "preflight")  # a malformed one still fails it
            config[key] = _random_stand_in()
        elif on_google:
            config[key] = fetch(parse_reference(value, _project(env)), client=client)
        else:
            config[key] = _local_value(key, value, base)
        resolved.append(key)
    if on_google and config.get("SECRET_KEY"):
        reason = weak_key_reason(config["SECRET_KEY"])
        if reason is not None:
            raise SecretKeyError(refusal(reason))
    return resolved


# --- the weak-key rule --------------------------------------------------------------------------------------
def _bits_per_symbol(symbols: t.Sequence[object]) -> float:
    counts = collections.Counter(symbols)
    total = len(symbols)
    return -sum(n / total * math.log2(n / total) for n in counts.values())


def _longest_step_run(codes: t.Sequence[int]) -> int:
    """Length of the longest stretch like `aaaa`, `abcd` or `9876` (neighbours equal or one apart)."""
    best = run = 1
    for before, after in zip(codes, codes[1:], strict=False):
        run = run + 1 if abs(after - before) <= 1 else 1
        best = max(best, run)
    return best


def _has_repeat(text: str, size: int = 6) -> bool:
    seen = set()
    for i in range(len(text) - size + 1):
        chunk = text[i:i + size]
        if chunk in seen:
            return True
        seen.add(chunk)
    return False


def weak_key_reason(key: str | bytes | None) -> str | None:
    """Why `key` is unfit to sign anything on Google's hosts, or None when it looks random.

    Accepted: at least 32 characters (bytes for a bytes key) with the character spread of random
    material, no placeholder word, no long repeated or stepping pattern.
    """
    if not key:
        return "no SECRET_KEY is set"
    if isinstance(key, bytes | bytearray):
        try:
            text = bytes(key).decode("ascii")
        except UnicodeDecodeError:
            text = None
        symbols: t.Sequence[t.Any] = bytes(key) if text is None else text
    else:
        text = symbols = str(key)
    shown = repr(text) if text is not None and len(text) <= 40 else "the key"
    if text is not None:
        lowered = text.strip().lower()
        if lowered in PLACEHOLDER_KEYS:
            return f"SECRET_KEY {shown} is a well-known placeholder"
        for word in PLACEHOLDER_WORDS:
            if word in lowered:
                return f"SECRET_KEY {shown} is a placeholder (it contains {word!r})"
    if len(symbols) < MIN_KEY_LENGTH:
        return f"SECRET_KEY {shown} is shorter than {MIN_KEY_LENGTH} characters"
    if _bits_per_symbol(symbols) < MIN_BITS_PER_CHAR:
        return f"SECRET_KEY {shown} has too little variety to be random (too few distinct characters)"
    codes = list(symbols) if text is None else [ord(c) for c in text.lower()]
    if _longest_step_run(codes) >= 9 or (text is not None and _has_repeat(text.lower())):
        return f"SECRET_KEY {shown} contains a long repeated or sequential pattern"
    return None


def refusal(reason: str) -> str:
    """The full message for a refused key: what is wrong, how to make a key, where to keep it."""
    return f"Refusing to start on Google's hosts: {reason}. {_HOW_TO_FIX}"


def check_app(app: t.Any, environ: t.Mapping[str, str] | None = None) -> None:
    """On Google's hosts, raise SecretKeyError unless SECRET_KEY (and its fallbacks) look random and every
    key FRAMEWORK_SECRETS marks is set. An app that never signs anything opts out of the missing-key rule
    with SECRET_KEY_REQUIRED = False. Run by gunicorn.conf.py as each worker boots, before any request.
    """
    env = os.environ if environ is None else environ
    if not on_google_host(env):
        return
    config = app.config
    if any(is_reference(config.get(k)) for k in config):
        resolve_config(config, getattr(config, "root_path", None), environ=env)
    for key in marked_keys(env):
        if key != "SECRET_KEY" and config.get(key) in (None, ""):
            raise SecretKeyError(
                f"Refusing to start on Google's hosts: {key} is marked secret ({MARKER_VARIABLE}) but not set. "
                f"Put FRAMEWORK_{key}: \"secret://projects/PROJECT/secrets/NAME/versions/latest\" in app.yaml's "
                "env_variables and create the secret with gcloud secrets create NAME --data-file=-."
            )
    key = config.get("SECRET_KEY")
    if not key and config.get("SECRET_KEY_REQUIRED", True) is False:
        return
    reason = weak_key_reason(key)
    if reason is None:
        for old in config.get("SECRET_KEY_FALLBACKS") or ():
            reason = weak_key_reason(old)
            if reason is not None:
                reason = "SECRET_KEY_FALLBACKS entry: " + reason
                break
    if reason is not None:
        if not key:
            reason += " (an app that never uses sessions or signing can set SECRET_KEY_REQUIRED = False)"
        raise SecretKeyError(refusal(reason))
