"""Names people read (persons, watchlists, cameras): printable text only.

A name is shown in the console, in alerts on a control-room screen, in exports and in the
audit log. A NUL byte truncates it in some of those; a right-to-left override (U+202E) makes
``Ali\u202eevil.exe`` read as something else; a newline forges extra lines in a log or a
report. Such characters have no business in a name and are refused with the one at fault
named. Letters of every script, accents, and the joiners some scripts need (U+200C, U+200D)
are fine.
"""

from __future__ import annotations

import unicodedata

from watchkeeper.store.errors import StoreError

# the bidirectional controls: embeddings, overrides, isolates and marks
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069\u200e\u200f\u061c")


def check_name(value: str, what: str) -> str:
    """``value`` unchanged, or :class:`StoreError` naming the first forbidden character."""
    for index, char in enumerate(value):
        if char in _BIDI or unicodedata.category(char) in ("Cc", "Cs", "Co", "Cn"):
            code = f"U+{ord(char):04X}"
            label = unicodedata.name(char, "a control character")
            raise StoreError(
                f"{what} {value!r} holds {code} ({label}) at position {index}: names may not "
                "hold control, direction-override or unassigned characters"
            )
    return value
