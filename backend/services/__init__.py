"""Use cases. Each function takes a Session and owns its transaction boundary; none knows about HTTP."""
