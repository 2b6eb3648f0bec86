"""Text of a web page whose declared charset may be wrong.

German sites often declare UTF-8 and write Windows-1252 (or the other way
round). Guessing from byte statistics then picks an unrelated code page (cp850,
cp775) and turns "März" into "Mõrz", which costs the event its date and, for
events identified by their title, its identity.
"""

from __future__ import annotations

import warnings

from bs4 import UnicodeDammit


def decode_markup(body: bytes) -> str:
    """``body`` as text: UTF-8 when the bytes are valid UTF-8 (whatever the page declares);
    else its BOM or declared charset; else Windows-1252; only then a statistical guess."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dammit = UnicodeDammit(body, known_definite_encodings=["utf-8"], user_encodings=["windows-1252"], is_html=True)
    text = dammit.unicode_markup
    return text if text is not None else body.decode("utf-8", "replace")
