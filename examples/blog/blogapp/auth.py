"""Registration, login and logout; `g.user` for every request; the `login_required` decorator."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from werkzeug.security import check_password_hash, generate_password_hash

from framework import Blueprint, flash, g, redirect, render_template, request, session, url_for

from . import db

bp = Blueprint("auth", __name__, url_prefix="/auth")


def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
    """Send anonymous visitors to the login page."""

    @functools.wraps(view)
    def wrapped(**kwargs: Any) -> Any:
        if g.user is None:
            flash("Please log in first.", "error")
            return redirect(url_for("auth.login"))
        return view(**kwargs)

    return wrapped


@bp.before_app_request
def load_logged_in_user() -> None:
    user_id = session.get("user_id")
    g.user = None
    if user_id is not None:
        g.user = next((u for u in db.load()["users"] if u["id"] == user_id), None)


@bp.route("/register", methods=("GET", "POST"))
def register() -> Any:
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        error = None
        if not username:
            error = "Username is required."
        elif not password:
            error = "Password is required."
        else:
            with db.changing() as data:
                if any(u["username"] == username for u in data["users"]):
                    error = f"User {username} is already registered."
                else:
                    data["users"].append({
                        "id": db.new_id(data), "username": username,
                        "password": generate_password_hash(password),
                    })
        if error is None:
            flash("Registered. Please log in.")
            return redirect(url_for(".login"))
        flash(error, "error")
    return render_template("auth/register.html")


@bp.route("/login", methods=("GET", "POST"))
def login() -> Any:
    if request.method == "POST":
        username = request.form.get("username", "")
        password = request.form.get("password", "")
        user = next((u for u in db.load()["users"] if u["username"] == username), None)
        if user is None or not check_password_hash(user["password"], password):
            flash("Incorrect username or password.", "error")
        else:
            session.clear()
            session["user_id"] = user["id"]
            flash(f"Welcome, {user['username']}!")
            return redirect(url_for("posts.index"))
    return render_template("auth/login.html")


@bp.route("/logout")
def logout() -> Any:
    session.clear()
    return redirect(url_for("posts.index"))
