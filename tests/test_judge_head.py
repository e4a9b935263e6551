"""The extractive judge's trained head (oversight.models.judge_head): story split, probabilities, training cache."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from oversight.models import judge_head as jh
from oversight.models.config import ExtractiveConfig
from oversight.models.extractive import ExtractiveBackend
from oversight.models.types import Request, Task

COLOURS = ["red", "blue", "green", "yellow", "black", "white"]
THINGS = ["ship", "house", "coat", "car", "door", "lamp", "boat", "hat"]


def toy_dataset(root: Path, n_stories: int = 8) -> Path:
    """NYU-shaped rooms on tiny stories: each states the colour of a few things; the questions ask them."""
    rng = random.Random(7)
    debates = root / "nyu_human_debate" / "debates"
    debates.mkdir(parents=True)
    for s in range(n_stories):
        things = rng.sample(THINGS, 4)
        colours = {t: rng.choice(COLOURS) for t in things}
        sentences = []
        for t in things:
            sentences.append(f"Everyone in the village agreed that the old {t} had always been painted {colours[t]} .")
            sentences.append(f"The weather that day was calm and the people walked slowly to the market square .")
        tokens = " \n\n ".join(sentences).split(" ")
        for q, t in enumerate(things[:2]):
            wrong = rng.choice([c for c in COLOURS if c != colours[t]])
            answers = [f"The {t} was {colours[t]}", f"The {t} was {wrong}"]
            correct = rng.randrange(2)
            if correct == 1:
                answers.reverse()
            room = {"setup": {"sourceMaterial": {"QuALITYSourceMaterial": {
                "articleId": f"story{s}", "title": f"Story {s}", "contents": tokens}},
                "question": f"What colour was the {t}?", "answers": answers, "correctAnswerIndex": correct,
                "creationTime": s * 10 + q}, "rounds": []}
            (debates / f"room{s}_{q}.json").write_text(json.dumps(room))
    return root


@pytest.fixture(scope="module")
def backend() -> ExtractiveBackend:
    b = ExtractiveBackend(ExtractiveConfig(name="extractive"))
    try:
        b.load()
    except Exception as e:  # noqa: BLE001 - the encoder package is an optional install
        pytest.skip(f"sentence encoder not available: {e}")
    return b


@pytest.fixture(scope="module")
def toy_head(backend, tmp_path_factory):
    """A head trained once on the toy rooms, and where it was cached."""
    tmp = tmp_path_factory.mktemp("judge_head")
    datasets = toy_dataset(tmp / "datasets")
    jh.forget_cached_heads()
    head = jh.load_or_train(backend, data_dir=tmp / "data", datasets_dir=datasets, encoder_id="toy",
                            progress=lambda *a: None)
    yield head, tmp
    jh.forget_cached_heads()


def test_story_split_is_disjoint_and_complete():
    ids = [f"s{i}" for i in range(77)]
    split = jh.story_split(ids)
    parts = [set(split.train), set(split.validation), set(split.heldout)]
    assert not (parts[0] & parts[1]) and not (parts[0] & parts[2]) and not (parts[1] & parts[2])
    assert set().union(*parts) == set(ids) and len(split.heldout) == 19 and split.validation
    assert jh.story_split(list(reversed(ids))) == split  # the same split whatever order the rooms come in


def test_trained_head_records_its_stories_and_never_trains_on_held_out_ones(toy_head):
    head, _ = toy_head
    meta = head.meta
    train, val, held = (set(meta[k]) for k in ("train_story_ids", "validation_story_ids", "heldout_story_ids"))
    assert train and held and not (train & held) and not (val & held) and not (train & val)
    assert len(train | val | held) == 8


def test_judge_prefers_the_side_whose_quotes_support_it(toy_head, backend):
    head, _ = toy_head
    options = ["The lamp was green", "The lamp was blue"]
    question = "What colour was the lamp?"
    lines = [(f'Debater A (arguing for "{options[0]}")',
              "I argue for A.\n<quote>Everyone in the village agreed that the old lamp had always been painted "
              "green.</quote>"),
             (f'Debater B (arguing for "{options[1]}")',
              "I argue for B.\n<quote>The weather that day was calm and the people walked slowly to the market "
              "square.</quote>")]
    probs = head.probabilities(jh.option_features(backend.encode_cached, question, options, lines))
    assert len(probs) == 2 and all(0 <= p <= 1 for p in probs) and sum(probs) == pytest.approx(1.0)
    assert probs[0] > 0.5
    # Shown the other way round, the same side wins: the head scores options, not positions.
    swapped = head.probabilities(jh.option_features(backend.encode_cached, question, options[::-1], lines))
    assert swapped[1] == pytest.approx(probs[0])


def test_training_is_cached_and_a_second_call_trains_nothing(toy_head, backend, monkeypatch):
    head, tmp = toy_head
    cached = list((tmp / "data" / "judge_head").glob("extractive-*.json"))
    assert len(cached) == 1 and json.loads(cached[0].read_text())["meta"]["train_story_ids"]
    jh.forget_cached_heads()

    def no_training(*a, **k):
        raise AssertionError("trained again")

    monkeypatch.setattr(jh, "train_head", no_training)
    again = jh.load_or_train(backend, data_dir=tmp / "data", datasets_dir=tmp / "datasets", encoder_id="toy")
    assert again.weights == pytest.approx(head.weights)
    jh.forget_cached_heads()


def test_no_data_means_the_similarity_judge(backend, tmp_path):
    jh.forget_cached_heads()
    assert jh.load_or_train(backend, data_dir=tmp_path, datasets_dir=tmp_path / "absent", encoder_id="x") is None
    jh.forget_cached_heads()


def test_extractive_judge_uses_the_trained_head(toy_head, backend, monkeypatch):
    head, tmp = toy_head
    monkeypatch.setenv("OVERSIGHT_DATA_DIR", str(tmp / "data"))
    monkeypatch.setenv("OVERSIGHT_DATASETS_DIR", str(tmp / "datasets"))
    monkeypatch.setenv("OVERSIGHT_EXTRACTIVE_JUDGE", "trained")
    monkeypatch.setattr(ExtractiveBackend, "encoder_id", "toy")
    from oversight import settings

    settings.reset_settings()
    try:
        options = ("The hat was red", "The hat was white")
        lines = ((f'Consultant (arguing for "{options[1]}")',
                  "<quote>Everyone in the village agreed that the old hat had always been painted white.</quote>"),)
        task = Task(role="judge", question="What colour was the hat?", options=options, transcript=lines)
        probs = backend.score_choices(Request(task=task), list(options))
        expected = head.probabilities(jh.option_features(backend.encode_cached, task.question, options, lines))
        assert probs == pytest.approx(expected)
    finally:
        settings.reset_settings()
        jh.forget_cached_heads()


def test_real_nyu_split_has_no_story_in_both(datasets_dir):
    if not (datasets_dir / "nyu_human_debate" / "debates").is_dir():
        pytest.skip("NYU debate rooms not in the shared data sets")
    questions = jh.load_nyu_questions(datasets_dir)
    split = jh.story_split([q.story_id for q in questions])
    held = set(split.heldout)
    assert held and not held & (set(split.train) | set(split.validation))
    assert {q.story_id for q in questions} == set(split.train) | set(split.validation) | held


def test_default_extractive_judge_is_the_similarity_one_until_the_head_beats_chance(monkeypatch):
    # bench/results/offline-judge.md: the head is at chance on held-out stories, so it must be opted into.
    monkeypatch.delenv("OVERSIGHT_EXTRACTIVE_JUDGE", raising=False)
    from oversight import settings

    settings.reset_settings()
    try:
        task = Task(role="judge", question="Q?", options=("a", "b"),
                    transcript=(('Debater A (arguing for "a")', "<quote>x</quote>"),))
        assert ExtractiveBackend(ExtractiveConfig(name="extractive")).judge_head(task) is None
    finally:
        settings.reset_settings()
