"""The LLM-judge scorer for IF at the paper scale: an OpenAI-compatible chat endpoint rates each
answer 1-5, as the paper's GPT-4o judge did (SPEC.md; its prompt is the paper's Figure 9).

The prompt follows the paper's structure: the rating scale, the user's prompt, the answer, and a
request for one rating. The judge model, the prompt's sha256 and the temperature go with every
judgment; judgments are cached on disk by everything that determines them, so a rerun asks
nothing twice. Switch-awareness stays with the caller (evaluate.tasks.score): an answer not in the
prompt's language is rated 1 without asking. Uses only the standard library (urllib), so no client package is needed.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, canonical, read_json, write_json

JUDGE_PROMPT = """You are a strict evaluator of how well an AI assistant's answer follows the user's request.

Rate the answer on a scale of 1 to 5:
1: the answer ignores the request, is not in the language of the request, or is unusable.
2: the answer addresses the request but misses most of its instructions.
3: the answer follows some instructions and misses others.
4: the answer follows nearly all instructions, with small flaws.
5: the answer follows every instruction fully, in the language of the request.

[Request]
{prompt}

[Answer]
{answer}

Reply with your reasoning in one or two sentences, then a last line of the form "Rating: N"."""

PROMPT_SHA256 = hashlib.sha256(JUDGE_PROMPT.encode()).hexdigest()
_RATING = re.compile(r"Rating:\s*\**\s*([1-5])\b")


class JudgeError(InputError):
    """The judge endpoint failed or answered without a rating (the CLI prints it as one line)."""


@dataclass(frozen=True)
class Judgment:
    rating: int
    raw: str  # the judge's reply
    cached: bool


@dataclass(frozen=True)
class Judge:
    """An OpenAI-compatible chat endpoint (`base_url` ends in /v1) used as a 1-5 rater."""

    base_url: str
    model: str
    cache: Path
    temperature: float = 0.0
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0

    def describe(self) -> dict[str, Any]:
        """What is stored with a run: everything that determines a judgment but the texts."""
        return {"model": self.model, "temperature": self.temperature, "prompt_sha256": PROMPT_SHA256, "base_url": self.base_url}

    def rate(self, prompt: str, answer: str) -> Judgment:
        """The judge's 1-5 rating of `answer` to `prompt` (from the cache when asked before)."""
        key = hashlib.sha256(canonical({**self.describe(), "base_url": None, "prompt": prompt, "answer": answer}).encode()).hexdigest()
        path = self.cache / key[:2] / f"{key}.json"
        if path.exists():
            stored = read_json(path)
            return Judgment(rating=stored["rating"], raw=stored["raw"], cached=True)
        raw = self._ask(JUDGE_PROMPT.format(prompt=prompt, answer=answer))
        found = _RATING.findall(raw)
        if not found:
            raise JudgeError(f"{self.base_url}: judge {self.model} replied without a 'Rating: N' line: {raw[:200]!r}")
        judgment = Judgment(rating=int(found[-1]), raw=raw, cached=False)
        write_json(path, {"rating": judgment.rating, "raw": raw, **self.describe()})
        return judgment

    def _ask(self, content: str) -> str:
        body = {"model": self.model, "temperature": self.temperature, "messages": [{"role": "user", "content": content}]}
        headers = {"Content-Type": "application/json"}
        if key := os.environ.get(self.api_key_env):
            headers["Authorization"] = f"Bearer {key}"
        request = urllib.request.Request(
            self.base_url.rstrip("/") + "/chat/completions", data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read().decode())
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
            raise JudgeError(f"{self.base_url}: judge request failed ({e}); check the URL, the model name and {self.api_key_env}") from e
        try:
            return reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise JudgeError(f"{self.base_url}: not an OpenAI chat completion: {str(reply)[:200]}") from e
