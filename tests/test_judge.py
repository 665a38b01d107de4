"""The LLM-judge scorer against a local stub of an OpenAI-compatible chat endpoint."""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import urllib.parse
from collections.abc import Iterator
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clt_kit.evaluate.judge import JUDGE_PROMPT, PROMPT_SHA256, Judge, JudgeError
from clt_kit.evaluate.tasks import score
from clt_kit.jsonio import InputError


class Stub(BaseHTTPRequestHandler):
    """Rates an answer by its length (1 + len % 5), or replies without a rating for 'no rating'."""

    requests: list[dict] = []

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        Stub.requests.append({"path": self.path, "auth": self.headers.get("Authorization"), **body})
        content = body["messages"][0]["content"]
        answer = content.split("[Answer]\n", 1)[1].split("\n\nReply with", 1)[0]
        reply = "I cannot say." if answer == "no rating" else f"It follows some instructions.\nRating: {1 + len(answer) % 5}"
        data = json.dumps({"choices": [{"message": {"role": "assistant", "content": reply}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[str]:
    Stub.requests = []
    server = HTTPServer(("127.0.0.1", 0), Stub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1"
    server.shutdown()


def test_ratings_requests_and_cache(endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    judge = Judge(endpoint, "judge-model", tmp_path / "cache", temperature=0.0)
    first = judge.rate("Write two sentences.", "abcdefg")  # 7 characters -> 1 + 7 % 5 = 3
    assert (first.rating, first.cached) == (3, False)
    assert judge.rate("Write two sentences.", "abcdefg") == type(first)(3, first.raw, True)  # from the cache
    assert len(Stub.requests) == 1
    sent = Stub.requests[0]
    assert sent["path"] == "/v1/chat/completions" and sent["auth"] == "Bearer sk-test"
    assert sent["model"] == "judge-model" and sent["temperature"] == 0.0
    assert sent["messages"] == [{"role": "user", "content": JUDGE_PROMPT.format(prompt="Write two sentences.", answer="abcdefg")}]
    stored = json.loads(next((tmp_path / "cache").rglob("*.json")).read_text())
    assert stored["prompt_sha256"] == PROMPT_SHA256 and stored["model"] == "judge-model" and stored["rating"] == 3


def test_if_scoring_with_a_judge_is_switch_aware(endpoint: str, tmp_path: Path) -> None:
    judge = Judge(endpoint, "judge-model", tmp_path)
    item = {"lang": "es", "prompt": "Escribe una frase.", "response": "Una frase.", "instructions": []}
    row = score("IF", item, "Una frase corta.", "es", judge)
    assert (row["rule"], row["score"]) == ("llm_judge", float(1 + len("Una frase corta.") % 5))
    switched = score("IF", item, "A short sentence.", "en", judge)
    assert (switched["rule"], switched["score"]) == ("language_switch", 1.0)
    assert len(Stub.requests) == 1  # the switched answer was never sent


def test_an_open_ended_item_without_instructions_is_rated_by_the_judge_alone(endpoint: str, tmp_path: Path) -> None:
    """Aya Dolly's items carry no instruction list: the judge rates them, and without a judge the
    error says how to give one (before: KeyError: 'instructions')."""
    item = {"id": "aya_dolly-test-es-0000001", "lang": "es", "prompt": "¿Por qué el cielo es azul?", "response": "Por la luz."}
    row = score("IF", item, "Porque el aire dispersa la luz azul.", "es", Judge(endpoint, "judge-model", tmp_path))
    assert (row["rule"], row["extracted"]) == ("llm_judge", None) and 1 <= row["score"] <= 5
    with pytest.raises(InputError, match=r"'aya_dolly-test-es-0000001' has no verifiable instructions.*--judge-url"):
        score("IF", item, "Porque el aire dispersa la luz azul.", "es")


def test_a_reply_without_a_rating_or_a_dead_endpoint_is_a_clear_error(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="without a 'Rating: N' line"):
        Judge(endpoint, "m", tmp_path).rate("p", "no rating")
    with pytest.raises(JudgeError, match="judge request failed"):
        Judge("http://127.0.0.1:9/v1", "m", tmp_path, timeout=2, backoff=0.01).rate("p", "a")


def test_the_api_key_never_goes_over_plain_http_to_another_machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    sent = []
    monkeypatch.setattr(socket, "create_connection", lambda *a, **k: sent.append(a))  # nothing may leave this machine
    for url in ("http://judge.example.com/v1", "http://10.1.2.3:8000/v1", "http://user:pw@judge.example.com/v1"):
        with pytest.raises(JudgeError, match="refusing to send credentials over plain http") as e:
            Judge(url, "m", tmp_path).rate("p", "a")
        assert "pw" not in str(e.value) and "sk-secret" not in str(e.value)
    monkeypatch.delenv("OPENAI_API_KEY")
    with pytest.raises(JudgeError, match="refusing"):  # credentials in the URL count too
        Judge("http://user:pw@judge.example.com/v1", "m", tmp_path).rate("p", "a")
    assert sent == []


def test_credentials_in_the_url_are_never_stored_or_printed(endpoint: str, tmp_path: Path) -> None:
    with_credentials = endpoint.replace("http://", "http://alice:hunter2@") + "?api_key=hunter3"
    judge = Judge(with_credentials, "judge-model", tmp_path / "cache")
    judge.rate("Write two sentences.", "abcdefg")
    stored = next((tmp_path / "cache").rglob("*.json")).read_text()
    assert "hunter2" not in stored and "hunter3" not in stored and "alice" not in stored
    assert json.loads(stored)["base_url"] == endpoint + "?api_key=REDACTED"
    assert "hunter" not in json.dumps(judge.describe())
    with pytest.raises(JudgeError) as e:
        Judge("http://alice:hunter2@127.0.0.1:9/v1", "m", tmp_path, timeout=2, backoff=0.01).rate("p", "a")
    assert "hunter2" not in str(e.value)


@pytest.mark.parametrize("reply, rating", [
    ("Rating: 4", 4), ("Rating: **5**", 5), ("Rating: 4.5", 5), ("Rating: 3.4", 3), ("Rating: 2,5", 3),
    ("Rating: 2\nRating: 4.0", 4), ("**Rating:** 3", 3), ("Rating: 4/5", 4), ("Rating: 4 out of 5.", 4),
    ("Rating: 1", 1), ("Rating: 5.", 5), ("Rating: 1.49", 1), ("Rating: 4,50", 5), ("Rating: 05", 5),
])
def test_a_fractional_rating_is_rounded_halves_up_never_cut(reply: str, rating: int) -> None:
    from clt_kit.evaluate.judge import parse_rating

    assert parse_rating(reply) == rating


@pytest.mark.parametrize("reply", [
    # out of the scale: the value itself must lie in 1-5 (before: 0.5 -> 1, 5.4 -> 5, -3 -> 3)
    "Rating: 0.5", "Rating: 5.4", "Rating: 5.01", "Rating: 0.99", "Rating: 7", "Rating: 0", "Rating: -3", "Rating: 4/10",
    # not a plain number (before: 1,000 -> 1, 1 000 -> 1, 4.125 -> 4, 1e3 -> 1)
    "Rating: 1,000", "Rating: 1.000", "Rating: 1 000", "Rating: 4.125", "Rating: 1e3", "Rating: 4 or 5", "Rating: 3-4",
    "Rating: four", "Rating: .5", "Rating: +4", "Rating: \u0664", "Rating: 4 (mostly)", "Rating: 4\nRating: n/a",
    "Rating:", "I cannot rate this.",
])
def test_a_rating_out_of_the_scale_or_not_a_plain_number_is_an_error(reply: str) -> None:
    from clt_kit.evaluate.judge import RatingError, parse_rating

    with pytest.raises(RatingError):
        parse_rating(reply)


@given(st.decimals(min_value=-10, max_value=1000, places=2, allow_nan=False, allow_infinity=False),
       st.sampled_from([".", ","]), st.sampled_from(["", "**"]), st.sampled_from(["", "/5", " out of 5", "."]))
def test_every_plain_number_is_its_value_rounded_halves_up_if_in_1_to_5(value: Decimal, separator: str, bold: str, tail: str) -> None:
    from clt_kit.evaluate.judge import RatingError, parse_rating

    number = f"{value:f}".replace(".", separator)
    reply = f"Fine.\nRating: {bold}{number}{bold}{tail}"
    if number.startswith("-"):
        with pytest.raises(RatingError):  # a sign is not part of a plain number
            parse_rating(reply)
    elif 1 <= value <= 5:
        assert parse_rating(reply) == int(value + Decimal("0.5"))
        assert abs(parse_rating(reply) - value) <= Decimal("0.5")
    else:
        with pytest.raises(RatingError, match="out of the scale"):
            parse_rating(reply)


@given(st.integers(min_value=1, max_value=99), st.integers(min_value=0, max_value=999), st.sampled_from([".", ","]))
def test_thousands_are_never_read_as_a_rating(head: int, group: int, separator: str) -> None:
    """'1,000' (or '1.000') is a thousand in one convention: never 1, whatever the digits."""
    from clt_kit.evaluate.judge import RatingError, parse_rating

    with pytest.raises(RatingError):
        parse_rating(f"Rating: {head}{separator}{group:03d}")


class Flaky(BaseHTTPRequestHandler):
    """Fails as real endpoints do, one way per path, then (for the retryable ones) answers."""

    calls: dict[str, int] = {}

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        kind = self.path.split("/")[1]
        Flaky.calls[kind] = Flaky.calls.get(kind, 0) + 1
        body: bytes | None = json.dumps({"choices": [{"message": {"content": "Fine.\nRating: 4"}}]}).encode()
        status = 200
        if kind == "busy" and Flaky.calls[kind] <= 2:
            status, body = 429, b"{}"
        elif kind == "down":
            status, body = 503, b"{}"
        elif kind == "closed":
            self.close_connection = True
            return  # the connection closes with no answer
        elif kind == "latin1":
            body = "Rating: 4 \u00e9".encode("latin-1")
        elif kind == "null":
            body = json.dumps({"choices": [{"message": {"content": None}}]}).encode()
        elif kind == "html":
            body = b"<html>Bad gateway</html>"
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def flaky() -> Iterator[str]:
    Flaky.calls = {}
    server = HTTPServer(("127.0.0.1", 0), Flaky)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_rate_limits_are_retried_with_backoff(flaky: str, tmp_path: Path) -> None:
    judge = Judge(f"{flaky}/busy/v1", "m", tmp_path, backoff=0.01)
    assert judge.rate("p", "a").rating == 4
    assert Flaky.calls["busy"] == 3


@pytest.mark.parametrize("kind, message", [
    ("down", "HTTP 503"), ("closed", "judge request failed after 5 tries"), ("latin1", "not valid UTF-8"),
    ("null", "no text"), ("html", "not JSON"),
])
def test_every_transport_or_format_failure_is_a_judge_error(flaky: str, tmp_path: Path, kind: str, message: str) -> None:
    with pytest.raises(JudgeError, match=message):
        Judge(f"{flaky}/{kind}/v1", "m", tmp_path, backoff=0.01, timeout=5).rate("p", "a")


def test_the_cache_key_includes_the_endpoint_and_rows_name_the_judge(endpoint: str, tmp_path: Path) -> None:
    first = Judge(endpoint, "judge-model", tmp_path)
    first.rate("p", "abc")
    other = Judge(endpoint.replace("127.0.0.1", "localhost"), "judge-model", tmp_path)
    assert other.rate("p", "abc").cached is False  # another endpoint: asked again, not read from the first's cache
    item = {"lang": "es", "prompt": "Escribe una frase.", "response": "x", "instructions": []}
    row = score("IF", item, "Una frase corta.", "es", first)
    assert row["judge"] == {"model": "judge-model", "temperature": 0.0, "prompt_sha256": PROMPT_SHA256, "base_url": endpoint}


class Slow(Stub):
    """The stub's ratings, each after 0.2 s, counting the requests in flight at once."""

    lock = threading.Lock()
    now = 0
    most = 0

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        with Slow.lock:
            Slow.now += 1
            Slow.most = max(Slow.most, Slow.now)
        time.sleep(0.2)
        try:
            super().do_POST()
        finally:
            with Slow.lock:
                Slow.now -= 1


def test_ratings_go_out_many_at_once_and_come_back_in_order(tmp_path: Path) -> None:
    from http.server import ThreadingHTTPServer

    server = ThreadingHTTPServer(("127.0.0.1", 0), Slow)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        judge = Judge(f"http://127.0.0.1:{server.server_port}/v1", "judge-model", tmp_path, in_flight=4)
        answers = ["a" * n for n in range(1, 9)]
        ratings = judge.rate_all([("Write.", a) for a in answers])
        assert [r.rating for r in ratings] == [1 + len(a) % 5 for a in answers]
        assert Slow.most >= 2  # several requests in flight at once (4 allowed)
        assert all(r.cached for r in judge.rate_all([("Write.", a) for a in answers]))  # the second time, from the cache
    finally:
        server.shutdown()


class Recorder(BaseHTTPRequestHandler):
    """Another server (another origin, or a proxy): records every request it gets, with its
    headers, and rates anything 5 (so a leaked request would be used as the rating)."""

    seen: list[dict] = []
    status = 200

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        Recorder.seen.append({"method": self.command, "path": self.path, "headers": dict(self.headers),
                              "body": self.rfile.read(length).decode() if length else ""})
        data = json.dumps({"choices": [{"message": {"content": "Rating: 5"}}]}).encode()
        self.send_response(Recorder.status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_CONNECT = _answer  # noqa: N815 - http.server's names

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    """http://127.0.0.1:PORT of a Recorder."""
    Recorder.seen, Recorder.status = [], 200
    server = HTTPServer(("127.0.0.1", 0), Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


class Redirect(BaseHTTPRequestHandler):
    """Answers every request with `status` and a Location taken from the path's second part
    ('/CODE/ENCODED-LOCATION/v1/chat/completions')."""

    calls = 0

    def do_POST(self) -> None:  # noqa: N802
        Redirect.calls += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        _, code, location = self.path.split("/", 3)[:3]
        self.send_response(int(code))
        self.send_header("Location", urllib.parse.unquote(location))
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirector() -> Iterator[str]:
    Redirect.calls = 0
    server = HTTPServer(("127.0.0.1", 0), Redirect)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.mark.parametrize("code", [301, 302, 303, 307, 308])
def test_a_redirect_is_never_followed_and_names_where_it_pointed(code: int, redirector: str, recorder: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: urllib re-sent the request (301-303 as a GET) to the Location's host with the
    API key, and used its reply as the rating."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    other = recorder.replace("127.0.0.1", "localhost") + "/v1/chat/completions?token=hunter2"
    same_origin_loop = f"{redirector}/{code}/{urllib.parse.quote(redirector + '/' + str(code), safe='')}/v1/chat/completions"
    for location, where in [(f"http://user:pw@{other.split('://')[1]}", other.replace("hunter2", "REDACTED")),
                            (same_origin_loop, same_origin_loop), ("/elsewhere", f"{redirector}/elsewhere")]:
        Redirect.calls = 0
        judge = Judge(f"{redirector}/{code}/{urllib.parse.quote(location, safe='')}/v1", "m", tmp_path, backoff=0.01)
        with pytest.raises(JudgeError, match=f"HTTP {code} .*a redirect to {re.escape(where)}; redirects are never followed") as e:
            judge.rate("p", "a")
        said = str(e.value).split("a redirect to", 1)[1]  # (the judge URL before it holds this test's Location)
        assert "sk-secret" not in said and "hunter2" not in said and "pw" not in said
        assert Redirect.calls == 1  # asked once: a redirect is not retried, nor followed round a loop
    assert Recorder.seen == []  # the other origin got nothing


class Trickle(BaseHTTPRequestHandler):
    """A valid rating, sent a byte every 0.4 s for about 10 s: in the headers ('/headers/...') or the body."""

    def do_POST(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers["Content-Length"]))
        data = json.dumps({"choices": [{"message": {"content": "Rating: 4"}}]}).encode().rjust(25, b" ")
        head = f"HTTP/1.0 200 OK\r\nContent-Length: {len(data)}\r\n".encode()
        slow = head[-25:] + b"\r\n" + data if self.path.startswith("/headers") else data
        self.wfile.write(head[:-25] if self.path.startswith("/headers") else head + b"\r\n")
        try:
            for byte in slow:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(0.4)
        except OSError:
            pass  # the client gave up

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.parametrize("where", ["headers", "body"])
def test_a_trickled_reply_is_cut_off_at_the_deadline(where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`timeout` bounds a whole try, not each read. Before: the reply, trickled over 10 s, came
    through with a 1 s timeout (each byte arrived within it)."""
    from http.server import ThreadingHTTPServer

    from clt_kit.evaluate import judge as judge_module

    monkeypatch.setattr(judge_module, "MAX_TRIES", 2)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        judge = Judge(f"http://127.0.0.1:{server.server_port}/{where}/v1", "m", tmp_path, timeout=1, backoff=0.01)
        started = time.monotonic()
        with pytest.raises(JudgeError, match=r"failed after 2 tries \(TimeoutError: no complete answer within 1 s\)"):
            judge.rate("p", "a")
        assert time.monotonic() - started < 3.5  # two tries of 1 s each, and a little (before: 10 s and a rating)
    finally:
        server.shutdown()


def test_a_judge_on_this_machine_is_reached_directly_whatever_the_proxy(endpoint: str, recorder: str, tmp_path: Path,
                                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Before: urllib sent the request, API key and all, in plain to http_proxy's host."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    for variable in ("no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    for variable in ("http_proxy", "HTTP_PROXY", "all_proxy"):
        monkeypatch.setenv(variable, recorder)
    assert Judge(endpoint, "m", tmp_path, backoff=0.01).rate("p", "abc").rating == 4
    assert Recorder.seen == [] and len(Stub.requests) == 1


def test_an_http_proxy_is_a_host_that_sees_the_key_in_plain(recorder: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("http_proxy", recorder)
    with pytest.raises(JudgeError, match="refusing to send credentials over plain http"):
        Judge("http://judge.invalid/v1", "m", tmp_path).rate("p", "a")
    assert Recorder.seen == []
    # with --judge-allow-http (the network between is trusted) the proxy gets the request itself
    assert Judge("http://judge.invalid/v1", "m", tmp_path, allow_http=True).rate("p", "a").rating == 5
    assert [(r["method"], r["path"], r["headers"]["Authorization"]) for r in Recorder.seen] == [
        ("POST", "http://judge.invalid:80/v1/chat/completions", "Bearer sk-secret")]


def test_an_https_judge_goes_through_a_proxy_in_a_tunnel_the_proxy_cannot_read(recorder: str, tmp_path: Path,
                                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """The proxy sees CONNECT host:port (and its own credentials), never the request or the key."""
    from clt_kit.evaluate import judge as judge_module

    monkeypatch.setattr(judge_module, "MAX_TRIES", 1)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    monkeypatch.setenv("HTTPS_PROXY", recorder.replace("http://", "http://proxyuser:proxypw@"))
    monkeypatch.delenv("https_proxy", raising=False)
    Recorder.status = 403
    with pytest.raises(JudgeError, match="Tunnel connection failed: 403") as e:
        Judge("https://judge.invalid/v1", "m", tmp_path).rate("p", "a")
    assert "proxypw" not in str(e.value)
    [connect] = Recorder.seen
    assert (connect["method"], connect["path"]) == ("CONNECT", "judge.invalid:443")
    assert "Authorization" not in connect["headers"] and "sk-secret" not in json.dumps(connect)
    assert connect["headers"]["Proxy-Authorization"] == "Basic " + base64.b64encode(b"proxyuser:proxypw").decode()


def test_no_proxy_and_proxies_of_another_kind(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    from clt_kit.evaluate import judge as judge_module

    monkeypatch.setattr(judge_module, "MAX_TRIES", 1)
    tried: list[tuple] = []

    def refuse(address: tuple, *args: object) -> None:
        tried.append(address)
        raise ConnectionRefusedError("refused by the test")

    monkeypatch.setattr(socket, "create_connection", refuse)  # nothing may leave this machine
    for variable in ("https_proxy", "HTTPS_PROXY", "no_proxy", "NO_PROXY"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("ALL_PROXY", "socks5://user:pw@10.1.2.3:1080")
    with pytest.raises(JudgeError, match=r"all_proxy=socks5://10.1.2.3:1080: the judge goes through http:// proxies only") as e:
        Judge("https://judge.invalid/v1", "m", tmp_path).rate("p", "a")
    assert "pw" not in str(e.value) and tried == []
    monkeypatch.setenv("NO_PROXY", "example.org,judge.invalid")
    with pytest.raises(JudgeError, match="refused by the test"):
        Judge("https://judge.invalid/v1", "m", tmp_path).rate("p", "a")
    assert tried == [("judge.invalid", 443)]  # directly, as no_proxy says


def test_a_bad_cache_entry_is_rated_again_with_a_warning(endpoint: str, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """Before: an entry edited to rating 9 (or copied from another answer's) was returned as is."""
    judge = Judge(endpoint, "judge-model", tmp_path)
    judge.rate("p", "abc"), judge.rate("p", "abcd")  # ratings 4 and 5
    entry = judge._entry("p", "abc")[1]
    other = judge._entry("p", "abcd")[1]
    good = json.loads(entry.read_text())
    bad_entries = {
        "rating 9": {**good, "rating": 9},
        "a rating its reply does not say": {**good, "rating": 2},
        "a rating as text": {**good, "rating": "4"},
        "another answer's entry": json.loads(other.read_text()),
        "another judge's entry": {**good, "model": "other-model"},
        "no key (written before keys were stored)": {k: v for k, v in good.items() if k != "key"},
        "a list": [good],
    }
    for name, bad in bad_entries.items():
        entry.write_text(json.dumps(bad))
        caplog.clear()
        asked = len(Stub.requests)
        again = judge.rate("p", "abc")
        assert (again.rating, again.cached, len(Stub.requests)) == (4, False, asked + 1), name
        assert "a judge cache entry that cannot be used" in caplog.text and str(entry) in caplog.text, name
        assert json.loads(entry.read_text()) == good  # written again, sound
    for damaged in (b'{"rating": 4', b"\xff\xfe"):
        entry.write_bytes(damaged)
        assert judge.rate("p", "abc").cached is False
    assert judge.rate("p", "abc").cached is True


def test_identical_pairs_at_once_are_asked_once_and_written_without_a_crash(tmp_path: Path) -> None:
    """Before: 64 identical pairs sent 64 requests, whose writers of the one cache entry shared a
    temporary name (FileNotFoundError in about 2 of 5 batches)."""
    from concurrent.futures import ThreadPoolExecutor
    from http.server import ThreadingHTTPServer

    Stub.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        ratings = Judge(url, "m", tmp_path / "a", in_flight=16).rate_all([("p", "abc")] * 64)
        assert [r.rating for r in ratings] == [4] * 64 and len(Stub.requests) == 1
        for batch in range(5):  # one entry rated by many threads at once (another judge object each time)
            judge = Judge(url, "m", tmp_path / f"b{batch}")
            with ThreadPoolExecutor(max_workers=16) as pool:
                assert {r.rating for r in pool.map(lambda _: judge.rate("p", "abc"), range(64))} == {4}
    finally:
        server.shutdown()
