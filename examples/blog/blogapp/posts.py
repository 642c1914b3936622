"""The blog itself: list, create, edit and delete posts."""

from __future__ import annotations

from typing import Any

from framework import Blueprint, abort, flash, g, redirect, render_template, request, url_for

from . import db
from .auth import login_required

bp = Blueprint("posts", __name__)


def get_post(post_id: int, check_author: bool = True) -> dict[str, Any]:
    """The post, or 404 if it does not exist and 403 if the current user did not write it."""
    post = next((p for p in db.load()["posts"] if p["id"] == post_id), None)
    if post is None:
        abort(404)
    if check_author and post["author_id"] != g.user["id"]:
        abort(403)
    return post


def _form() -> tuple[str, str, str | None]:
    title = request.form.get("title", "").strip()
    body = request.form.get("body", "")
    return title, body, (None if title else "Title is required.")


@bp.route("/")
def index() -> str:
    data = db.load()
    names = {u["id"]: u["username"] for u in data["users"]}
    posts = sorted(data["posts"], key=lambda p: p["created"], reverse=True)
    return render_template("posts/index.html", posts=posts, names=names)


@bp.route("/create", methods=("GET", "POST"))
@login_required
def create() -> Any:
    if request.method == "POST":
        title, body, error = _form()
        if error is None:
            with db.changing() as data:
                data["posts"].append({
                    "id": db.new_id(data), "title": title, "body": body,
                    "author_id": g.user["id"], "created": db.now(),
                })
            flash("Post published.")
            return redirect(url_for(".index"))
        flash(error, "error")
    return render_template("posts/create.html")


@bp.route("/<int:post_id>/update", methods=("GET", "POST"))
@login_required
def update(post_id: int) -> Any:
    post = get_post(post_id)
    if request.method == "POST":
        title, body, error = _form()
        if error is None:
            with db.changing() as data:
                stored = next(p for p in data["posts"] if p["id"] == post_id)
                stored.update(title=title, body=body)
            flash("Post updated.")
            return redirect(url_for(".index"))
        flash(error, "error")
    return render_template("posts/update.html", post=post)


@bp.post("/<int:post_id>/delete")
@login_required
def delete(post_id: int) -> Any:
    get_post(post_id)
    with db.changing() as data:
        data["posts"] = [p for p in data["posts"] if p["id"] != post_id]
    flash("Post deleted.")
    return redirect(url_for(".index"))


@bp.errorhandler(403)
def forbidden(error: Exception) -> tuple[str, int]:
    return render_template("403.html"), 403
