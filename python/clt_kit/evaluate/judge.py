"""The LLM-judge scorer for IF at the paper scale: an OpenAI-compatible chat endpoint rates each
answer 1-5, as the paper's GPT-4o judge did (docs/study.md; its prompt is the paper's Figure 9).

The prompt follows the paper's structure: the rating scale, the user's prompt, the answer, and a
request for one rating. The judge model, the prompt's sha256 and the temperature go with every
judgment; judgments are cached on disk by everything that determines them (the endpoint too,
without credentials), so a rerun asks nothing twice; a cached entry is checked before use. Switch-awareness stays with the
caller (evaluate.tasks.score): an answer not in the prompt's language is rated 1 without asking. Uses only the standard
library (http.client), so no client package is needed.

How a request travels, the rules this module keeps (tests/test_judge.py):
- Redirects are never followed (301, 302, 303, 307, 308 alike, same origin or not): the request carries the API key, and a
  redirect is a JudgeError naming where it pointed (without credentials). So the key only ever goes to the configured URL.
- Credentials (the API key, or user:password in the URL) never go over plain http to a host other than this machine,
  unless `allow_http` (--judge-allow-http). The rule holds for every host that would see them in plain: the judge's, and
  an http proxy's for an http judge.
- Proxies come from the environment only (https_proxy for an https judge, http_proxy for an http one, all_proxy
  otherwise; no_proxy is honoured; either case) and must be http:// proxies. A judge on this machine is always reached
  directly. An https judge behind a proxy is reached through a CONNECT tunnel: the proxy sees the host and port, the key
  travels inside TLS checked against the judge's own host name.
- Each try has one deadline, `timeout` seconds for everything (connecting, TLS, sending, the status, headers and body): a
  server that trickles its reply is cut off at the deadline; a try that fails so is retried like a dropped connection.
- A rating is the number on the reply's last "Rating:" line (see parse_rating); anything else is a JudgeError.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.client
import ipaddress
import json
import logging
import os
import re
import socket
import ssl
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from clt_kit.jsonio import InputError, canonical, read_json, write_json

log = logging.getLogger("clt_kit")

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
# A plain number: digits, then perhaps a decimal point or comma and one or two digits. Three digits
# after either separator would be thousands in one convention or the other ("1,000", "1.000"), so
# they are not a plain number.
_NUMBER = r"[0-9]+(?:[.,][0-9]{1,2})?"
# What may follow "Rating:" on its line: the number, bold (**) around it, "/5" or "out of 5", a full stop.
_RATING_REST = re.compile(rf"\**\s*(?P<number>{_NUMBER})\s*\**\s*(?:(?:/|out of)\s*5\s*\**\s*)?\.?")
# HTTP answers worth asking again (rate limits, overloaded or failing servers), and how often.
RETRY_STATUS = {408, 409, 429, 500, 502, 503, 504}
MAX_TRIES = 5


class RatingError(ValueError):
    """A judge's reply without a rating of the scale (the message says what is wrong)."""


def parse_rating(raw: str) -> int:
    """The rating of a judge's reply. The reply's last "Rating:" is followed, on its line, by a
    plain number (4, 4.5, 4,5, 3.25; optionally in bold, as "4/5" or "4 out of 5", with a full
    stop); its value itself must lie in the scale, 1 <= value <= 5, and is rounded to the nearest
    integer with halves up (4.5 -> 5, never cut down to 4). Anything else raises RatingError: no
    "Rating:", a value outside 1-5 (0, 0.5, 5.4, 7, -3), or not a plain number (1,000, 4.125, 1e3,
    "4 or 5", text after the number)."""
    at = raw.rfind("Rating:")
    if at < 0:
        raise RatingError("without a 'Rating: N' line")
    rest = raw[at + len("Rating:"):].split("\n", 1)[0].strip()
    found = _RATING_REST.fullmatch(rest)
    if found is None:
        raise RatingError(f"with a rating that is not a plain number of 1-5 ({rest[:40]!r})")
    value = Fraction(found["number"].replace(",", "."))
    if not 1 <= value <= 5:
        raise RatingError(f"with a rating out of the scale 1-5 ({found['number']})")
    return int(value + Fraction(1, 2))


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
class Proxy:
    """The http proxy the environment names for a judge URL, and the variable that names it."""

    variable: str
    url: urllib.parse.SplitResult


def env_proxy(parts: urllib.parse.SplitResult) -> Proxy | None:
    """The proxy the environment gives for the judge at `parts`: none for a judge on this machine
    or one no_proxy lists; else https_proxy (or http_proxy for an http judge), else all_proxy.
    Only http:// proxies (or host:port) are used; another kind (socks5://, https://) is a JudgeError."""
    host = parts.hostname or ""
    if is_local(host):
        return None
    proxies = urllib.request.getproxies_environment()
    if urllib.request.proxy_bypass_environment(host, proxies):
        return None
    for name in (parts.scheme, "all"):
        value = proxies.get(name)
        if value:
            variable = f"{name}_proxy"
            url = urllib.parse.urlsplit(value if "://" in value else f"http://{value}")
            if url.scheme != "http" or not url.hostname:
                raise JudgeError(f"{variable}={public_url(value)}: the judge goes through http:// proxies only; set {variable}"
                                 f" to one, or add {host} to no_proxy to reach the judge directly")
            return Proxy(variable, url)
    return None


def _basic(username: str | None, password: str | None) -> str:
    """An HTTP basic authorization header's value for URL-quoted user and password."""
    token = base64.b64encode(f"{urllib.parse.unquote(username or '')}:{urllib.parse.unquote(password or '')}".encode())
    return f"Basic {token.decode()}"


class Deadline:
    """One try's deadline: when it passes, every connection the try opened is shut down, so a
    blocked connect, handshake or read returns at once however slowly the server sends."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.end = time.monotonic() + seconds
        self.expired = False
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def connect(self, address: tuple[str, int], timeout: object = None, source_address: tuple[str, int] | None = None) -> socket.socket:
        """socket.create_connection within what is left of the deadline (http.client's hook)."""
        left = self.end - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"no complete answer within {self.seconds:g} s")
        sock = socket.create_connection(address, left, source_address)
        with self._lock:
            watched = sock.dup()  # the same connection, still at hand when http.client wraps `sock` in TLS
            self._sockets.append(watched)
            if self.expired:
                _shut(watched)
        return sock

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)

    def close(self) -> None:
        self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass  # already closed


@dataclass(frozen=True)
class Judge:
    """An OpenAI-compatible chat endpoint (`base_url` ends in /v1) used as a 1-5 rater."""

    base_url: str
    model: str
    cache: Path
    temperature: float = 0.0
    api_key_env: str = "OPENAI_API_KEY"
    timeout: float = 120.0  # seconds for each try, all of it: connecting, sending and the whole reply
    allow_http: bool = False  # send credentials over plain http to a host other than this machine
    backoff: float = 1.0  # seconds before the first retry; doubled each time (or the server's Retry-After)
    in_flight: int = 16  # requests sent at once by rate_all

    def describe(self) -> dict[str, Any]:
        """What is stored with a run: everything that determines a judgment but the texts (the
        endpoint without credentials)."""
        return {"model": self.model, "temperature": self.temperature, "prompt_sha256": PROMPT_SHA256, "base_url": public_url(self.base_url)}

    def _check_transport(self, has_key: bool) -> Proxy | None:
        """The proxy to go through (None: directly), once the credentials' rule is checked: they
        (an API key, or user:password in the URL) never go over plain http to a host other than
        this machine, the judge's or an http proxy's, unless `allow_http` says so."""
        parts = urllib.parse.urlsplit(self.base_url)
        if parts.scheme not in ("http", "https"):
            raise JudgeError(f"{public_url(self.base_url)}: the judge URL must start with https:// (or http:// for a server on this machine)")
        proxy = env_proxy(parts)
        has_credentials = has_key or parts.username is not None or parts.password is not None
        if parts.scheme == "http" and has_credentials and not self.allow_http:
            plain = [parts.hostname or ""] + ([proxy.url.hostname or ""] if proxy else [])
            if not all(is_local(host) for host in plain):
                through = f" (through {proxy.variable}={public_url(proxy.url.geturl())})" if proxy else ""
                raise JudgeError(
                    f"{public_url(self.base_url)}: refusing to send credentials over plain http to another machine{through}; use https,"
                    " or pass --judge-allow-http if the network between is trusted"
                )
        return proxy

    def _entry(self, prompt: str, answer: str) -> tuple[str, Path]:
        """The cache key of a judgment and the file that holds it."""
        key = hashlib.sha256(canonical({**self.describe(), "prompt": prompt, "answer": answer}).encode()).hexdigest()
        return key, self.cache / key[:2] / f"{key}.json"

    def _cached(self, key: str, path: Path) -> Judgment | None:
        """The judgment cached at `path`, if it is sound: it answers `key` with this judge, and its
        rating is what its stored reply says under parse_rating. A file that is not (edited,
        copied from another entry, damaged, written by an older kit) is logged and None: rated again."""
        if not path.exists():
            return None
        try:
            stored = read_json(path)
        except (InputError, UnicodeDecodeError, OSError) as e:
            problem = f"unreadable ({e})"
        else:
            problem = _entry_problem(stored, {"key": key, **self.describe()})
        if problem is None:
            return Judgment(rating=stored["rating"], raw=stored["raw"], cached=True)
        log.warning("%s: a judge cache entry that cannot be used (%s); rating that answer again", path, problem)
        return None

    def rate(self, prompt: str, answer: str) -> Judgment:
        """The judge's 1-5 rating of `answer` to `prompt` (from the cache when asked before and sound)."""
        key, path = self._entry(prompt, answer)
        cached = self._cached(key, path)
        if cached is not None:
            return cached
        raw = self._ask(JUDGE_PROMPT.format(prompt=prompt, answer=answer))
        try:
            rating = parse_rating(raw)
        except RatingError as e:
            raise JudgeError(f"{public_url(self.base_url)}: judge {self.model} replied {e}: {raw[:200]!r}") from None
        write_json(path, {"rating": rating, "raw": raw, "key": key, **self.describe()})
        return Judgment(rating=rating, raw=raw, cached=False)

    def rate_all(self, pairs: list[tuple[str, str]]) -> list[Judgment]:
        """`rate` of every (prompt, answer), in order; each distinct pair is asked once, up to
        `in_flight` requests at once. The first failure stops the rest and is raised (the ratings
        already made stay cached)."""
        from concurrent.futures import ThreadPoolExecutor

        distinct = list(dict.fromkeys(pairs))
        with ThreadPoolExecutor(max_workers=max(1, self.in_flight)) as pool:
            rated = dict(zip(distinct, pool.map(lambda pair: self.rate(*pair), distinct)))
        return [rated[pair] for pair in pairs]

    def _ask(self, content: str) -> str:
        body = {"model": self.model, "temperature": self.temperature, "messages": [{"role": "user", "content": content}]}
        headers = {"Content-Type": "application/json"}
        key = os.environ.get(self.api_key_env)
        proxy = self._check_transport(bool(key))
        parts = urllib.parse.urlsplit(self.base_url)
        if key:
            headers["Authorization"] = f"Bearer {key}"
        elif parts.username is not None:  # user:password@ in the URL: HTTP basic authentication
            headers["Authorization"] = _basic(parts.username, parts.password)
        reply = self._send(parts, proxy, json.dumps(body).encode(), headers)
        try:
            content = reply["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise JudgeError(f"{public_url(self.base_url)}: not an OpenAI chat completion: {str(reply)[:200]}") from None
        if not isinstance(content, str):
            raise JudgeError(f"{public_url(self.base_url)}: judge {self.model} answered with no text (content {content!r}); {reply!s:.200}")
        return content

    def _send(self, parts: urllib.parse.SplitResult, proxy: Proxy | None, body: bytes, headers: dict[str, str]) -> Any:
        """The endpoint's JSON reply; retried with backoff on rate limits, server errors, timeouts
        and dropped connections (MAX_TRIES in all); a redirect is never followed; every failure is
        a JudgeError saying what happened."""
        where = public_url(self.base_url)
        for attempt in range(1, MAX_TRIES + 1):
            wait = self.backoff * 2 ** (attempt - 1)
            try:
                status, reason, reply_headers, data = self._try(parts, proxy, body, headers)
            except (TimeoutError, OSError, http.client.HTTPException) as e:
                if attempt == MAX_TRIES:
                    raise JudgeError(f"{where}: judge request failed after {attempt} tries ({type(e).__name__}: {e});"
                                     " check that the server runs and the URL") from None
                time.sleep(wait)
                continue
            if 200 <= status < 300:
                break
            if 300 <= status < 400:
                raise JudgeError(f"{where}: the judge answered HTTP {status} ({reason}), a redirect to"
                                 f" {_redirect_target(parts, reply_headers.get('Location'))}; redirects are never followed, as the"
                                 " request carries the API key: set --judge-url to the endpoint itself if you trust it") from None
            if status not in RETRY_STATUS or attempt == MAX_TRIES:
                raise JudgeError(f"{where}: the judge answered HTTP {status} ({reason}) after {attempt} tries;"
                                 f" check the URL, the model name and {self.api_key_env}") from None
            time.sleep(_retry_after(reply_headers.get("Retry-After"), wait))
        try:
            return json.loads(data.decode("utf-8"))
        except UnicodeDecodeError as e:
            raise JudgeError(f"{where}: the judge's reply is not valid UTF-8 (byte {e.start})") from None
        except json.JSONDecodeError as e:
            raise JudgeError(f"{where}: the judge's reply is not JSON ({e.msg}): {data[:200]!r}") from None

    def _try(self, parts: urllib.parse.SplitResult, proxy: Proxy | None, body: bytes,
             headers: dict[str, str]) -> tuple[int, str, http.client.HTTPMessage, bytes]:
        """One POST to the chat completions of `parts` (directly or through `proxy`), all of it
        within `timeout` seconds: (status, reason, headers, body)."""
        secure = parts.scheme == "https"
        host, port = parts.hostname or "", parts.port or (443 if secure else 80)
        path = parts.path.rstrip("/") + "/chat/completions" + (f"?{parts.query}" if parts.query else "")
        headers = dict(headers)
        context = _tls() if secure else None
        if proxy is None:
            connection = http.client.HTTPSConnection(host, port, timeout=self.timeout, context=context) if secure \
                else http.client.HTTPConnection(host, port, timeout=self.timeout)
        else:
            tunnel = {"Proxy-Authorization": _basic(proxy.url.username, proxy.url.password)} if proxy.url.username is not None else {}
            at = (proxy.url.hostname or "", proxy.url.port or 80)
            if secure:  # a CONNECT tunnel: the proxy sees the host and port, the rest is TLS with the judge
                connection = http.client.HTTPSConnection(*at, timeout=self.timeout, context=context)
                connection.set_tunnel(host, port, headers=tunnel)
            else:  # the proxy gets the request itself (allowed by _check_transport)
                connection = http.client.HTTPConnection(*at, timeout=self.timeout)
                netloc = f"[{host}]" if ":" in host else host
                path = f"http://{netloc}:{port}{path}"
                headers.update(tunnel)
        deadline = Deadline(self.timeout)
        connection._create_connection = deadline.connect  # type: ignore[attr-defined] # every socket of this try, under the deadline
        try:
            connection.request("POST", path, body=body, headers=headers)
            response = connection.getresponse()
            reply = response.status, response.reason, response.headers, response.read()
        except (OSError, http.client.HTTPException):
            if deadline.expired:
                raise TimeoutError(f"no complete answer within {self.timeout:g} s") from None
            raise
        finally:
            connection.close()
            deadline.close()
        if deadline.expired:  # cut off: what came may be cut short anywhere (http.client reads an end of file as the headers' end)
            raise TimeoutError(f"no complete answer within {self.timeout:g} s")
        return reply


@functools.cache
def _tls() -> ssl.SSLContext:
    """The system's certificate authorities, host names checked (one context for every request)."""
    return ssl.create_default_context()


def _redirect_target(parts: urllib.parse.SplitResult, location: str | None) -> str:
    """Where a redirect points, resolved against the request and without credentials."""
    if not location:
        return "nowhere (no Location header)"
    base = urllib.parse.urlunsplit((parts.scheme, parts.netloc.rsplit("@", 1)[-1], parts.path, "", ""))
    try:
        return public_url(urllib.parse.urljoin(base, location.strip()))
    except ValueError:
        return "an invalid Location"


def _entry_problem(stored: Any, expected: dict[str, Any]) -> str | None:
    """What is wrong with a judge cache entry, or None: it must hold `expected`'s fields (the key
    it answers and the judge), a reply, and the rating parse_rating reads in that reply."""
    if not isinstance(stored, dict):
        return f"a JSON {type(stored).__name__}, not an object"
    for field, value in expected.items():
        if stored.get(field) != value:
            return f"its {field} is {stored.get(field)!r}, not {value!r}"
    raw, rating = stored.get("raw"), stored.get("rating")
    if not isinstance(raw, str):
        return "no reply stored"
    try:
        expected_rating = parse_rating(raw)
    except RatingError as e:
        return f"its reply has no rating: {e}"
    if type(rating) is not int or rating != expected_rating:
        return f"its rating is {rating!r}, but its reply says {expected_rating}"
    return None


def _retry_after(header: str | None, default: float) -> float:
    """Seconds to wait as the server's Retry-After header says (seconds), else `default`; at most a minute."""
    try:
        return min(60.0, max(0.0, float(header))) if header is not None else default
    except ValueError:
        return default
