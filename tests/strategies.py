"""Hypothesis strategies shared by the decoder tests."""

from __future__ import annotations

import json

from hypothesis import strategies as st


def json_documents(keys: list[str], max_leaves: int = 15) -> st.SearchStrategy[bytes]:
    """JSON payloads of nested lists and objects whose keys come from a format's own vocabulary, so the decoder is
    driven past its first checks into the field handling."""
    scalars = st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=12)
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.sampled_from(keys), inner, max_size=6),
        max_leaves=max_leaves,
    ).map(lambda doc: json.dumps(doc).encode())
