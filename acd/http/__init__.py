"""The HTTP surface for agents, supervisors and admins: the API (``api.py``, with its OpenAPI
spec), token auth with roles (``users.py``), the live push stream (``events.py``) and the pages."""
