"""Page script: the documents (see :mod:`app.ui.documents`)."""

from app.ui.documents import render

render()
