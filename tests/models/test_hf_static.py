"""The hf backend's static path (row slots in a preallocated cache, pipelined decode) on the tiny model, on CPU.

Arrivals are made deterministic by submitting requests from inside the scheduler thread at a chosen decode step.
Every greedy output must equal the same request served alone on the dynamic path: slots, shifts, bucket moves and
the one-step-late token reading must never change what a row generates.
"""

from __future__ import annotations

import pytest

from oversight.models import HFConfig, Message, Request, Sampling
from oversight.models.hf import HFBackend


def req(text: str, n: int, **sampling) -> Request:
    return Request(messages=[Message("user", text)], sampling=Sampling(max_new_tokens=n, min_new_tokens=n, **sampling))


def static_backend(path, **kw) -> HFBackend:
    cfg = dict(name="tiny", model=str(path), device="cpu", max_seq_len=1024, batch_wait_ms=5,
               static_cache=True, batch_buckets=[1, 2, 4], max_batch_size=4, static_len=128)
    b = HFBackend(HFConfig(**(cfg | kw)))
    b.load()
    return b


def alone(hf_model, r: Request) -> str:
    return hf_model.complete([r])[0].text


def arrivals(backend, schedule: dict[int, list[Request]]) -> list:
    """Submit schedule[k] when the static engine launches its k-th decode step; returns the jobs in order."""
    engine, launch = backend._slots, backend._slots._launch
    jobs: list = []
    count = {"n": 0}

    def launch_and_inject():
        count["n"] += 1
        for r in schedule.get(count["n"], []):
            job = backend._new_job("gen", r)
            jobs.append(job)
            backend._submit([job])
        return launch()

    engine._launch = launch_and_inject
    return jobs


def spy(obj, name: str, calls: list):
    real = getattr(obj, name)

    def wrapper(*args):
        calls.append(args)
        return real(*args)

    setattr(obj, name, wrapper)


def test_requests_join_a_running_static_batch_shifting_columns_both_ways(tiny_model_path, hf_model):
    b = static_backend(tiny_model_path)
    try:
        a = req("a", 40)
        long_prompt = req("the ship " * 10, 8)  # 59 prompt tokens: more than the columns used when it arrives
        late = req("a", 60)  # fits only once the columns nobody uses any more are reclaimed
        shifts: list = []
        spy(b._slots, "_shift", shifts)
        injected = arrivals(b, {3: [long_prompt], 20: [late]})
        first = b.complete([a])[0]
        results = [b._wait(j) for j in injected]
        assert [d for (d,) in shifts if d > 0] and [d for (d,) in shifts if d < 0]
        assert b.stats.snapshot()["max_batch"] == 2
        assert first.text == alone(hf_model, a)
        assert [r.text for r in results] == [alone(hf_model, long_prompt), alone(hf_model, late)]
        assert [r.tokens for r in results] == [8, 60]
    finally:
        b.close()


def test_the_batch_moves_to_a_larger_bucket_when_requests_join_and_back_when_they_leave(tiny_model_path, hf_model):
    b = static_backend(tiny_model_path)
    try:
        buckets: list = []
        spy(b._slots, "_use_bucket", buckets)
        a = req("a", 30)
        joiners = [req("ship ship", 5), req("the ship " * 3, 6), req("a", 4)]
        injected = arrivals(b, {2: joiners})
        first = b.complete([a])[0]
        results = [b._wait(j) for j in injected]
        assert [x for (x,) in buckets] == [1, 4, 1]
        assert first.text == alone(hf_model, a)
        assert [r.text for r in results] == [alone(hf_model, r) for r in joiners]
    finally:
        b.close()


def test_a_request_too_long_for_the_static_cache_is_served_on_the_dynamic_path(tiny_model_path, hf_model):
    b = static_backend(tiny_model_path, static_len=48)
    try:
        short, too_long = req("a", 10), req("a", 40)  # 18 + 40 + 1 > 48 columns
        got = b.complete([short, too_long])
        assert [c.text for c in got] == [alone(hf_model, short), alone(hf_model, too_long)]
        assert [c.tokens for c in got] == [10, 40]
    finally:
        b.close()


@pytest.mark.parametrize("static", [False, True])
def test_a_burst_is_read_in_groups_and_each_group_streams_before_the_next_is_read(tiny_model_path, hf_model, static):
    kw = dict(prefill_chunk_tokens=40)  # one prompt of ~23 tokens per group
    b = static_backend(tiny_model_path, **kw) if static else HFBackend(
        HFConfig(name="tiny", model=str(tiny_model_path), device="cpu", batch_wait_ms=50, **kw))
    b.load()
    try:
        groups: list = []
        real = b._prefill

        def prefill(group):
            # Everyone in earlier groups already has a first token when this group is read.
            assert all(j.gen_ids or j.finish for g in groups for j in g)
            groups.append(list(group))
            return real(group)

        b._prefill = prefill
        reqs = [req(f"ship ship {w}", 6) for w in ("a", "b", "c", "d")]
        got = b.complete(reqs)
        assert [len(g) for g in groups] == [1, 1, 1, 1]
        assert [c.text for c in got] == [alone(hf_model, r) for r in reqs]
    finally:
        b.close()


@pytest.mark.parametrize("static", [False, True])
def test_a_seeded_sample_does_not_depend_on_its_batch_mates(tiny_model_path, hf_model, static):
    b = static_backend(tiny_model_path) if static else hf_model
    try:
        seeded = Request(messages=[Message("user", "Pick a word.")],
                         sampling=Sampling(max_new_tokens=15, temperature=1.0, top_p=0.9, seed=11))
        others = [req("the ship " * 3, 12), Request(messages=[Message("user", "x")],
                                                    sampling=Sampling(max_new_tokens=9, temperature=0.7))]
        by_itself = b.complete([seeded])[0].text
        in_company = b.complete([others[0], seeded, others[1]])[1].text
        assert in_company == by_itself
        assert b.complete([seeded])[0].text == by_itself
        other_seed = Request(messages=seeded.messages, sampling=Sampling(max_new_tokens=15, temperature=1.0, seed=12))
        texts = {b.complete([other_seed])[0].text, by_itself}
        assert len(texts) == 2  # the seed matters
    finally:
        if static:
            b.close()


@pytest.mark.parametrize("static", [False, True])
def test_min_new_tokens_holds_off_end_of_sequence(tiny_model_path, static):
    b = static_backend(tiny_model_path, static_cache=static)
    eos = b.tokenizer.eos_token_id

    def eos_first(module, inputs, logits):  # end-of-sequence becomes every step's likeliest token
        logits = logits.clone()
        logits[..., eos] += 100.0
        return logits

    hook = b.model.lm_head.register_forward_hook(eos_first)
    try:
        free = b.complete([Request(messages=[Message("user", "a")], sampling=Sampling(max_new_tokens=20))])[0]
        held = b.complete([Request(messages=[Message("user", "a")], sampling=Sampling(max_new_tokens=20, min_new_tokens=7))])[0]
        assert free.tokens == 0 and free.finish_reason == "stop"
        assert held.tokens == 7 and held.finish_reason == "stop"
    finally:
        hook.remove()
        b.close()


def test_backend_greedy_text_equals_plain_transformers_generate(tiny_model_path):
    """An independent reference: transformers' own generate on a freshly loaded model (stock attention, no slots,
    no packing) gives the same tokens as the static path with the packed grouped-query decode attention."""
    import torch
    from transformers import AutoModelForCausalLM

    from oversight.models.hf_attention import NAME

    b = static_backend(tiny_model_path)
    try:
        assert b.model.config._attn_implementation == NAME  # the tiny model has 4 query heads on 2 key/value heads
        plain = AutoModelForCausalLM.from_pretrained(tiny_model_path, local_files_only=True).eval()
        for text in ("a", "the ship " * 6):
            r = req(text, 24)
            ids = torch.tensor([b.encode_prompt(r)])
            with torch.no_grad():
                out = plain.generate(ids, attention_mask=torch.ones_like(ids), max_new_tokens=24, min_new_tokens=24,
                                     do_sample=False, pad_token_id=b.pad_id)
            want = b.tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
            assert b.complete([r])[0].text == want
    finally:
        b.close()


def test_a_failure_mid_batch_fails_every_request_it_holds_and_the_model_keeps_serving(tiny_model_path):
    from oversight.models import ModelError

    b = static_backend(tiny_model_path)
    try:
        late = Request(messages=[Message("user", "ship ship")], sampling=Sampling(max_new_tokens=30), timeout_s=20)
        injected = arrivals(b, {2: [late]})  # joins the running batch at step 2
        launch = b._slots._launch
        steps = {"n": 0}

        def failing_launch():
            steps["n"] += 1
            if steps["n"] == 5:
                raise RuntimeError("CUDA out of memory (simulated)")
            return launch()

        b._slots._launch = failing_launch
        with pytest.raises(ModelError, match="out of memory"):
            b.complete([req("a", 40)])
        # The request that joined later gets the same error at once, not a timeout 20 s later.
        with pytest.raises(ModelError, match="out of memory"):
            b._wait(injected[0])
        del b._slots._launch
        assert b.complete([req("a", 5)])[0].tokens == 5
        snap = b.stats.snapshot()
        assert snap["in_flight"] == 0 and snap["queued"] == 0
        assert any("out of memory" in e for e in snap["recent_errors"])
    finally:
        b.close()


def test_a_request_that_expired_while_waiting_is_ended_without_being_read(tiny_model_path):
    from oversight.models import ModelTimeout

    b = static_backend(tiny_model_path, batch_buckets=[1], max_batch_size=1, static_len=512)  # one row: the late one waits
    try:
        prefilled: list = []
        spy(b, "_prefill", prefilled)
        late = Request(messages=[Message("user", "ship ship")], sampling=Sampling(max_new_tokens=5), timeout_s=0.05)
        injected = arrivals(b, {1: [late]})
        first = b.complete([req("a", 300)])[0]
        assert first.tokens == 300
        with pytest.raises(ModelTimeout):
            b._wait(injected[0])
        assert len(prefilled) == 1  # only the first request was read
        snap = b.stats.snapshot()
        assert snap["in_flight"] == 0 and snap["queued"] == 0
    finally:
        b.close()
