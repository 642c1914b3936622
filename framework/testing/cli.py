"""`app.test_cli_runner()`: click's CliRunner that invokes the app's commands with the app preloaded."""

from __future__ import annotations

import typing as t

from click.testing import CliRunner, Result

from ..cli import ScriptInfo

if t.TYPE_CHECKING:  # pragma: no cover
    from ..app import App


class FrameworkCliRunner(CliRunner):
    """Runs CLI commands of `app` in isolation (captured output, temporary environment)."""

    def __init__(self, app: App, **kwargs: t.Any) -> None:
        self.app = app
        super().__init__(**kwargs)

    def invoke(self, cli: t.Any = None, args: t.Any = None, **kwargs: t.Any) -> Result:  # type: ignore[override]
        """Invoke `cli` (default: `app.cli`) with `args`; the app is given to the command as its ScriptInfo."""
        if cli is None:
            cli = self.app.cli
        if "obj" not in kwargs:
            kwargs["obj"] = ScriptInfo(create_app=lambda: self.app)
        return super().invoke(cli, args, **kwargs)


#: Flask's name for the runner.
FlaskCliRunner = FrameworkCliRunner
