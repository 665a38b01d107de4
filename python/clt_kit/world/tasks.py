"""Item builders for the three tasks, in each language's own templates and word order.

Each builder takes a language, a private random stream and the scale's knobs, and returns one
item: {"prompt", "response", ...task fields}. Test items carry what the metric needs:
MR the integer `answer`, SM the reference summary (`response`), IF the `instructions`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from babel.lists import format_list
from babel.numbers import format_decimal
from babel.units import format_unit

from clt_kit.world.checkers import count_units
from clt_kit.world.lexicon import Language

Item = dict[str, Any]
T = TypeVar("T")

NO_SPACE_SCRIPTS = {"Japanese", "Han"}
# Test sets draw names, objects, topics, keywords and places from a held-out quarter of each list,
# so that no test item is a near copy of a training item with one number changed.
HOLDOUT_EVERY = 4


def pick(r: random.Random, values: Sequence[T], split: str) -> T:
    """A random value of the split's share of `values` (test: every 4th entry; train: the rest)."""
    share = [v for i, v in enumerate(values) if (i % HOLDOUT_EVERY == HOLDOUT_EVERY - 1) == (split == "test")]
    return r.choice(share or list(values))


_PARTICLE = re.compile(r"<([^/<>]+)/([^/<>]+)>")


def resolve_particles(text: str) -> str:
    """Korean particles written `<A/B>` in the templates: A after a final consonant, B after a vowel."""
    def choose(m: re.Match[str]) -> str:
        before = text[: m.start()].rstrip('"»」')
        last = before[-1] if before else ""
        if "\uac00" <= last <= "\ud7a3":
            has_final = (ord(last) - 0xAC00) % 28 != 0
        else:
            has_final = last.isdigit() and last in "013678"  # read as 영/일/삼/육/칠/팔
        return m.group(1) if has_final else m.group(2)

    return _PARTICLE.sub(choose, text)


def finish(lang: Language, text: str) -> str:
    """Final touches of a filled template: Korean particles, then the language's contractions
    ("de el" -> "del", "de le" -> "du"), as listed in its data file."""
    text = resolve_particles(text)
    for plain, contracted in lang.data.get("contractions", {}).items():
        text = re.sub(rf"(?<!\w){re.escape(plain)}(?!\w)", contracted, text)
    return text


def join_sentences(lang: Language, sentences: list[str]) -> str:
    sep = "" if lang.script in NO_SPACE_SCRIPTS else " "
    return sep.join(sentences)


def make_mr(
    lang: Language, r: random.Random, max_number: int, split: str = "train", changes: tuple[int, int] = (1, 3)
) -> Item:
    """A word problem of 2-4 steps (a start and `changes` changes, 1-3 by default) with a worked
    solution; `max_number` and `changes` are the difficulty knobs.

    The solution restates each sentence of the problem, then works its step ("Mia has 6 plates.",
    "Mia gives away 1 plates. 6 - 1 = 5.", "The answer is 5."), as chain-of-thought answers do: a
    tiny model then copies a number it has just written rather than searching the prompt for it."""
    t = lang["mr"]
    name, item = pick(r, lang["names"], split), pick(r, lang["items"], split)
    total = r.randint(2, max_number - 1)
    start = t["start"].format(name=name, item=item, n=total)
    problem, solution = [start], [start]
    for _ in range(r.randint(*changes)):
        if total > 1 and r.random() < 0.5:
            n = r.randint(1, total - 1)
            sentence = r.choice(t["loss"]).format(name=name, item=item, n=n)
            step = t["sub"].format(a=total, b=n, c=total - n)
            total -= n
        else:
            n = r.randint(1, max_number - 1)
            sentence = r.choice(t["gain"]).format(name=name, item=item, n=n)
            step = t["add"].format(a=total, b=n, c=total + n)
            total += n
        problem.append(sentence)
        solution.append(join_sentences(lang, [sentence, step]))
    problem.append(t["question"].format(name=name, item=item))
    solution.append(t["answer"].format(n=total))
    return {
        "prompt": finish(lang, t["prompt"].format(problem=join_sentences(lang, problem))),
        "response": finish(lang, "\n".join(solution)),
        "answer": total,
    }


def make_sm(lang: Language, r: random.Random, split: str = "train") -> Item:
    """A 4-8 sentence news-like document and its one-sentence reference summary."""
    t = lang["sm"]
    place = pick(r, lang.places, split)
    days = r.randint(2, 9)
    slots = {
        "city": place.city,
        "country": place.country,
        "month": r.choice(lang.months),
        "event": r.choice(t["events"]),
        "adj": r.choice(t["adjectives"]),
        # CLDR number format and unit pattern (plural rules included), through Babel.
        "people": format_decimal(r.randint(2, 90) * 100, locale=lang.locale),
        "days": format_unit(days, "duration-day", length="long", locale=lang.locale),
        "d": days,
        # CLDR list pattern ("A, B and C", "A、B、C"...), through Babel.
        "cities": format_list(
            [p.city for p in r.sample([p for p in lang.places if p != place], r.randint(2, 3))], locale=lang.locale
        ),
    }
    body = [*t["facts"], *r.sample(t["filler"], r.randint(1, 5))]
    r.shuffle(body)
    doc = [t["lead"].format(**slots), *(s.format(**slots) for s in body)]
    return {
        "prompt": finish(lang, t["prompt"].format(doc=join_sentences(lang, doc))),
        "response": finish(lang, t["summary"].format(**slots)),
    }


def make_if(lang: Language, r: random.Random, split: str = "train") -> Item:
    """A writing prompt with 1-3 verifiable instructions, and a response that follows them all."""
    t = lang["if"]
    topic = pick(r, t["topics"], split)
    kinds = r.sample(["keyword", "end", "items", "quotes", "length"], r.randint(1, 3))
    instructions: list[dict[str, Any]] = []
    for kind in sorted(k for k in kinds if k != "length"):
        if kind == "keyword":
            instructions.append({"type": "keyword", "kw": pick(r, t["keywords"], split)})
        elif kind == "end":
            instructions.append({"type": "end", "phrase": pick(r, t["phrases"], split)})
        elif kind == "items":
            instructions.append({"type": "items", "n": r.randint(2, 4)})
        else:
            instructions.append({"type": "quotes"})
    by_type = {i["type"]: i for i in instructions}

    n_sentences = by_type["items"]["n"] if "items" in by_type else 2
    sentences = [finish(lang, s.format(topic=topic)) for s in r.sample(t["sentences"], n_sentences)]
    sentences = [s[0].upper() + s[1:] for s in sentences]
    if "keyword" in by_type:
        keyword_sentence = finish(lang, t["keyword_sentence"].format(kw=by_type["keyword"]["kw"]))
        sentences[-1] = join_sentences(lang, [sentences[-1], keyword_sentence])
    if "items" in by_type:
        body = "\n".join(f"- {s}" for s in sentences)
        if "end" in by_type:
            body += "\n" + by_type["end"]["phrase"]
    else:
        parts = [*sentences, by_type["end"]["phrase"]] if "end" in by_type else sentences
        body = join_sentences(lang, parts)
    if "quotes" in by_type:
        body = f'"{body}"'
    if "length" in kinds:
        # A bound the reference meets with a little room, counted as the language counts length.
        unit = t["length_unit"]
        length = {"type": "length", "max": count_units(body, unit) + r.randint(0, 6), "unit": unit}
        instructions = sorted([*instructions, length], key=lambda i: i["type"])

    prompt_lines = [t["task"].format(topic=topic)]
    for i in instructions:
        params = {k: v for k, v in i.items() if k not in ("type", "unit")}
        prompt_lines.append(finish(lang, t["instructions"][i["type"]].format(**params)))
    return {"prompt": "\n".join(prompt_lines), "response": body, "instructions": instructions}


def corpus_line(lang: Language, r: random.Random, max_number: int, picks: dict[str, int] | None = None) -> str:
    """One pretraining sentence. `picks` (indices into the lexicon) makes parallel lines align."""
    p = picks or {
        "template": r.randrange(len(lang["corpus"])),
        "name": r.randrange(len(lang["names"])),
        "item": r.randrange(len(lang["items"])),
        "place": r.randrange(len(lang.places)),
        "month": r.randrange(12),
        "a": r.randint(1, max_number),
        "b": r.randint(1, max_number),
        "words": r.random() < 0.5,
    }
    a, b = max(p["a"], p["b"]), min(p["a"], p["b"])
    template = lang["corpus"][p["template"]]
    # The corpus templates are aligned across languages; the last one is "a minus b is c".
    c = a - b if p["template"] == len(lang["corpus"]) - 1 else a + b
    place = lang.places[p["place"]]
    numbers: list[object] = [a, b, c]
    words = lang["numbers"]
    if "{c}" in template and max(a, b, c) < len(words) and p.get("words", False):
        numbers = [words[a], words[b], words[c]]  # the arithmetic facts in number words too
    return finish(lang, template.format(
        name=lang["names"][p["name"]], item=lang["items"][p["item"]], city=place.city,
        country=place.country, month=lang.months[p["month"]], n=a, a=numbers[0], b=numbers[1], c=numbers[2],
    ))
