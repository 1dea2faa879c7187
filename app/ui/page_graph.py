"""Page script: the knowledge graph (see :mod:`app.ui.graph_view`)."""

from app.ui.graph_view import render

render()
