"""The Flask side: HTTP routes, security, compression and the gunicorn worker."""
