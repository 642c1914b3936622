"""Local emulators of Google's services: `datastore` (google.datastore.v1) and the pieces they share."""
