"""Afina's Gradio front end: a client of the REST API, nothing else (see ui/app.py)."""
