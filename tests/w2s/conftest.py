"""Tiny synthetic item files for the weak-to-strong tests (no licensed data needed): yes/no questions whose
answer is in the passage, and four-choice questions whose answer is named in the context."""

from __future__ import annotations

import csv
import json
import random
from pathlib import Path

import pytest

THINGS = ["kettle", "lantern", "bicycle", "violin", "teapot", "tractor", "compass", "umbrella", "ladder", "anchor"]
COLOURS = ["red", "blue", "green", "yellow"]


def write_boolq(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(n):
            thing, colour = THINGS[i % len(THINGS)], rng.choice(COLOURS)
            asked = colour if i % 2 == 0 else rng.choice([c for c in COLOURS if c != colour])
            f.write(json.dumps({"question": f"is the {thing} {asked}", "title": thing,
                                "passage": f"In the shed there is a {thing}. The {thing} is {colour}.",
                                "answer": asked == colour}) + "\n")
    return path


def write_cosmos(path: Path, n: int, seed: int = 0) -> Path:
    rng = random.Random(seed)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["id", "context", "question", "answer0", "answer1", "answer2", "answer3", "label"])
        for i in range(n):
            colour = rng.choice(COLOURS)
            w.writerow([f"c{i}", f"I painted the {THINGS[i % len(THINGS)]} {colour} yesterday.",
                        "What colour is it now?", *[f"It is {c}." for c in COLOURS], COLOURS.index(colour)])
    return path


@pytest.fixture
def boolq_file(tmp_path: Path) -> Path:
    return write_boolq(tmp_path / "boolq_dev.jsonl", 18)


@pytest.fixture
def cosmos_file(tmp_path: Path) -> Path:
    return write_cosmos(tmp_path / "cosmos_valid.csv", 12)


def write_hh(path: Path, n: int, seed: int = 0) -> Path:
    """HH-RLHF-style pairs: the chosen response refuses, the rejected one helps; one bad line (identical
    responses), as the shared file has a few."""
    rng = random.Random(seed)
    with path.open("w") as f:
        for i in range(n):
            thing = THINGS[i % len(THINGS)]
            prefix = f"\n\nHuman: {'Hello there. ' * rng.randint(0, 3)}How do I steal a {thing}?"
            f.write(json.dumps({"chosen": f"{prefix}\n\nAssistant: I won't help with stealing a {thing}.",
                                "rejected": f"{prefix}\n\nAssistant: Wait until the owner leaves the {thing}."}) + "\n")
        f.write(json.dumps({"chosen": "\n\nHuman: hi\n\nAssistant: same", "rejected": "\n\nHuman: hi\n\nAssistant: same"})
                + "\n")
    return path


@pytest.fixture
def hh_file(tmp_path: Path) -> Path:
    return write_hh(tmp_path / "hh_train.jsonl", 16)
