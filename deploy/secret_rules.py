"""The `check` rule for secrets in app.yaml's env_variables: SECRET_KEY and the keys FRAMEWORK_SECRETS marks
must be `secret://` references to Secret Manager (framework.secrets), never the value.

A placeholder or weak literal is an error (it would stop the app on Google's hosts anyway); a literal that
looks random is a warning: it works, but it is uploaded with the code and readable by anyone who can read
the app's configuration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from framework import secrets

if TYPE_CHECKING:
    from deploy.config.yaml_nodes import Findings, Node

_REFERENCE_FIX = (
    "keep the value in Secret Manager and write only its reference: {name}: "
    "\"secret://projects/PROJECT/secrets/NAME/versions/latest\" (or \"secret://NAME\" for the app's project). "
    "Generate a key with: " + secrets.GENERATE_COMMAND + " | gcloud secrets create NAME --data-file=-"
)


def _marked(block: Node) -> set[str]:
    names = {f"FRAMEWORK_{key}" for key in secrets.ALWAYS_SECRET}
    marker = block.entries.get(secrets.MARKER_VARIABLE)
    if marker is not None and marker.is_scalar and isinstance(marker.value, str):
        env = {secrets.MARKER_VARIABLE: marker.value}
        names.update(f"FRAMEWORK_{key}" for key in secrets.marked_keys(env))
    return names


def check_env_secrets(block: Node | None, findings: Findings) -> None:
    """Add a problem for each secret in the env_variables mapping `block` that is not a reference."""
    if block is None or not block.is_map:
        return
    flag = block.entries.get(secrets.PREFLIGHT_VARIABLE)
    if flag is not None:
        findings.error(flag.key_line, f"{secrets.PREFLIGHT_VARIABLE} replaces every secret by a random stand-in; "
                       "only `python -m deploy preflight` sets it", f"remove {secrets.PREFLIGHT_VARIABLE}")
    for name in sorted(_marked(block), key=lambda n: block.entries[n].key_line if n in block.entries else 0):
        node = block.entries.get(name)
        if node is None or not node.is_scalar:
            continue
        value = node.text if not isinstance(node.value, str) else node.value
        fix = _REFERENCE_FIX.format(name=name)
        if secrets.is_reference(value):
            try:
                secrets.parse_reference(value, "PROJECT")
            except secrets.SecretError as exc:
                findings.error(node.key_line, f"{name}: {exc}", fix)
            continue
        reason = secrets.weak_key_reason(value) if name == "FRAMEWORK_SECRET_KEY" else None
        if name == "FRAMEWORK_SECRET_KEY" and reason is not None:
            findings.error(node.key_line, f"{name} holds a weak key: {reason.removeprefix('SECRET_KEY ')}; "
                           "the app refuses to start with it on Google's hosts", fix)
        elif name != "FRAMEWORK_SECRET_KEY" and not value:
            findings.error(node.key_line, f"{name} is marked secret ({secrets.MARKER_VARIABLE}) but empty", fix)
        else:
            findings.warn(node.key_line, f"{name} holds the secret itself: it is uploaded with the code", fix)
