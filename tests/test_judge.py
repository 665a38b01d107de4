"""The LLM-judge scorer against a local stub of an OpenAI-compatible chat endpoint."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from clt_kit.evaluate.judge import JUDGE_PROMPT, PROMPT_SHA256, Judge, JudgeError
from clt_kit.evaluate.tasks import score


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


def test_a_reply_without_a_rating_or_a_dead_endpoint_is_a_clear_error(endpoint: str, tmp_path: Path) -> None:
    with pytest.raises(JudgeError, match="without a 'Rating: N' line"):
        Judge(endpoint, "m", tmp_path).rate("p", "no rating")
    with pytest.raises(JudgeError, match="judge request failed"):
        Judge("http://127.0.0.1:9/v1", "m", tmp_path, timeout=2).rate("p", "a")
