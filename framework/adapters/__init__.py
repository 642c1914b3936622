"""Adapters between hosts (App Engine, Cloud Functions, plain WSGI) and the App."""
