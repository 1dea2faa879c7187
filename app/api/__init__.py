"""The HTTP API: a FastAPI front end beside the UI, over the same :class:`app.service.Citewise`.

``citewise serve`` runs it with uvicorn; :func:`app.api.app.create_app` builds it for embedding.
"""
