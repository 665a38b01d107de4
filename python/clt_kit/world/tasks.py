"""Item builders for the three tasks, in each language's own templates and word order.

Each builder takes a language, a private random stream and the scale's knobs, and returns one
item: {"prompt", "response", ...task fields}. Test items carry what the metric needs:
MR the integer `answer`, SM the reference summary (`response`), IF the `instructions`.
"""

from __future__ import annotations

import random
from typing import Any

from clt_kit.world.lexicon import Language

Item = dict[str, Any]

NO_SPACE_SCRIPTS = {"Japanese", "Han"}


def join_sentences(lang: Language, sentences: list[str]) -> str:
    sep = "" if lang.script in NO_SPACE_SCRIPTS else " "
    return sep.join(sentences)


def make_mr(lang: Language, r: random.Random, max_number: int) -> Item:
    """A word problem of 2-4 steps (a start and 1-3 changes) with a worked solution."""
    t = lang["mr"]
    name, item = r.choice(lang["names"]), r.choice(lang["items"])
    total = r.randint(2, max_number - 1)
    problem = [t["start"].format(name=name, item=item, n=total)]
    steps = []
    for _ in range(r.randint(1, 3)):
        if total > 1 and r.random() < 0.5:
            n = r.randint(1, total - 1)
            problem.append(r.choice(t["loss"]).format(name=name, item=item, n=n))
            steps.append(t["sub"].format(a=total, b=n, c=total - n))
            total -= n
        else:
            n = r.randint(1, max_number - 1)
            problem.append(r.choice(t["gain"]).format(name=name, item=item, n=n))
            steps.append(t["add"].format(a=total, b=n, c=total + n))
            total += n
    problem.append(t["question"].format(name=name, item=item))
    solution = "\n".join([*steps, t["answer"].format(n=total)])
    return {
        "prompt": t["prompt"].format(problem=join_sentences(lang, problem)),
        "response": solution,
        "answer": total,
    }


def make_sm(lang: Language, r: random.Random) -> Item:
    """A 4-8 sentence news-like document and its one-sentence reference summary."""
    t = lang["sm"]
    place = r.choice(lang.places)
    slots = {
        "city": place.city,
        "country": place.country,
        "month": r.choice(lang.months),
        "event": r.choice(t["events"]),
        "adj": r.choice(t["adjectives"]),
        "n": r.randint(2, 90) * 100,
        "d": r.randint(2, 9),
    }
    body = [*t["facts"], *r.sample(t["filler"], r.randint(1, 5))]
    r.shuffle(body)
    doc = [t["lead"].format(**slots), *(s.format(**slots) for s in body)]
    return {
        "prompt": t["prompt"].format(doc=join_sentences(lang, doc)),
        "response": t["summary"].format(**slots),
    }


def make_if(lang: Language, r: random.Random) -> Item:
    """A writing prompt with 1-3 verifiable instructions, and a response that follows them all."""
    t = lang["if"]
    topic = r.choice(t["topics"])
    kinds = r.sample(["keyword", "end", "items", "quotes"], r.randint(1, 3))
    instructions: list[dict[str, Any]] = []
    for kind in sorted(kinds):
        if kind == "keyword":
            instructions.append({"type": "keyword", "kw": r.choice(t["keywords"])})
        elif kind == "end":
            instructions.append({"type": "end", "phrase": r.choice(t["phrases"])})
        elif kind == "items":
            instructions.append({"type": "items", "n": r.randint(2, 4)})
        else:
            instructions.append({"type": "quotes"})
    by_type = {i["type"]: i for i in instructions}

    n_sentences = by_type["items"]["n"] if "items" in by_type else 2
    sentences = [s.format(topic=topic) for s in r.sample(t["sentences"], n_sentences)]
    if "keyword" in by_type:
        sentences[-1] = join_sentences(lang, [sentences[-1], t["keyword_sentence"].format(kw=by_type["keyword"]["kw"])])
    if "items" in by_type:
        body = "\n".join(f"- {s}" for s in sentences)
        if "end" in by_type:
            body += "\n" + by_type["end"]["phrase"]
    else:
        parts = [*sentences, by_type["end"]["phrase"]] if "end" in by_type else sentences
        body = join_sentences(lang, parts)
    if "quotes" in by_type:
        body = f'"{body}"'

    prompt_lines = [t["task"].format(topic=topic)]
    for i in instructions:
        params = {k: v for k, v in i.items() if k != "type"}
        prompt_lines.append(t["instructions"][i["type"]].format(**params))
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
    }
    a, b = max(p["a"], p["b"]), min(p["a"], p["b"])
    template = lang["corpus"][p["template"]]
    # The corpus templates are aligned across languages; the last one is "a minus b is c".
    c = a - b if p["template"] == len(lang["corpus"]) - 1 else a + b
    place = lang.places[p["place"]]
    return template.format(
        name=lang["names"][p["name"]], item=lang["items"][p["item"]], city=place.city,
        country=place.country, month=lang.months[p["month"]], n=a, a=a, b=b, c=c,
    )
