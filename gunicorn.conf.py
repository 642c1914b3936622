"""gunicorn settings for app.yaml's entrypoint: bind $PORT; sized from the instance."""

import os

_on_google = os.environ.get("GAE_ENV") == "standard" or "K_SERVICE" in os.environ
bind = f"{'0.0.0.0' if _on_google else '127.0.0.1'}:{os.environ.get('PORT', '8080')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = int(os.environ.get("THREADS", "8"))
worker_class = "gthread"
timeout = 0 if _on_google else 60
