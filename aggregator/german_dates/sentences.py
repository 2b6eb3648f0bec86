"""Sentence bounds in German prose, aware of abbreviations ("Str.", "Okt.", "Dr.") and ordinals ("7. Thüringer …")."""

from __future__ import annotations

import re

from .shapes import LETTER, MONTHS

ABBREVIATIONS = {"ca", "nr", "str", "bzw", "etc", "dr", "prof", "st", "z", "b", "vgl", "inkl", "ggf", "u", "a", "evtl"}
ABBREVIATIONS |= {k for k in MONTHS if len(k) <= 4}


def _is_abbreviation(text: str, i: int) -> bool:
    """Is the dot at ``text[i]`` the end of an abbreviation or a number?"""
    word = re.search(rf"([{LETTER}\d]+)$", text[max(0, i - 12) : i])
    return bool(word and (word.group(1).lower() in ABBREVIATIONS or word.group(1).isdigit()))


def sentence_end(text: str, pos: int, limit: int) -> int:
    """Index of the first sentence end (or blank line) in ``text[pos:limit]``, else ``limit``."""
    for m in re.finditer(r"[.!?](?=\s+[A-ZÄÖÜ])|\n[ \t]*\n", text[pos:limit]):
        if m.group().startswith("\n"):
            return pos + m.start()
        i = pos + m.start()
        if _is_abbreviation(text, i):
            continue
        return i
    return limit


def sentence_start(text: str, pos: int, floor: int) -> int:
    """Index where the sentence containing ``pos`` starts, not before ``floor``."""
    lo = floor
    for m in re.finditer(r"[.!?]\s+(?=[A-ZÄÖÜ])|\n[ \t]*\n", text[floor:pos]):
        i = floor + m.start()
        if m.group()[0] == "." and _is_abbreviation(text, i):
            continue
        lo = floor + m.end()
    return lo
