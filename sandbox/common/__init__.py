"""Shared machinery of the sandboxes: local TLS, the threaded HTTPS server, and fault plans."""
