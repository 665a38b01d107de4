"""Per-language data: one JSON file per language in `languages/`, plus CLDR data through Babel.

A language is added by one file `<code>.json` with the same keys as `languages/en.json`: put it in
`languages/`, or in a folder named by the environment variable CLT_KIT_LANGUAGES (no change to the
installed package). Its "locale" must be one Babel knows; everything else is in the file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from functools import cache
from importlib import resources
from typing import Any

from babel import Locale
from babel.dates import get_timezone_location

# Cities come from CLDR's time-zone exemplar cities (localized by Babel), with their countries.
CITY_ZONES: tuple[tuple[str, str], ...] = (
    ("Asia/Tokyo", "JP"), ("Europe/Paris", "FR"), ("Europe/Madrid", "ES"), ("America/Sao_Paulo", "BR"),
    ("Asia/Seoul", "KR"), ("Africa/Cairo", "EG"), ("Asia/Shanghai", "CN"), ("America/New_York", "US"),
    ("Europe/Lisbon", "PT"), ("America/Mexico_City", "MX"), ("Europe/Rome", "IT"), ("Asia/Dubai", "AE"),
)


@dataclass(frozen=True)
class Place:
    city: str
    country: str


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    script: str
    locale: str
    data: dict[str, Any]
    months: tuple[str, ...]
    places: tuple[Place, ...]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


EXTRA_LANGUAGES_ENV = "CLT_KIT_LANGUAGES"


def _data_files() -> dict[str, object]:
    """code -> data file: the package's languages/, then the CLT_KIT_LANGUAGES folder (which wins)."""
    files: dict[str, object] = {}
    for f in resources.files("clt_kit.world").joinpath("languages").iterdir():
        if f.name.endswith(".json"):
            files[f.name.removesuffix(".json")] = f
    extra = os.environ.get(EXTRA_LANGUAGES_ENV)
    if extra:
        for f in sorted(Path(extra).glob("*.json")):
            files[f.stem] = f
    return files


def available() -> list[str]:
    """Codes of every language with a data file, sorted."""
    return sorted(_data_files())


@cache
def load(code: str) -> Language:
    """Loads `<code>.json` and its CLDR data."""
    path = _data_files().get(code)
    if path is None:
        raise ValueError(f"no language data for {code!r}; available: {', '.join(available())}")
    data = json.loads(path.read_text(encoding="utf-8"))  # type: ignore[attr-defined]
    locale = Locale.parse(data["locale"])
    months = tuple(locale.months["format"]["wide"][m] for m in range(1, 13))
    places = tuple(
        Place(
            city=get_timezone_location(zone, locale=locale, return_city=True),
            country=locale.territories[territory],
        )
        for zone, territory in CITY_ZONES
    )
    return Language(data["code"], data["name"], data["script"], data["locale"], data, months, places)
