"""Tests of blueprints, views, templates, sessions, flashing, files, signals, CLI and the dev server."""
