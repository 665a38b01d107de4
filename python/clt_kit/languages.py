"""The paper's languages and their roles (docs/study.md, "Languages")."""

from __future__ import annotations

ENGLISH = "en"
SEEN: tuple[str, ...] = ("es", "fr", "ja", "zh")
UNSEEN: tuple[str, ...] = ("ar", "ko", "pt")
PAPER_LANGUAGES: tuple[str, ...] = (ENGLISH, *SEEN, *UNSEEN)
NON_ENGLISH: tuple[str, ...] = (*SEEN, *UNSEEN)
LATIN: tuple[str, ...] = ("en", "es", "fr", "pt")


def script_group(lang: str) -> str:
    """'Latin' or 'non-Latin', as the paper groups its evaluation languages."""
    return "Latin" if lang in LATIN else "non-Latin"
