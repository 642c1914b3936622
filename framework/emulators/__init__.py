"""Local emulators of Google's services: `datastore` (google.datastore.v1), `tasks` (google.cloud.tasks.v2) and the
pieces they share (`mux`, `ports`, `grpc_handlers`, `admin_http`, `http_guard`, `errors`, `process`, `sqlite_store`)."""
