"""On/off switches from the environment or the config, read by one rule everywhere.

The rule: `1`, `true`, `yes`, `on` mean on; `0`, `false`, `no`, `off` mean off (any case, surrounding
spaces ignored); an empty or missing value means "not set" (the switch's default); anything else is a
FlagError naming the variable, the value and the accepted words, rather than a silent guess. Config
values that are already booleans pass through. Imports nothing heavy: `import framework` uses it.
"""

from __future__ import annotations

import os
import typing as t

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


class FlagError(ValueError):
    """A switch set to a value that is neither an on nor an off word."""


def parse_flag(value: object, name: str) -> bool | None:
    """`value` as True / False, or None when unset (None or empty text); `name` is for the error."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        word = value.strip().lower()
        if not word:
            return None
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise FlagError(
            f"{name}={value!r} is not an on/off value: use 1, true, yes or on to turn it on, and 0, false,"
            " no or off to turn it off (or leave it unset for the default)."
        )
    if isinstance(value, int):
        return bool(value)
    raise FlagError(f"{name} must be a boolean or one of 1/true/yes/on, 0/false/no/off; got {value!r}.")


def env_flag(*names: str, default: bool = False, environ: t.Mapping[str, str] | None = None) -> bool:
    """The first of `names` set (non-empty) in the environment, by the rule above; else `default`."""
    env = os.environ if environ is None else environ
    for name in names:
        parsed = parse_flag(env.get(name), name)
        if parsed is not None:
            return parsed
    return default


def config_flag(config: t.Mapping[str, t.Any], key: str) -> bool | None:
    """A config switch as True / False, or None when unset (strings from env files follow the rule)."""
    return parse_flag(config.get(key), key)
