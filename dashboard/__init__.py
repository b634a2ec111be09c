"""dashboard: the Streamlit app over the results store."""

__all__: list[str] = []
