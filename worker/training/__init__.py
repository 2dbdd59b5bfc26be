"""Pure ML: no database, no Celery. Takes a request, rows and a reporter; returns artifacts."""
