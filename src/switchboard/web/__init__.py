"""HTTP: the REST API under /api/v1, the admin UI, and (later) Graph webhooks."""
