"""Pydantic I/O schemas of the REST API (suffixes say the direction: *Create in, *Read out)."""
