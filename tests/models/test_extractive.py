"""The offline extractive model: verbatim quotes that argue the assigned side, retrieval, weak judging."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest

from oversight.models import Request, Task
from oversight.protocols.quotes import check_quotes, extract_quotes
from oversight.text import detokenize

PASSAGE = """The lighthouse keeper, Mara, kept a log of every ship that passed the point.
On the night of the storm she wrote that the Albatross left the harbour just after midnight, with its lamps dark.

The harbour master later claimed the ship had sailed at dawn. Mara's log contradicts him: the entry is in ink, dated, and signed.
Fishermen on the quay remembered hearing the Albatross's engine long before sunrise.
In the morning the sea was calm, and gulls circled the empty berth where the ship had been moored.
Mara's cat slept on the windowsill through all of it."""
QUESTION = "When did the Albatross leave the harbour?"
OPTIONS = ("Just after midnight, during the storm", "At dawn, when the sea was calm")


def debate(backend, source, question, options, side, char_limit=700):
    task = Task(role="debater", question=question, options=tuple(options), source=source, answer_index=side,
                char_limit=char_limit, quote_limit=500)
    return backend.complete([Request(task=task)])[0].text


def test_demo_passage_debaters_quote_verbatim_and_argue_their_side(extractive):
    texts = [debate(extractive, PASSAGE, QUESTION, OPTIONS, side) for side in (0, 1)]
    for side, text in enumerate(texts):
        quotes = check_quotes(text, PASSAGE)
        assert quotes and all(q.verified for q in quotes), text
        assert len(text) <= 700
        assert OPTIONS[side] in text
    assert "<quote>On the night of the storm she wrote" in texts[0] 
    assert not any("midnight" in q.text for q in check_quotes(texts[1], PASSAGE))
    assert "<quote>The harbour master later claimed the ship had sailed at dawn.</quote>" in texts[1]


def test_sampled_speeches_differ_by_seed_repeat_by_seed_and_stay_verbatim(extractive):
    """Best-of-N needs N different candidates: at a temperature above 0 the debater samples which passages lead
    (seeded, so a rerun writes the same speech); at 0 it gives its one best argument."""
    from oversight.models import Sampling

    def speech(temperature: float, seed: int | None) -> str:
        task = Task(role="debater", question=QUESTION, options=OPTIONS, source=PASSAGE, answer_index=0,
                    char_limit=400, quote_limit=150)
        return extractive.complete([Request(task=task, sampling=Sampling(temperature=temperature, seed=seed))])[0].text

    assert speech(0.0, 3) == speech(0.0, None)  # greedy: the seed plays no part
    sampled = [speech(0.8, seed) for seed in range(8)]
    assert len(set(sampled)) >= 2
    assert speech(0.8, 5) == sampled[5]
    for text in sampled:
        assert all(q.verified for q in check_quotes(text, PASSAGE)), text


def test_demo_passage_judge_and_assistant(extractive):
    # A weak judge: right when the evidence is plain (the dawn/midnight question fools it, as it may).
    plain = ("The ship's engine, long before sunrise", "Mara's cat on the windowsill")
    judge = Task(role="judge", question="What did the fishermen on the quay hear?", options=plain, source=PASSAGE)
    probs = extractive.score_choices(Request(task=judge), plain)
    assert sum(probs) == pytest.approx(1.0) and probs[0] > 0.8
    verdict = extractive.complete([Request(task=judge)])[0].text
    assert verdict.startswith("Answer: A")
    # A judge without the story weighs the debaters' quotes.
    transcript = tuple(("Debater " + "AB"[s], debate(extractive, PASSAGE, QUESTION, OPTIONS, s)) for s in (0, 1))
    blind = Task(role="judge", question=QUESTION, options=OPTIONS, transcript=transcript)
    p_blind = extractive.score_choices(Request(task=blind), OPTIONS)
    assert sum(p_blind) == pytest.approx(1.0)
    helper = Task(role="assistant", question="What did the fishermen hear?", source=PASSAGE, char_limit=300)
    answer = extractive.complete([Request(task=helper)])[0].text
    assert "engine" in answer and all(q.verified for q in check_quotes(answer, PASSAGE)) and len(answer) <= 300


def test_second_turn_on_the_same_source_reuses_cached_embeddings(extractive, monkeypatch):
    """The other debater (and later rounds) on the same item encode nothing new: the story's sentences and the
    question-and-answer texts come from the caches."""
    source = PASSAGE + "\nA new paragraph makes this source distinct from the other tests' one."
    debate(extractive, source, QUESTION, OPTIONS, 0)
    encoded = []
    real = extractive.encode
    monkeypatch.setattr(extractive, "encode", lambda texts: (encoded.append(len(texts)), real(texts))[1])
    debate(extractive, source, QUESTION, OPTIONS, 1)
    assert encoded == []
    debate(extractive, source, "A different question?", OPTIONS, 1)
    assert encoded == [len(OPTIONS)]  # only the new question's answer texts


SAMPLE_SEED = 8  # fixed: the same rooms every run, so a failure is the model's, never the draw's
SAMPLE_ROOMS = 2  # each story is ~300 passages to encode (~13 s of CPU): ten rooms took minutes of the suite


def _rooms(files, n=SAMPLE_ROOMS, seed=SAMPLE_SEED):
    """n two-answer rooms on n different stories, drawn from the whole data set with a fixed seed."""
    seen, rooms = set(), []
    for f in random.Random(seed).sample(files, len(files)):
        d = json.loads(f.read_text())
        setup = d["setup"]
        story = setup["sourceMaterial"]["QuALITYSourceMaterial"]
        if story["title"] in seen or len(setup["answers"]) != 2:
            continue
        seen.add(story["title"])
        rooms.append((detokenize(story["contents"]), setup["question"], setup["answers"]))
        if len(rooms) == n:
            break
    return rooms


def test_nyu_stories_quotes_verbatim_and_support_the_assigned_side(extractive, nyu_debates):
    rooms = _rooms(nyu_debates)
    assert len(rooms) == SAMPLE_ROOMS
    own_minus_other = []
    for story, question, answers in rooms:
        texts = [debate(extractive, story, question, answers, side) for side in (0, 1)]
        quotes = []
        for text in texts:
            found = check_quotes(text, story)
            assert found, text
            assert all(q.verified for q in found), [q.text for q in found if not q.verified]
            quotes.append([q.text for q in found])
        ans = extractive.encode(list(answers))
        # Support for answer 0 over answer 1, per quote, measured by encoder similarity to the answers alone.
        lean = [float(np.mean(extractive.encode(qs) @ (ans[0] - ans[1]))) for qs in quotes]
        own_minus_other.append(lean[0] - lean[1])  # A's quotes lean to A more than B's quotes do (and vice versa)
    # On ten rooms spread over the data set every room leaned its way (the weakest by 0.005, the sampled ones by
    # about 0.3), so each sampled room must.
    assert all(d > 0 for d in own_minus_other), own_minus_other


def test_real_debater_quotes_from_the_data_verify(nyu_debates):
    """The quote checker accepts what human debaters quoted (token spans rebuilt into text)."""
    checked = 0
    for f in nyu_debates[:40]:
        d = json.loads(f.read_text())
        tokens = d["setup"]["sourceMaterial"]["QuALITYSourceMaterial"]["contents"]
        story = detokenize(tokens)
        for rnd in d["rounds"]:
            body = next(iter(rnd.values()))
            for speech in (body.get("speeches") or {}).values():
                for seg in speech["content"]:
                    if "Quote" in seg:
                        a, b = seg["Quote"]["span"]
                        quoted = " ".join(tokens[a:b])  # PTB tokens as the webapp showed them
                        if quoted.strip() and any(ch.isalnum() for ch in quoted):
                            text = f"<quote>{quoted}</quote>"
                            assert check_quotes(text, story)[0].verified, quoted
                            checked += 1
    assert checked > 50
    assert extract_quotes("<quote>x</quote>")[0][0] == "x"


def test_a_story_read_ahead_is_not_encoded_again_by_its_first_speech(extractive, monkeypatch):
    source = PASSAGE + "\nThis paragraph makes the source one no other test has read."
    extractive.read_ahead([source])
    encoded = []
    real = extractive.encode
    monkeypatch.setattr(extractive, "encode", lambda texts: (encoded.append(len(texts)), real(texts))[1])
    debate(extractive, source, "What did the keeper log after the read-ahead?", OPTIONS, 0)
    assert encoded == [len(OPTIONS)]  # this question's answer texts only: the story's sentences were read ahead
