"""The LLM-judge scorer for IF at the paper scale: an OpenAI-compatible chat endpoint rates each
answer 1-5, as the paper's GPT-4o judge did (docs/study.md; its prompt is the paper's Figure 9).

The prompt follows the paper's structure: the rating scale, the user's prompt, the answer, and a
request for one rating. The judge model, the prompt's sha256 and the temperature go with every
judgment; judgments are cached on disk by everything that determines them (the endpoint too,
without credentials), so a rerun asks nothing twice. Switch-awareness stays with the caller (evaluate.tasks.score): an answer not in the
prompt's language is rated 1 without asking. Uses only the standard library (urllib), so no client package is needed.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import ipaddress
import json
import os
import re
import urllib.error
import urllib.parse
import urllib.request
import time
from dataclasses import dataclass
from fractions import Fraction
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
_RATING = re.compile(r"Rating:\s*\**\s*(\d+(?:[.,]\d+)?)")
# HTTP answers worth asking again (rate limits, overloaded or failing servers), and how often.
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_TRIES = 5


def parse_rating(raw: str) -> int | None:
    """The rating of a judge's reply: the number of its last "Rating: N" line, rounded to the
    nearest integer with halves up (4.5 -> 5; a fractional rating is never cut down to 4), if it
    is then 1-5; None when the reply has no rating (or one out of range)."""
    found = _RATING.findall(raw)
    if not found:
        return None
    value = Fraction(found[-1].replace(",", "."))
    rating = int(value + Fraction(1, 2)) if value >= 0 else None
    return rating if rating is not None and 1 <= rating <= 5 else None


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
    backoff: float = 1.0  # seconds before the first retry; doubled each time (or the server's Retry-After)
    in_flight: int = 16  # requests sent at once by rate_all

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
        key = hashlib.sha256(canonical({**self.describe(), "prompt": prompt, "answer": answer}).encode()).hexdigest()
        path = self.cache / key[:2] / f"{key}.json"
        if path.exists():
            stored = read_json(path)
            return Judgment(rating=stored["rating"], raw=stored["raw"], cached=True)
        raw = self._ask(JUDGE_PROMPT.format(prompt=prompt, answer=answer))
        rating = parse_rating(raw)
        if rating is None:
            raise JudgeError(f"{public_url(self.base_url)}: judge {self.model} replied without a 'Rating: N' line of 1-5: {raw[:200]!r}")
        judgment = Judgment(rating=rating, raw=raw, cached=False)
        write_json(path, {"rating": judgment.rating, "raw": raw, **self.describe()})
        return judgment

    def rate_all(self, pairs: list[tuple[str, str]]) -> list[Judgment]:
        """`rate` of every (prompt, answer), up to `in_flight` requests at once; in order. The first
        failure stops the rest and is raised (the ratings already made stay cached)."""
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=max(1, self.in_flight)) as pool:
            return list(pool.map(lambda pair: self.rate(*pair), pairs))

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
        reply = self._send(request)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"{public_url(self.base_url)}: not an OpenAI chat completion: {str(reply)[:200]}") from None
        if not isinstance(content, str):
            raise JudgeError(f"{public_url(self.base_url)}: judge {self.model} answered with no text (content {content!r}); {reply!s:.200}")
        return content

    def _send(self, request: urllib.request.Request) -> Any:
        """The endpoint's JSON reply; retried with backoff on rate limits, server errors, timeouts
        and dropped connections (MAX_TRIES in all); every failure is a JudgeError saying what happened."""
        where = public_url(self.base_url)
        for attempt in range(1, MAX_TRIES + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:
                    data = response.read()
                break
            except urllib.error.HTTPError as e:
                if e.code not in RETRY_STATUS or attempt == MAX_TRIES:
                    raise JudgeError(f"{where}: the judge answered HTTP {e.code} ({e.reason}) after {attempt} tries;"
                                     f" check the URL, the model name and {self.api_key_env}") from None
                wait = _retry_after(e.headers.get("Retry-After"), wait)
            except (urllib.error.URLError, TimeoutError, ConnectionError, http.client.HTTPException, OSError) as e:
                if attempt == MAX_TRIES:
                    raise JudgeError(f"{where}: judge request failed after {attempt} tries ({type(e).__name__}: {e});"
                                     " check that the server runs and the URL") from None
            time.sleep(wait)
        try:
            return json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise JudgeError(f"{where}: the judge's reply is not valid UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise JudgeError(f"{where}: the judge's reply is not JSON ({e.msg}): {data[:200]!r}") from None


def _retry_after(header: str | None, default: float) -> float:
    """Seconds to wait as the server's Retry-After header says (seconds), else `default`; at most a minute."""
    try:
        return min(60.0, max(0.0, float(header))) if header is not None else default
    except ValueError:
        return default
