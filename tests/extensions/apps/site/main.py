"""A small notes site built on framework.App with five unmodified Flask extensions, each set up the
way its own documentation shows (`LoginManager(app)`, `CSRFProtect(app)`, `CORS(app)`,
`SQLAlchemy(app)`, `Cache(app)`), and a JSON API on a `flask.Blueprint`.

Served by the tests through the test client, gunicorn (`main:app`) and functions-framework
(`--target http_function`). SITE_DATABASE_URI picks the database (in-memory SQLite by default);
SITE_FRAMEWORK=flask builds the same site on real Flask, as the oracle of test_parity.py.
"""

from __future__ import annotations

import os

import flask
from flask_caching import Cache
from flask_cors import CORS
from flask_login import LoginManager, UserMixin, current_user, login_required, login_user, logout_user
from flask_sqlalchemy import SQLAlchemy
from flask_wtf import CSRFProtect, FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

if os.environ.get("SITE_FRAMEWORK") == "flask":  # the oracle of tests/extensions/test_parity.py
    from flask import Flask as App
    from flask import redirect, render_template, request, url_for
else:
    from framework import App, redirect, render_template, request, url_for

app = App(__name__)
app.config.update(
    SECRET_KEY=os.environ.get("SITE_SECRET_KEY", "test-only-secret-key-0123456789"),
    SQLALCHEMY_DATABASE_URI=os.environ.get("SITE_DATABASE_URI", "sqlite://"),
    CACHE_TYPE="SimpleCache",
    CACHE_DEFAULT_TIMEOUT=300,
)

db = SQLAlchemy(app)
login_manager = LoginManager(app)
login_manager.login_view = "login"
login_manager.blueprint_login_views = {"api": None}  # the API answers 401 instead of redirecting
csrf = CSRFProtect(app)
cors = CORS(app, resources={r"/api/*": {"origins": ["https://client.example"]}}, supports_credentials=True)
cache = Cache(app)

# Counts view runs per process, so tests can see what the cache spared.
runs: dict[str, int] = {}


class User(UserMixin, db.Model):  # type: ignore[name-defined,misc]
    id = db.Column(db.Integer, primary_key=True)
    name = db.Column(db.String(20), unique=True, nullable=False)
    password = db.Column(db.String(50), nullable=False)


class Note(db.Model):  # type: ignore[name-defined,misc]
    id = db.Column(db.Integer, primary_key=True)
    text = db.Column(db.String(200), nullable=False)
    owner = db.Column(db.String(20), nullable=False)


with app.app_context():
    db.create_all()
    if db.session.execute(db.select(User).filter_by(name="ada")).scalar_one_or_none() is None:
        db.session.add(User(name="ada", password="lovelace"))
        db.session.commit()


@login_manager.user_loader
def load_user(user_id: str) -> User | None:
    return db.session.get(User, int(user_id))


class LoginForm(FlaskForm):
    name = StringField("name", validators=[DataRequired(), Length(min=3, max=20)])
    password = PasswordField("password", validators=[DataRequired()])


@app.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = None
    if form.validate_on_submit():
        user = db.session.execute(db.select(User).filter_by(name=form.name.data)).scalar_one_or_none()
        if user is not None and user.password == form.password.data:
            login_user(user)
            flask.flash(f"Welcome, {user.name}")
            return redirect(request.args.get("next") or url_for("home"))
        error = "unknown user or wrong password"
    status = 200 if request.method == "GET" or error else 422
    return render_template("login.html", form=form, error=error), status


@app.get("/")
def home():
    return render_template("home.html")


@app.get("/private")
@login_required
def private():
    return f"private page of {current_user.name}"


@app.post("/logout")
@login_required
def logout():
    logout_user()
    return redirect(url_for("home"))


api = flask.Blueprint("api", __name__, url_prefix="/api")
csrf.exempt(api)  # token-less JSON clients; the blueprint is a real flask.Blueprint


@api.get("/me")
@login_required
def me():
    return flask.jsonify(name=current_user.name)


@api.post("/notes")
def add_note():
    data = request.get_json(silent=True) or {}
    text = data.get("text")
    if not isinstance(text, str) or not text:
        flask.abort(400, description="a note needs a non-empty 'text'")
    note = Note(text=text, owner=current_user.name if current_user.is_authenticated else "anonymous")
    db.session.add(note)
    db.session.commit()
    return {"id": note.id, "text": note.text, "owner": note.owner}, 201


@api.get("/notes")
def list_notes():
    notes = db.session.execute(db.select(Note).order_by(Note.id)).scalars()
    return {"notes": [{"id": n.id, "text": n.text} for n in notes]}


@api.get("/notes/<int:note_id>")
def get_note(note_id: int):
    note = db.get_or_404(Note, note_id, description="no such note")
    return {"id": note.id, "text": note.text, "owner": note.owner}


@api.get("/report")
@cache.cached(timeout=60, query_string=True)
def report():
    runs["report"] = runs.get("report", 0) + 1
    return {"pid": os.getpid(), "run": runs["report"], "args": request.args.to_dict()}


@api.get("/runs")
def run_counts():
    return dict(runs)


app.register_blueprint(api)

if not isinstance(app, flask.Flask):
    from framework.adapters.cloud_functions import http

    http_function = http(app)
