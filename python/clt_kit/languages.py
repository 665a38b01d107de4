"""The paper's languages and their roles (docs/study.md, "Languages")."""

from __future__ import annotations

ENGLISH = "en"
SEEN: tuple[str, ...] = ("es", "fr", "ja", "zh")
UNSEEN: tuple[str, ...] = ("ar", "ko", "pt")
PAPER_LANGUAGES: tuple[str, ...] = (ENGLISH, *SEEN, *UNSEEN)
NON_ENGLISH: tuple[str, ...] = (*SEEN, *UNSEEN)
LATIN: tuple[str, ...] = ("en", "es", "fr", "pt")
# The groups a score against k is read for (`clt-kit advise`): the non-English mean relative to
# English, the seen and unseen means, and each language.
GROUPS: tuple[str, ...] = ("non_english", "seen", "unseen", *PAPER_LANGUAGES)


def script_group(lang: str) -> str:
    """'Latin' or 'non-Latin', as the paper groups its evaluation languages."""
    return "Latin" if lang in LATIN else "non-Latin"
