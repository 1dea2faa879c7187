"""Page script: the chat (see :mod:`app.ui.chat`)."""

from app.ui.chat import render

render()
