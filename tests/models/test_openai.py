"""The openai backend against a real OpenAI-compatible HTTP server on loopback (wrapping the hf backend)."""

from __future__ import annotations

import socket

import pytest

from oversight.models import HFConfig, Message, ModelNotFound, OpenAIConfig, Request, Sampling
from oversight.models.openai_backend import OpenAIBackend

from openai_server import make_server

pytestmark = pytest.mark.slow  # an OpenAI-compatible server process serving a model


def teach_letters(path, p_a: float = 0.7, steps: int = 150):
    """Train the tiny model for a moment so that, asked for a letter, it answers A with p_a and B otherwise.
    Then the letters are among the top log-probabilities and the server's numbers mean something."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(path, local_files_only=True)
    model = AutoModelForCausalLM.from_pretrained(path, local_files_only=True)
    a, b = tok.convert_tokens_to_ids("A"), tok.convert_tokens_to_ids("B")
    prompts = []
    for q in ["Which answer is correct?", "Who left at dawn?", "Pick one."]:
        msgs = [{"role": "user", "content": q},
                {"role": "user", "content": "Answer options:\nA. yes\nB. no\nReply with the letter of the correct answer only."}]
        prompts.append(tok.apply_chat_template(msgs, add_generation_prompt=True, tokenize=False))
    target = torch.zeros(len(tok))
    target[a], target[b] = p_a, 1 - p_a
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(steps):
        for text in prompts:
            ids = tok(text, return_tensors="pt", add_special_tokens=False)["input_ids"]
            logp = torch.log_softmax(model(ids).logits[0, -1], -1)
            loss = -(target * logp).sum()
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from conftest import build_tiny_model
    from oversight.models.hf import HFBackend

    path = teach_letters(build_tiny_model(tmp_path_factory.mktemp("served")))
    hf = HFBackend(HFConfig(name="served", model=str(path), device="cpu", max_seq_len=1024))
    hf.load()
    srv = make_server(hf, model_name="tiny")
    yield hf, f"http://127.0.0.1:{srv.server_address[1]}/v1"
    srv.shutdown()
    hf.close()


def client(base_url, **kw) -> OpenAIBackend:
    return OpenAIBackend(OpenAIConfig(name="remote", model="tiny", base_url=base_url, **kw))


def req(text, **s):
    return Request(messages=[Message("user", text)], sampling=Sampling(**s))


def test_completion_over_http_matches_the_served_model(server):
    hf, url = server
    remote = client(url)
    got = remote.complete([req("Who left at dawn?", max_new_tokens=12, min_new_tokens=0)])[0]
    want = hf.complete([req("Who left at dawn?", max_new_tokens=12)])[0]
    assert got.text == want.text and got.tokens == want.tokens
    assert len(remote.complete([req("one", max_new_tokens=4), req("two", max_new_tokens=4)])) == 2


def test_streaming_over_http(server):
    hf, url = server
    pieces = list(client(url).stream(req("Tell me about the debate.", max_new_tokens=20)))
    assert len(pieces) > 1
    assert "".join(pieces) == hf.complete([req("Tell me about the debate.", max_new_tokens=20)])[0].text


def test_choice_scoring_from_first_token_logprobs(server):
    import math

    hf, url = server
    probs = client(url).score_choices([Message("user", "Who left at dawn?")], ["yes", "no"])
    assert sum(probs) == pytest.approx(1.0)
    # Same numbers as the served model's own next-token distribution over the two letters.
    prompt = Request(messages=[Message("user", "Who left at dawn?"),
                               Message("user", "Answer options:\nA. yes\nB. no\nReply with the letter of the correct answer only.")])
    top = {text: lp for _, text, lp in hf.top_logprobs(prompt, k=20)}
    pa, pb = math.exp(top["A"]), math.exp(top["B"])
    assert probs == pytest.approx([pa / (pa + pb), pb / (pa + pb)], rel=1e-4)
    assert probs[0] > probs[1]  # the model was taught to prefer A


def test_unreachable_server_names_the_base_url_setting():
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    remote = client(f"http://127.0.0.1:{port}/v1", timeout_s=5)
    with pytest.raises(ModelNotFound) as err:
        remote.complete([req("hello")])
    assert "OVERSIGHT_MODEL__REMOTE__BASE_URL" in err.value.setting
    # Participants see the message: never the model server's address, which staff find in the detail.
    assert f"127.0.0.1:{port}" not in str(err.value) and "127.0.0.1" not in str(err.value)
    assert f"127.0.0.1:{port}" in err.value.detail
    assert f"127.0.0.1:{port}" in remote.info()["recent_errors"][-1]


def test_unknown_model_on_the_server_names_the_model_setting(server):
    _, url = server
    remote = OpenAIBackend(OpenAIConfig(name="remote", model="other", base_url=url))
    with pytest.raises(ModelNotFound) as err:
        remote.complete([req("hello")])
    assert "OVERSIGHT_MODEL__REMOTE__MODEL" in err.value.setting
