"""Text helpers shared by every stage: normalisation (duplicate and leakage checks), Markdown escaping."""

from __future__ import annotations

import hashlib
import unicodedata


def normalize(text: str) -> str:
    """Unicode NFKC, case-folded, whitespace collapsed and stripped.

    >>> normalize("  Hello\\u00a0WORLD\\n")
    'hello world'
    """
    # str.split() splits on runs of exactly the characters that regex \s matches (str.isspace), in C
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def digest(*parts: str) -> bytes:
    """A 16-byte BLAKE2b digest of the parts (unambiguous joining)."""
    h = hashlib.blake2b(digest_size=16)
    for p in parts:
        b = p.encode("utf-8", "surrogatepass")
        h.update(len(b).to_bytes(8, "little"))
        h.update(b)
    return h.digest()


def md_escape(text: str, limit: int | None = 200) -> str:
    """Escape text for a Markdown table cell, shortened to ``limit`` characters.

    >>> md_escape("a|b `c`")
    'a\\\\|b \\\\`c\\\\`'
    """
    if limit is not None and len(text) > limit:
        text = text[: limit - 1] + "…"
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "\\`")
