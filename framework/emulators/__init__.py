"""Local emulators of Google's services: `datastore` (google.datastore.v1), `tasks` (google.cloud.tasks.v2) and the
pieces they share (`mux`, `http_guard`, `process`)."""
