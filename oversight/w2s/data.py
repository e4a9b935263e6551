"""Items as classification examples, read with the app's importers (the same readers `import` uses).

An `Example` is a text, its choices and the gold index. How a model reads it depends on the data set:
- BoolQ: `Passage: ...\\nQuestion: ...` (openai/weak-to-strong's format), classified into its two choices
  (Yes, No) by a two-way head (`pair=False`);
- HH-RLHF (`hh-rlhf`, preference pairs in JSON lines): each pair is a binary item, its two final responses in a
  seeded-random order (`oversight.rlaif.pairs.shuffled`) with the gold index the chosen one, the text the end of
  the conversation before them (`Conversation: ...`, its last `HH_CONTEXT_CHARS` characters, so the last human turn
  survives truncation); scored per (text, response) pair like the multiple-choice sets, i.e. a reward model whose
  two scores are softmaxed. Invalid lines (the shared file has 9) are left out, as `rlaif clean` would;
- Cosmos QA and MMLU: each (text, choice) pair is scored by the model and the scores are softmaxed over the
  choices (`pair=True`), so one head serves any number of choices.

Subsets: the file's items are shuffled with a fixed seed (0) and the first ones taken, so every run and every
seed of an experiment sees the same test items, and the seeds vary only the training split and initialisation.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from oversight.importers import boolq, cosmos, mmlu
from oversight.importers.common import ImportFailed, ParsedItem
from oversight.w2s.errors import W2SError

READERS = {"boolq": boolq.parse, "cosmos": cosmos.parse, "mmlu": mmlu.parse}
SUBSET_SEED = 0
HH_DATASET = "hh-rlhf"
# The conversation's last characters kept as context: the last human turn matters most, and the tokenizer truncates
# the text from its end, so an untrimmed long conversation would lose exactly that turn.
HH_CONTEXT_CHARS = 400


@dataclass(frozen=True)
class Example:
    key: str  # stable id (the item's external id, or "item/<id>" for a study's items)
    text: str
    choices: tuple[str, ...]
    label: int  # gold index into choices
    pair: bool  # score (text, choice) pairs instead of classifying the text into len(choices) classes


def make_example(dataset: str, *, key: str, question: str, options: list[str], gold: int,
                 source_text: str | None) -> Example:
    if dataset == HH_DATASET:
        tail = (source_text or "")[-HH_CONTEXT_CHARS:]
        return Example(key, f"Conversation: {tail.strip()}", tuple(options), gold, pair=True)
    if dataset == "boolq":
        text = f"Passage: {source_text or ''}\nQuestion: {question}"
        return Example(key, text, tuple(options), gold, pair=False)
    text = f"Context: {source_text}\nQuestion: {question}" if source_text else question
    return Example(key, text, tuple(options), gold, pair=True)


def _from_parsed(dataset: str, items: list[ParsedItem]) -> list[Example]:
    return [make_example(dataset, key=i.external_id, question=i.question, options=i.options, gold=i.gold_index,
                         source_text=i.source_text) for i in items]


def read_examples(dataset: str, path: str | Path) -> list[Example]:
    """Every item of a data set file (or MMLU folder) as examples, in file order."""
    if dataset == HH_DATASET:
        return _hh_examples(path)
    if dataset not in READERS:
        raise W2SError(f"unknown data set {dataset!r}")
    try:
        batch = READERS[dataset](Path(path))
    except ImportFailed as exc:
        raise W2SError(f"cannot read {dataset} data: {exc}") from None
    examples = _from_parsed(dataset, batch.items)
    if len({len(e.choices) for e in examples}) > 1:
        # The file's own name, never its folder: an uploaded file lives under the server's data folder.
        raise W2SError(f"{Path(path).name}: items have different numbers of choices; one experiment needs one number")
    return examples


def _hh_examples(path: str | Path) -> list[Example]:
    from oversight.rlaif.pairs import read_pairs

    try:
        pairs = read_pairs(Path(path), skip_invalid=True).pairs
    except ImportFailed as exc:
        raise W2SError(f"cannot read hh-rlhf data: {exc}") from None
    return [make_example(HH_DATASET, key=p.key, question="", options=list(p.responses), gold=p.preferred,
                         source_text=p.conversation) for p in pairs]


def shuffled(examples: list[Example]) -> list[Example]:
    out = list(examples)
    random.Random(SUBSET_SEED).shuffle(out)
    return out


def train_test(dataset: str, train_path: str, test_path: str, n_train: int, n_test: int
               ) -> tuple[list[Example], list[Example]]:
    """The training and test subsets: from two files, or one file split (test items first, then training)."""
    train_all = shuffled(read_examples(dataset, train_path))
    if test_path:
        test = shuffled(read_examples(dataset, test_path))[:n_test]
        test_keys = {e.key for e in test}
        train = [e for e in train_all if e.key not in test_keys][:n_train]
    else:
        if len(train_all) < 6:
            raise W2SError(f"{Path(train_path).name} has {len(train_all)} items; at least 6 are needed to split it")
        n_test = min(n_test, len(train_all) // 3)
        test, train = train_all[:n_test], train_all[n_test:n_test + n_train]
    if len(train) < 4 or len(test) < 2:
        raise W2SError(f"too few items: {len(train)} for training and {len(test)} for testing")
    if len({len(e.choices) for e in train + test}) > 1:
        raise W2SError("the training and test items have different numbers of choices")
    return train, test


def halves(train: list[Example], seed: int, weak_fraction: float = 0.5) -> tuple[list[Example], list[Example]]:
    """The per-seed split of the training items: the weak supervisor's share (`weak_fraction`, at least one item)
    and the student's rest. The default halves them, as openai/weak-to-strong does; a smaller share makes the weak
    supervisor genuinely weaker (fewer examples) while the student and the ceiling learn from more."""
    order = list(train)
    random.Random(1000 + seed).shuffle(order)
    mid = weak_split(len(order), weak_fraction)
    return order[:mid], order[mid:]


def weak_split(n: int, weak_fraction: float) -> int:
    """How many of `n` training items the weak supervisor learns from (the rest are the student's), both at least 1."""
    return min(max(1, round(n * weak_fraction)), n - 1)


def study_labelled(dataset: str, study_id: int, setting: str = "direct-qa"
                   ) -> tuple[list[Example], dict[str, list[float]]]:
    """A study's items that have a gold answer and at least one non-expert result, as examples, with the
    non-experts' soft labels: the mean of their final probability vectors per item (keys "item/<id>").

    The weak supervisor is the study's non-experts (role participant) and only their results
    (`oversight.results.results_filter`): practice and catch answers, excluded, preview and (outside a dry run) simulated
    people, and experts' answers are not weak labels. Only answers given in `setting` count (the judgment's setting
    as the report reads it, `judgment_records`: its transcript's, else its strategy's or assignment's protocol,
    else direct QA): by default people answering alone, so an assisted condition's answers (people helped by a
    debate or a consultant) are never mixed in unless that setting is chosen."""
    from sqlmodel import select

    from oversight.db import session_scope
    from oversight.results.judgment_records import untranscribed_setting
    from oversight.results.results_filter import NON_EXPERT, is_result
    from storage.models import Assignment, Item, ItemGold, Judgment, Strategy, Study, Transcript, User

    with session_scope(write=False) as s:
        if s.get(Study, study_id) is None:
            raise W2SError(f"no study with id {study_id}")
        rows = s.exec(
            select(Item, ItemGold.gold_index).join(ItemGold, ItemGold.item_id == Item.id)
            .where(Item.of_study(study_id)).order_by(Item.id)
        ).all()
        found = s.exec(
            select(Judgment.item_id, Judgment.probabilities, Transcript.source_setting, Transcript.protocol,
                   Strategy.protocol, Assignment.protocol)
            .join(Item, Item.id == Judgment.item_id)
            .join(User, User.id == Judgment.judge_id)
            .outerjoin(Assignment, Assignment.id == Judgment.assignment_id)
            .outerjoin(Transcript, Transcript.id == Judgment.transcript_id)
            .outerjoin(Strategy, Strategy.id == Assignment.strategy_id)
            .where(Item.of_study(study_id), Judgment.is_final == True, Judgment.judge_kind == "human",  # noqa: E712
                   User.role == NON_EXPERT, is_result(s, study_id))
        ).all()
        judgments = [(item_id, probs) for item_id, probs, source, live, strategy, assigned in found
                     if (source or live or untranscribed_setting(strategy, assigned or None)) == setting]
        items = [(i.id, i.question, list(i.options), i.source_text, gold) for i, gold in rows]
    by_item: dict[int, list[list[float]]] = {}
    for item_id, probs in judgments:
        by_item.setdefault(item_id, []).append(list(probs or []))
    examples, labels = [], {}
    for item_id, question, options, source_text, gold in items:
        vectors = [p for p in by_item.get(item_id, []) if len(p) == len(options) and sum(p) > 0]
        if not vectors:
            continue
        key = f"item/{item_id}"
        examples.append(make_example(dataset, key=key, question=question, options=options, gold=gold,
                                     source_text=source_text))
        mean = np.mean([np.asarray(p, dtype=float) / sum(p) for p in vectors], axis=0)
        labels[key] = mean.tolist()
    if len({len(e.choices) for e in examples}) > 1:
        raise W2SError(f"study {study_id}: the labelled items have different numbers of choices")
    return examples, labels


def split_labelled(examples: list[Example], n_train: int, n_test: int) -> tuple[list[Example], list[Example]]:
    """Test items held apart (the first of a fixed shuffle, at most a third), the rest (up to n_train) to train on."""
    if len(examples) < 6:
        raise W2SError(f"{len(examples)} labelled items with gold; the human supervisor needs at least 6")
    order = shuffled(examples)
    n_test = min(n_test, len(order) // 3)
    return order[n_test:n_test + n_train], order[:n_test]
