"""citewise's Streamlit app: ``streamlit run app/ui/streamlit_app.py`` (or ``citewise ui``).

The one service is opened per process (``st.cache_resource``); each browser session keeps its
own conversation and answer settings. The pages only call the service: no retrieval logic here.
"""

from __future__ import annotations

import streamlit as st

from app.ui.common import get_service
from app.ui.sidebar import render_sidebar


def main() -> None:
    """Configure the page, draw the sidebar, run the selected page."""
    st.set_page_config(page_title="citewise", page_icon=":material/menu_book:", layout="wide")
    pages = [
        st.Page("page_chat.py", title="Chat", icon=":material/forum:", default=True),
        st.Page("page_documents.py", title="Documents", icon=":material/description:", url_path="documents"),
        st.Page("page_graph.py", title="Knowledge graph", icon=":material/hub:", url_path="graph"),
    ]
    navigation = st.navigation(pages)
    with st.spinner("Opening the index…"):
        service = get_service()
    render_sidebar(service)
    navigation.run()


main()
