"""tagmatch service: HTTP API, persistence, jobs. Imports matching, never the other way."""
