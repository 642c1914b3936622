"""Templates, sessions and the CLI cost nothing for an app that does not use them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

from tests.support.procs import REPO_ROOT

HEAVY = ("jinja2", "itsdangerous", "click", "framework.templating", "framework.sessions", "framework.cli")


def run_probe(body: str) -> dict[str, bool]:
    script = textwrap.dedent(body) + textwrap.dedent(
        f"""
        import json, sys
        print(json.dumps({{name: name in sys.modules for name in {HEAVY!r}}}))
        """
    )
    env = {k: v for k, v in os.environ.items() if k not in ("GAE_ENV", "K_SERVICE")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_plain_app_with_blueprints_and_views_imports_none_of_them() -> None:
    loaded = run_probe(
        """
        from werkzeug.test import create_environ

        from framework import App, Blueprint
        from framework.views import MethodView

        app = App(__name__)
        bp = Blueprint("bp", __name__, url_prefix="/bp")

        class Item(MethodView):
            def get(self):
                return "item"

        bp.add_url_rule("/item", view_func=Item.as_view("item"))
        app.register_blueprint(bp)

        @app.route("/")
        def index():
            return {"ok": True}

        response = app.test_client().get("/")
        assert response.status_code == 200 and response.json == {"ok": True}
        statuses = []
        body = b"".join(app(create_environ("/bp/item"), lambda status, headers: statuses.append(status)))
        b"".join(app(create_environ("/static/missing.css"), lambda status, headers: statuses.append(status)))
        assert body == b"item" and statuses == ["200 OK", "404 NOT FOUND"]
        """
    )
    assert loaded == dict.fromkeys(HEAVY, False)


def test_the_probe_can_see_them_when_used() -> None:
    loaded = run_probe(
        """
        from framework import App, render_template_string, session
        app = App(__name__)
        app.secret_key = "probe-secret-key-long-enough"

        @app.route("/")
        def index():
            session["x"] = 1
            return render_template_string("{{ 1 }}")

        assert app.test_client().get("/").text == "1"
        """
    )
    assert loaded["jinja2"] and loaded["itsdangerous"] and loaded["framework.templating"]
    assert loaded["framework.sessions"] and not loaded["click"]
