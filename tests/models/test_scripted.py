from __future__ import annotations

import pytest

from oversight.models import Message, ModelError, Request, Sampling, ScriptedConfig, create_backend


def scripted(**kw):
    return create_backend(ScriptedConfig(name="s", **kw))


def test_responses_cycle_and_limits_apply():
    m = scripted(responses=["one two three four", "alpha STOP beta"])
    a, b, c = m.complete([
        Request(messages=[Message("user", "x")]),
        Request(messages=[Message("user", "y")], sampling=Sampling(stop=(" STOP",))),
        Request(messages=[Message("user", "z")], sampling=Sampling(max_new_tokens=2)),
    ])
    assert (a.text, a.finish_reason) == ("one two three four", "stop")
    assert b.text == "alpha"
    assert (c.text, c.tokens, c.finish_reason) == ("one two ", 2, "length")


def test_echo_stream_and_scores():
    m = scripted(choice_probs=[3, 1])
    r = Request(messages=[Message("user", "hello there")])
    assert "".join(m.stream(r)) == "Scripted reply to: hello there"
    assert m.score_choices("q", ["a", "b"]) == [0.75, 0.25]
    with pytest.raises(ModelError) as err:
        m.score_choices("q", ["a", "b", "c"])
    assert "choice_probs" in err.value.setting


def test_error_response_raises_and_is_recorded():
    m = scripted(responses=["!error backend exploded"])
    with pytest.raises(ModelError, match="exploded"):
        m.complete([Request()])
    assert m.info()["recent_errors"]
