"""Typed models of App Engine's config files, read once with PyYAML; every problem names FILE:LINE and a fix.

The local runner (deploy.local), `python -m deploy check`, stage and preflight all read these models.
"""
