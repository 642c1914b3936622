"""The blog application factory: `framework --app blogapp run --debug` from examples/blog."""

from __future__ import annotations

import os
from typing import Any

from framework import App, render_template

from . import auth, db, posts


def create_app(test_config: dict[str, Any] | None = None, instance_path: str | None = None) -> App:
    """Build the blog app; `test_config` replaces the instance config and env (for tests)."""
    if instance_path is None:  # examples/blog/instance, whichever way the package was imported
        instance_path = os.path.abspath(os.path.join(os.path.dirname(__file__), os.pardir, "instance"))
    app = App(__name__, instance_relative_config=True, instance_path=instance_path)
    app.config.from_mapping(
        BLOG_TITLE="Framework Blog",
        # Fine on a laptop; on Google's hosts the framework refuses such a key, so set FRAMEWORK_SECRET_KEY.
        SECRET_KEY="dev",
        DATA_FILE=os.path.join(app.instance_path, "blog.json"),
    )
    if test_config is None:
        app.config.from_pyfile("config.py", silent=True)
        app.config.from_prefixed_env("FRAMEWORK")
    else:
        app.config.from_mapping(test_config)
    os.makedirs(app.instance_path, exist_ok=True)

    db.init_app(app)
    app.register_blueprint(auth.bp)
    app.register_blueprint(posts.bp)

    @app.errorhandler(404)
    def not_found(error: Exception) -> tuple[str, int]:
        return render_template("404.html"), 404

    @app.context_processor
    def blog_title() -> dict[str, str]:
        return {"blog_title": app.config["BLOG_TITLE"]}

    return app
