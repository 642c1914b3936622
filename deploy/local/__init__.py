"""The local App Engine: a front end before every service, the service processes, emulators and cron.

`python -m deploy.local_server` is the entry; `deploy.local.runner` ties the parts together. Modules:
output (one prefixed stream), processes (process groups), venvs (per-service virtualenvs), services (an
instance per service), emulators (Datastore, Cloud Tasks), addressing (which service), handlers (which
app.yaml handler, static files), headers (what the front end strips and adds), frontend (the proxy),
functions (Cloud Functions locally), cron (the scheduler, written separately).
"""
