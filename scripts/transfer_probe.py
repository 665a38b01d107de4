"""How much a variant of the miniature transfers across languages, in minutes instead of a sweep.

One world (a scale's, with the changes given here), one base model pretrained on it, fine-tuned on
the mixture of each k of --ks (English plus k per seen language) with each recipe of --lr x
--steps x --batch, and scored on --per-lang test items of each language (the items with the
smallest seeded tickets, as the training dynamics pick them). For each run it prints English, the seen and the
unseen means, the non-English mean relative to English, and the share of non-English answers the
language identifier places in the prompt's language, and, for each language not written in Latin
letters, the share of its answers' letters that are (an answer that slips into English or a seen
Latin-script language mid-sentence). Everything is kept under --out (the world and the base are
reused when the same variant runs again), each run is appended to --out/results.jsonl and its
scored answers are written to --out/answers/, under the base model's name.

    .venv/bin/python scripts/transfer_probe.py --out probe/ --item-format chat --english-share 0.2 \\
        --items IF:0.15,SM:0.15,MR:0.25 --model 35b --lr 2e-4 --steps 200 --tasks SM,MR,IF --ks 0,200

A probe answers "does this world, model and recipe let English-only fine-tuning carry over to the
other languages?" on few items (16 per language: read differences below about 0.1 as noise);
the figures come from `clt-kit reproduce` once a variant is made the scale's. --sft-seed fine-tunes
the same base again on another sample of each mixture, in another order: the spread between such
runs is the run-to-run noise a gain with k has to exceed.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import re
import time
from pathlib import Path
from typing import Any

from clt_kit.evaluate.checkpoints import subsample
from clt_kit.evaluate.tasks import evaluate_items, language_means
from clt_kit.jsonio import read_jsonl, write_jsonl
from clt_kit.languages import ENGLISH, LATIN, NON_ENGLISH, SEEN, UNSEEN
from clt_kit.prep import MixtureSpec, build_mixture
from clt_kit.scales import CORPUS_ITEM_FORMATS, Scale, get_scale
from clt_kit.train.pretrain import ensure_base_model
from clt_kit.train.sft import sft
from clt_kit.world.generate import ensure_world


def _numbers(text: str, kind: type) -> list[Any]:
    return [kind(x) for x in text.split(",") if x]


def _shares(text: str) -> dict[str, float]:
    """{"IF": 0.15, "SM": 0.15} from "IF:0.15,SM:0.15"."""
    return {name: float(share) for name, share in (pair.split(":") for pair in text.split(","))}


def _arguments(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, required=True, help="folder of the world, the base model, the mixtures and results.jsonl")
    parser.add_argument("--scale", default="mini", help="the scale whose sizes the variant starts from (default: mini)")
    parser.add_argument("--model", default="7b", help="which of the scale's analogues (7b, 35b, 8b)")
    parser.add_argument("--size", default="", help="the model's size instead: HIDDEN,LAYERS,HEADS,INTERMEDIATE")
    parser.add_argument("--item-format", choices=CORPUS_ITEM_FORMATS, help="how the corpus writes its task items")
    shares = parser.add_mutually_exclusive_group()  # given, the languages' shares replace the English one
    shares.add_argument("--english-share", type=float, help="English's share of the corpus (the rest equal)")
    shares.add_argument("--corpus-shares", default="", help="each language's share of the corpus, every language given,"
                        " e.g. en:0.2,pt:0.2,es:0.1,fr:0.1,ja:0.1,zh:0.1,ar:0.1,ko:0.1")
    parser.add_argument("--items", default="", help="the corpus's task items, e.g. IF:0.15,SM:0.15,MR:0.25")
    parser.add_argument("--pretrain-steps", type=int, help="pretraining steps")
    parser.add_argument("--lr", default="", help="fine-tuning LRs, comma-separated (default: the scale's)")
    parser.add_argument("--steps", default="", help="fine-tuning steps, comma-separated (default: the scale's)")
    parser.add_argument("--batch", default="", help="fine-tuning batch sizes (examples per step), comma-separated (default: the scale's)")
    parser.add_argument("--tasks", default="SM,MR,IF")
    parser.add_argument("--ks", default="0,200", help="examples per seen language, comma-separated")
    parser.add_argument("--per-lang", type=int, default=16, help="test items scored per language")
    parser.add_argument("--seed", type=int, default=0, help="the seed of the world, the base model and the scored items")
    parser.add_argument("--sft-seed", type=int, help="the seed of the mixtures' samples and the fine-tuning order (default: --seed);"
                        " another value fine-tunes the same base again, to measure run-to-run noise")
    return parser.parse_args(argv)


def variant(args: argparse.Namespace) -> Scale:
    """The scale with the world, model and pretraining changes of the command line."""
    scale = get_scale(args.scale)
    world, pretrain = scale.generated()
    changes: dict[str, Any] = {}
    if args.item_format:
        changes["corpus_item_format"] = args.item_format
    if args.english_share is not None:
        changes["corpus_english_share"] = args.english_share
    if args.items:
        changes["corpus_items"] = _shares(args.items)
    if args.corpus_shares:
        changes["corpus_shares"] = _shares(args.corpus_shares)
    size = next(m for m in scale.models if m.name == args.model)
    if args.size:
        hidden, layers, heads, intermediate = _numbers(args.size, int)
        size = dataclasses.replace(size, hidden=hidden, layers=layers, heads=heads, intermediate=intermediate)
    if args.pretrain_steps:
        pretrain = dataclasses.replace(pretrain, steps=args.pretrain_steps)
    return dataclasses.replace(scale, world=dataclasses.replace(world, **changes), models=(size,), pretrain=pretrain)


LATIN_LETTER = re.compile(r"[A-Za-z\u00C0-\u024F]")


def latin_letter_share(rows: list[dict[str, Any]]) -> dict[str, float]:
    """For each language not written in Latin letters, the share of its answers' letters that are
    (digits and punctuation are no language's, and are not counted)."""
    letters: dict[str, list[str]] = {}
    for r in rows:
        if r["lang"] not in LATIN:
            letters.setdefault(r["lang"], []).extend(c for c in r["output"] if c.isalpha())
    return {lang: round(sum(bool(LATIN_LETTER.match(c)) for c in cs) / len(cs), 3) if cs else 0.0
            for lang, cs in sorted(letters.items())}


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """English, seen and unseen means, relative to English, the in-language share per language and
    the Latin-letter share of the other scripts' answers."""
    mean = language_means(rows)
    answered_in = language_means([{"lang": r["lang"], "score": float(r["detected_lang"] == r["lang"])} for r in rows])
    in_language = {lang: round(answered_in[lang], 2) for lang in NON_ENGLISH}
    english = mean[ENGLISH]
    return {
        "english": english, "seen": sum(mean[lang] for lang in SEEN) / len(SEEN), "unseen": sum(mean[lang] for lang in UNSEEN) / len(UNSEEN),
        "rel": sum(mean[lang] for lang in NON_ENGLISH) / len(NON_ENGLISH) / english if english else None,
        "in_language": in_language, "latin_letters": latin_letter_share(rows),
        "per_language": {lang: round(v, 3) for lang, v in mean.items()},
    }


def main() -> None:
    args = _arguments()
    sft_seed = args.seed if args.sft_seed is None else args.sft_seed
    scale = variant(args)
    world_config, pretrain = scale.generated()
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    world = ensure_world(args.out / "world", args.seed, world_config, scale.name)
    base = ensure_base_model(scale.models[0], world, pretrain, args.seed, args.out / "models", progress=True)
    print(f"world and base model: {time.perf_counter() - start:.0f} s ({base})", flush=True)
    for task in args.tasks.split(","):
        tests = subsample(read_jsonl(world.test(task)), args.per_lang, args.seed)
        for k in _numbers(args.ks, int):
            mixture = args.out / "mixtures" / f"{task}-k{k}-s{sft_seed}"
            if not (mixture / "manifest.json").is_file():
                build_mixture(MixtureSpec(task, scale.english_train, k, sft_seed), world.train(task), world.test(task), mixture, lenient=True)
            records = read_jsonl(mixture / "mixture.jsonl")
            recipes = itertools.product(_numbers(args.lr, float) or [scale.sft.lr], _numbers(args.steps, int) or [scale.sft.steps],
                                        _numbers(args.batch, int) or [scale.sft.batch])
            for lr, steps, batch in recipes:
                began = time.perf_counter()
                result = sft(base, records, dataclasses.replace(scale.sft, lr=lr, steps=steps, batch=batch), sft_seed)
                rows = evaluate_items(result.model, result.tokenizer, tests, task, scale.eval)
                name = f"{base.name}-{task}-k{k}-lr{lr:g}-steps{steps}-batch{batch}-s{sft_seed}.jsonl"
                write_jsonl(args.out / "answers" / name, rows)
                found = summary(rows)
                record = {"task": task, "k": k, "lr": lr, "steps": steps, "batch": batch, "seed": args.seed, "sft_seed": sft_seed,
                          "best_step": result.best_step, **found,
                          "model": dataclasses.asdict(scale.models[0]), "world": dataclasses.asdict(world_config),
                          "seconds": round(time.perf_counter() - began)}
                with (args.out / "results.jsonl").open("a", encoding="utf-8") as f:
                    f.write(json.dumps(record) + "\n")
                rel = "-" if found["rel"] is None else f"{found['rel']:.2f}"
                print(f"{task} k={k} lr={lr:g} steps={steps} batch={batch} sft seed {sft_seed} (best {result.best_step}):"
                      f" English {found['english']:.3f}, seen {found['seen']:.3f}, unseen {found['unseen']:.3f}, relative {rel};"
                      f" in the prompt's language {found['in_language']}; Latin letters {found['latin_letters']}", flush=True)


if __name__ == "__main__":
    main()
