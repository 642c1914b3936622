"""A real Flask app and a framework app with the same extension (Flask-Login) in one process.

Run as `python side_by_side.py ORDER`: "framework-first" imports framework and serves a request
before flask is imported at all; "framework-package-first" imports only the framework package before
flask; "flask-first" imports flask and the extension before framework.
Prints one JSON line of what each app saw; exits non-zero on any mismatch.
"""

from __future__ import annotations

import json
import sys
import typing as t

order = sys.argv[1]
if order == "framework-first":
    import framework

    early = framework.App("early")
    early.add_url_rule("/", "i", lambda: "early")
    assert early.test_client().get("/").get_data() == b"early"
    assert "flask" not in sys.modules
elif order == "framework-package-first":  # framework imported, but not its contexts, before flask
    import framework

    assert "framework.globals" not in sys.modules

import flask  # noqa: E402
import flask.globals  # noqa: E402
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user  # noqa: E402

import framework  # noqa: E402
import framework.globals  # noqa: E402

seen: list[str] = []


class User(UserMixin):
    def __init__(self, uid: str) -> None:
        self.id = uid


def build(app: flask.Flask | framework.App, label: str) -> None:
    app.secret_key = f"test-only-secret-key-{label}-0123456789"
    manager = LoginManager(app)
    manager.user_loader(lambda uid: User(uid))

    @app.route("/login/<uid>")
    def login(uid: str) -> str:
        login_user(User(f"{label}:{uid}"))
        return "ok"

    @app.route("/me")
    @login_required
    def me() -> dict[str, str]:
        seen.append(f"{label} sees {flask.current_app.name}")
        return {"user": current_user.id, "app": flask.current_app.name, "path": flask.request.path}

    @app.route("/nested")
    def nested() -> dict[str, str]:
        other = apps["framework" if label == "flask" else "flask"]
        inner = other.test_client().get("/plain").get_data(as_text=True)
        # after the other app's request, this app's contexts are current again
        return {"inner": inner, "after": flask.current_app.name, "g": flask.g.get("mark", "")}

    @app.route("/plain")
    def plain() -> str:
        return f"{label}:{flask.current_app.name}:{flask.request.path}"

    @app.before_request
    def mark() -> None:
        flask.g.mark = label


apps: dict[str, t.Any] = {}
apps["flask"] = flask.Flask("real_flask")
apps["framework"] = framework.App("ours")
for label, app in apps.items():
    build(app, label)

clients = {label: app.test_client() for label, app in apps.items()}
out: dict[str, t.Any] = {}
for label in ("flask", "framework", "flask", "framework"):
    c = clients[label]
    assert c.get("/me").status_code == 401, label
for label, c in clients.items():
    assert c.get(f"/login/{label[0]}").get_data() == b"ok"
for label, c in clients.items():
    out[f"{label}/me"] = c.get("/me").get_json()
    out[f"{label}/nested"] = c.get("/nested").get_json()
assert not flask.has_app_context() and not flask.has_request_context()
assert flask.globals._cv_app is framework.globals._cv_app  # one set of contexts
out["seen"] = seen
print(json.dumps(out, sort_keys=True))
