"""The Streamlit app (``citewise ui``): chat, documents and knowledge-graph pages over the service."""
