"""Per-language data: one JSON file per language in `languages/`, plus CLDR data through Babel.

A language is added by dropping one file `languages/<code>.json` with the same keys as `en.json`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
    data: dict[str, Any]
    months: tuple[str, ...]
    places: tuple[Place, ...]

    def __getitem__(self, key: str) -> Any:
        return self.data[key]


def available() -> list[str]:
    """Codes of every language with a data file, sorted."""
    files = resources.files("clt_kit.world").joinpath("languages").iterdir()
    return sorted(f.name.removesuffix(".json") for f in files if f.name.endswith(".json"))


@cache
def load(code: str) -> Language:
    """Loads `languages/<code>.json` and its CLDR data."""
    path = resources.files("clt_kit.world").joinpath("languages", f"{code}.json")
    if not path.is_file():
        raise ValueError(f"no language data for {code!r}; available: {', '.join(available())}")
    data = json.loads(path.read_text(encoding="utf-8"))
    locale = Locale.parse(data["locale"])
    months = tuple(locale.months["format"]["wide"][m] for m in range(1, 13))
    places = tuple(
        Place(
            city=get_timezone_location(zone, locale=locale, return_city=True),
            country=locale.territories[territory],
        )
        for zone, territory in CITY_ZONES
    )
    return Language(data["code"], data["name"], data["script"], data, months, places)
