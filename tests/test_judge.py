"""The LLM-judge scorer against a local stub of an OpenAI-compatible chat endpoint."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

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
    import urllib.request

    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    sent = []
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: sent.append(a))  # nothing may leave this machine
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
    ("Rating: 7", None), ("Rating: 0", None), ("I cannot rate this.", None), ("Rating: 2\nRating: 4.0", 4),
])
def test_a_fractional_rating_is_rounded_halves_up_never_cut(reply: str, rating: int | None) -> None:
    from clt_kit.evaluate.judge import parse_rating

    assert parse_rating(reply) == rating


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
