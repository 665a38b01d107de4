"""The LLM-judge scorer for IF at the paper scale: an OpenAI-compatible chat endpoint rates each
answer 1-5, as the paper's GPT-4o judge did (SPEC.md; its prompt is the paper's Figure 9).

The prompt follows the paper's structure: the rating scale, the user's prompt, the answer, and a
request for one rating. The judge model, the prompt's sha256 and the temperature go with every
judgment; judgments are cached on disk by everything that determines them, so a rerun asks
nothing twice. Switch-awareness stays with the caller (evaluate.tasks.score): an answer not in the
prompt's language is rated 1 without asking. Uses only the standard library (urllib), so no client package is needed.
"""

from __future__ import annotations

import base64
import hashlib
import ipaddress
import json
import os
import re
import urllib.error
import urllib.parse
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


def public_url(url: str) -> str:
    """`url` without what may be a credential (user:password@, query values): what is stored and printed."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"[{host}]" if ":" in host else host
    if parts.port is not None:
        netloc += f":{parts.port}"
    query = "&".join(f"{name}=REDACTED" for name, _ in urllib.parse.parse_qsl(parts.query, keep_blank_values=True))
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def is_local(host: str) -> bool:
    """Whether `host` is this machine (localhost or a loopback address)."""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Judge:
    """An OpenAI-compatible chat endpoint (`base_url` ends in /v1) used as a 1-5 rater."""

    base_url: str
    model: str
    cache: Path
    temperature: float = 0.0
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0
    allow_http: bool = False  # send credentials over plain http to a host other than this machine

    def describe(self) -> dict[str, Any]:
        """What is stored with a run: everything that determines a judgment but the texts (the
        endpoint without credentials)."""
        return {"model": self.model, "temperature": self.temperature, "prompt_sha256": PROMPT_SHA256, "base_url": public_url(self.base_url)}

    def _check_transport(self, has_key: bool) -> None:
        """Credentials (an API key, or user:password in the URL) never go over plain http to a
        host other than this machine, unless `allow_http` says so."""
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https"):
            raise JudgeError(f"{public_url(self.base_url)}: the judge URL must start with https:// (or http:// for a server on this machine)")
        has_credentials = has_key or parts.username is not None or parts.password is not None
        if parts.scheme == "http" and has_credentials and not is_local(parts.hostname or "") and not self.allow_http:
            raise JudgeError(
                f"{public_url(self.base_url)}: refusing to send credentials over plain http to another machine; use https,"
                " or pass --judge-allow-http if the network between is trusted"
            )

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
            raise JudgeError(f"{public_url(self.base_url)}: judge {self.model} replied without a 'Rating: N' line: {raw[:200]!r}")
        judgment = Judgment(rating=int(found[-1]), raw=raw, cached=False)
        write_json(path, {"rating": judgment.rating, "raw": raw, **self.describe()})
        return judgment

    def _ask(self, content: str) -> str:
        body = {"model": self.model, "temperature": self.temperature, "messages": [{"role": "user", "content": content}]}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        self._check_transport(bool(key))
        parts = urllib.parse.urlsplit(self.base_url)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif parts.username is not None:  # user:password@ in the URL: HTTP basic authentication
            token = base64.b64encode(f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}".encode())
            headers["Authorization"] = f"Basic {token.decode()}"
        netloc = parts.netloc.rsplit("@", 1)[-1]
        url = urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/") + "/chat/completions", parts.query, ""))
        request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                reply = json.loads(response.read().decode())
        except (urllib.error.URLError, TimeoutError, json.JSONDecodeError) as e:
            raise JudgeError(f"{public_url(self.base_url)}: judge request failed ({e}); check the URL, the model name and {self.api_key_env}") from None
        try:
            return reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as e:
            raise JudgeError(f"{public_url(self.base_url)}: not an OpenAI chat completion: {str(reply)[:200]}") from e
