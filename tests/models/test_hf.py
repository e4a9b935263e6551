"""The hf backend on a tiny random Qwen2 model loaded from disk (CPU, offline)."""

from __future__ import annotations

import threading

import pytest

from oversight.models import HFConfig, Message, ModelNotFound, ModelTimeout, Request, Sampling
from oversight.models.hf import HFBackend


def req(text: str, **sampling) -> Request:
    return Request(messages=[Message("user", text)], sampling=Sampling(**sampling))


def new_backend(path, **kw) -> HFBackend:
    cfg = dict(name="tiny", model=str(path), device="cpu", max_seq_len=1024, batch_wait_ms=5)
    b = HFBackend(HFConfig(**(cfg | kw)))
    b.load()
    return b


def run_threads(backend, requests):
    out: list = [None] * len(requests)
    barrier = threading.Barrier(len(requests))

    def go(i):
        barrier.wait()
        out[i] = backend.complete([requests[i]])[0]

    threads = [threading.Thread(target=go, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return out


def test_concurrent_requests_from_threads_are_batched_and_rows_do_not_mix(tiny_model_path):
    backend = new_backend(tiny_model_path)
    try:
        prompts = [f"question {i} about {'the ship ' * i}harbour" for i in range(6)]  # different lengths: padding
        reqs = [req(p, max_new_tokens=24, min_new_tokens=24) for p in prompts]
        together = run_threads(backend, reqs)
        assert backend.stats.snapshot()["max_batch"] > 1
        alone = [backend.complete([req(p, max_new_tokens=24, min_new_tokens=24)])[0] for p in prompts]
        assert [c.tokens for c in together] == [24] * 6
        # Left padding, masks and positions are right: a row's output does not depend on its batch mates.
        assert [c.text for c in together] == [c.text for c in alone]
    finally:
        backend.close()


def test_request_arriving_mid_generation_joins_the_running_batch(tiny_model_path):
    backend = new_backend(tiny_model_path, batch_wait_ms=1)
    try:
        # Long enough that the late request surely arrives while it runs, even on a loaded machine.
        long = req("a long answer please", max_new_tokens=900, min_new_tokens=900)
        late = req("a late short question", max_new_tokens=12, min_new_tokens=12)
        first_tokens = threading.Event()
        result = {}

        def run_long():
            for i, _ in enumerate(backend.stream(long)):
                if i == 3:
                    first_tokens.set()
            result["long"] = True

        t = threading.Thread(target=run_long)
        t.start()
        assert first_tokens.wait(30)
        joined = backend.complete([late])[0]
        t.join()
        assert backend.stats.snapshot()["max_batch"] == 2
        alone = backend.complete([req("a late short question", max_new_tokens=12, min_new_tokens=12)])[0]
        assert joined.text == alone.text and joined.tokens == 12
    finally:
        backend.close()


def test_stream_yields_the_same_text_as_greedy_completion(hf_model):
    r = req("Who argues the ship left at dawn?", max_new_tokens=40)
    full = hf_model.complete([r])[0]
    pieces = list(hf_model.stream(req("Who argues the ship left at dawn?", max_new_tokens=40)))
    assert len(pieces) > 1
    assert "".join(pieces) == full.text
    assert full.text


def test_stop_string_cuts_output_and_is_never_streamed(hf_model):
    base = hf_model.complete([req("Tell me about the debate.", max_new_tokens=40, min_new_tokens=40)])[0].text
    # A stop string that first occurs in the middle of the unconstrained output.
    cut = next(i for i in range(6, len(base) - 3) if base[i : i + 2].isprintable() and base.find(base[i : i + 2]) == i)
    stop = base[cut : cut + 2]
    r = req("Tell me about the debate.", max_new_tokens=40, min_new_tokens=40, stop=(stop,))
    out = hf_model.complete([r])[0]
    assert out.text == base[:cut]
    assert out.finish_reason == "stop"
    streamed = "".join(hf_model.stream(req("Tell me about the debate.", max_new_tokens=40, min_new_tokens=40, stop=(stop,))))
    assert streamed == base[:cut]


def test_max_new_tokens_is_respected(hf_model):
    out = hf_model.complete([req("Count.", max_new_tokens=7, min_new_tokens=7)])[0]
    assert out.tokens == 7 and out.finish_reason == "length"
    free = hf_model.complete([req("Count.", max_new_tokens=5)])[0]
    assert free.tokens <= 5


def test_choice_scores_sum_to_one_and_follow_option_logprobs(hf_model, tiny_model_path):
    import math

    import torch
    from transformers import AutoModelForCausalLM

    prompt = [Message("user", "Which answer is correct?")]
    options = ["The answer is A.", "Option B is correct.", "Maybe."]
    probs = hf_model.score_choices(prompt, options)
    assert sum(probs) == pytest.approx(1.0)
    # Independent computation with a plain forward pass per option.
    model = AutoModelForCausalLM.from_pretrained(tiny_model_path, local_files_only=True).eval()
    prompt_ids = hf_model.encode_prompt(Request(messages=prompt))
    logps = []
    for o in options:
        o_ids = hf_model.tokenizer(o, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = model(torch.tensor([prompt_ids + o_ids])).logits[0].float()
        lp = torch.log_softmax(logits, -1)
        logps.append(sum(float(lp[len(prompt_ids) - 1 + k, t]) for k, t in enumerate(o_ids)))
    z = max(logps)
    expected = [math.exp(x - z) for x in logps]
    expected = [e / sum(expected) for e in expected]
    assert probs == pytest.approx(expected, rel=1e-3, abs=1e-6)


def test_timeout_raises_and_the_model_stays_usable(hf_model):
    r = Request(messages=[Message("user", "go on")], sampling=Sampling(max_new_tokens=900, min_new_tokens=900), timeout_s=0.001)
    with pytest.raises(ModelTimeout) as err:
        hf_model.complete([r])
    assert "timeout_s" in str(err.value.setting)
    with pytest.raises(ModelTimeout):
        list(hf_model.stream(Request(messages=r.messages, sampling=r.sampling, timeout_s=0.001)))
    ok = hf_model.complete([req("still there?", max_new_tokens=5, min_new_tokens=5)])[0]
    assert ok.tokens == 5


def test_seeded_sampling_is_reproducible(hf_model):
    a = hf_model.complete([req("Pick a word.", max_new_tokens=15, temperature=1.0, top_p=0.9, seed=7)])[0]
    b = hf_model.complete([req("Pick a word.", max_new_tokens=15, temperature=1.0, top_p=0.9, seed=7)])[0]
    assert a.text == b.text


def test_missing_model_path_names_the_setting(tmp_path):
    b = HFBackend(HFConfig(name="judge-llm", model=str(tmp_path / "no-such-model"), device="cpu"))
    with pytest.raises(ModelNotFound) as err:
        b.complete([req("hi")])
    assert "OVERSIGHT_MODEL__JUDGE_LLM__MODEL" in err.value.setting
    assert "no-such-model" in str(err.value)


def test_hub_id_not_in_local_cache_names_the_setting():
    b = HFBackend(HFConfig(name="qwen", model="nobody-here/not-a-model-xyz", device="cpu"))
    with pytest.raises(ModelNotFound) as err:
        b.load()
    assert "OVERSIGHT_MODEL__QWEN__MODEL" in err.value.setting
    assert "local_files_only" in str(err.value)


def test_static_cache_path_gives_the_same_greedy_text_as_the_dynamic_path(tiny_model_path, hf_model):
    static = new_backend(tiny_model_path, static_cache=True, batch_buckets=[1, 4])
    try:
        prompts = ["first question", "a second, longer question about the ship", "third"]
        reqs = [req(p, max_new_tokens=16, min_new_tokens=16) for p in prompts]
        got = static.complete(reqs)  # three rows in the bucket of four: one filler row
        want = [hf_model.complete([req(p, max_new_tokens=16, min_new_tokens=16)])[0].text for p in prompts]
        assert [c.text for c in got] == want
        assert static.stats.snapshot()["max_batch"] == 3
    finally:
        static.close()


def test_fallback_prompt_when_the_tokenizer_has_no_chat_template(tmp_path):
    from conftest import build_tiny_model

    path = build_tiny_model(tmp_path / "plain", chat_template=None)
    b = new_backend(path)
    try:
        text = b.render(Request(messages=[Message("system", "Be brief."), Message("user", "Hi")]))
        assert text == "system: Be brief.\nuser: Hi\nassistant:"
        assert b.complete([req("Hi", max_new_tokens=3, min_new_tokens=3)])[0].tokens == 3
    finally:
        b.close()


@pytest.mark.slow
def test_compiled_static_path_is_compiled_at_warm_up_only_and_matches_eager(tiny_model_path, hf_model):
    """The GPU fast path (static cache + torch.compile) exercised on CPU: compilation happens in warm(), requests
    reuse the graph, and greedy text equals the dynamic path's."""
    from torch._dynamo.utils import counters

    b = new_backend(tiny_model_path, compile=True, static_cache=True, batch_buckets=[2], static_len=128)
    try:
        b.warm()
        assert b.info()["compiled_buckets"] == [2]
        graphs = counters["stats"]["unique_graphs"]
        prompts = ["hello there", "the ship left at dawn"]
        got = b.complete([req(p, max_new_tokens=20, min_new_tokens=20) for p in prompts])
        assert counters["stats"]["unique_graphs"] == graphs  # nothing compiled inside a request
        want = [hf_model.complete([req(p, max_new_tokens=20, min_new_tokens=20)])[0].text for p in prompts]
        assert [c.text for c in got] == want
    finally:
        b.close()


@pytest.mark.slow
def test_a_model_compiled_after_another_was_closed_starts_clean(tiny_model_path, hf_model):
    """Closing a compiled model resets torch.compile's state, so the next compiled model warms up and serves."""
    first = new_backend(tiny_model_path, compile=True, static_cache=True, batch_buckets=[1], static_len=64)
    first.warm()
    first.close()
    assert first._compiled is None
    second = new_backend(tiny_model_path, compile=True, static_cache=True, batch_buckets=[1], static_len=64)
    try:
        second.warm()
        got = second.complete([req("hello there", max_new_tokens=5, min_new_tokens=5)])[0].text
        assert got == hf_model.complete([req("hello there", max_new_tokens=5, min_new_tokens=5)])[0].text
    finally:
        second.close()


def test_a_scheduler_thread_gets_its_own_cuda_graph_state():
    """torch 2.11 (the GPU box) asserts when CUDA-graph trees run in a thread other than the one that imported them;
    every compiled model's scheduler is another thread, so each sets that state up for itself."""
    import torch
    from torch._inductor import cudagraph_trees  # noqa: F401  (imported here, in the main thread)

    from oversight.models.hf import _init_cudagraph_thread_state

    seen = {}

    def scheduler_thread():
        seen["before"] = torch._C._is_key_in_tls("tree_manager_containers")
        _init_cudagraph_thread_state()
        seen["after"] = torch._C._is_key_in_tls("tree_manager_containers")

    t = threading.Thread(target=scheduler_thread)
    t.start()
    t.join()
    assert seen == {"before": False, "after": True}
