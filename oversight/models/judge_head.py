"""The extractive judge's trained head: a small logistic model over features of quote support per side.

Why: comparing each option with the best-matching quote (the untrained judge) is at chance on NYU questions,
because both extractive debaters quote the sentences that fit their own option best. What differs between the
honest and the dishonest side is *how well* and *how consistently* their verbatim quotes fit their option and the
question, and whether the other side's quotes fit it too. Those features, weighed by a logistic model trained on
AI-only debates and consultancies the extractive debaters play on NYU training stories, give probabilities.

Data and honesty: the shared NYU rooms (`<datasets>/nyu_human_debate`) hold 77 QuALITY stories. `story_split`
divides them *by story id* into train / validation / held-out (seeded, sorted ids); the head is fitted on train,
its regularisation chosen on validation, and the held-out stories are used only by `bench/offline_judge_eval.py`.
The weights file records the training and validation story ids so an evaluation can prove no story is in both.

Cache: weights are trained on first use (or by `train_head` at setup) with a progress bar, and stored as JSON under
`<data_dir>/judge_head/` keyed by a hash of the training configuration; a second call loads them and trains
nothing. Nothing is downloaded.
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from oversight.protocols.quotes import extract_quotes

HEAD_VERSION = 1
SPLIT_SEED = 2026
HELDOUT_FRACTION = 0.25  # of the shared stories, never trained or validated on
VALIDATION_FRACTION = 0.2  # of the remaining stories, for choosing regularisation
ARGUES_RE = re.compile(r'\(arguing for "(.*)"\)\s*$', re.DOTALL)

FEATURES = (
    "has_speaker",  # someone argued this option
    "n_quotes",  # log1p(number of quotes for this option)
    "quoted_share",  # share of the speech characters that are quotes
    "unverified",  # quotes marked unverified ("[unverified]" after the closing tag) share
    "own_max", "own_mean",  # cosine of its quotes to "question + option"
    "lean_max", "lean_mean",  # that minus the cosine to the best other option
    "topic_mean",  # cosine of its quotes to the question alone
    "cross_max", "cross_mean",  # cosine of the *other* sides' quotes to this option (evidence leaking across)
    "cross_lean_mean",  # other sides' quotes: this option minus their own
)

Progress = Callable[[int, int, str], None]


# ---------------------------------------------------------------------------------------------------------------
# Data: NYU questions, split by story
# ---------------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class NYUQuestion:
    story_id: str
    title: str
    source: str
    question: str
    options: tuple[str, ...]
    gold: int


def nyu_dir(datasets_dir: Path) -> Path:
    return Path(datasets_dir) / "nyu_human_debate"


def load_nyu_questions(datasets_dir: Path) -> list[NYUQuestion]:
    """One question per distinct (story id, question), options in the earliest room's order (as the importer)."""
    from oversight.text import detokenize

    root = nyu_dir(datasets_dir) / "debates"
    files = sorted(root.glob("*.json"))
    if not files:
        raise FileNotFoundError(f"no NYU debate rooms under {root}")
    rooms = []
    for f in files:
        d = json.loads(f.read_text())
        setup = d["setup"]
        story = setup["sourceMaterial"]["QuALITYSourceMaterial"]
        rooms.append((setup.get("creationTime") or 0, f.stem, str(story["articleId"]), story.get("title", ""),
                      story["contents"], setup["question"], tuple(setup["answers"]), int(setup["correctAnswerIndex"])))
    rooms.sort(key=lambda r: (r[0], r[1]))
    texts: dict[str, str] = {}
    out: dict[tuple[str, str], NYUQuestion] = {}
    for _, _, sid, title, tokens, question, answers, correct in rooms:
        if (sid, question) in out or len(answers) != 2:
            continue
        if sid not in texts:
            texts[sid] = detokenize(tokens)
        out[(sid, question)] = NYUQuestion(sid, title, texts[sid], question, answers, correct)
    return list(out.values())


@dataclass(frozen=True)
class StorySplit:
    train: tuple[str, ...]
    validation: tuple[str, ...]
    heldout: tuple[str, ...]


def story_split(story_ids: Sequence[str], seed: int = SPLIT_SEED) -> StorySplit:
    """Disjoint train / validation / held-out story ids: sorted, then a seeded sample (as the data set's own
    hold-out was drawn), so the split is the same on every machine."""
    ids = sorted(set(story_ids))
    rng = random.Random(seed)
    heldout = set(rng.sample(ids, round(HELDOUT_FRACTION * len(ids)))) if len(ids) > 2 else set()
    rest = [i for i in ids if i not in heldout]
    validation = set(rng.sample(rest, round(VALIDATION_FRACTION * len(rest)))) if len(rest) > 2 else set()
    train = [i for i in rest if i not in validation]
    return StorySplit(tuple(train), tuple(sorted(validation)), tuple(sorted(heldout)))


# ---------------------------------------------------------------------------------------------------------------
# Transcripts as the judge reads them, and their features
# ---------------------------------------------------------------------------------------------------------------
def speaker_option(label: str, options: Sequence[str]) -> int | None:
    """The option a transcript line's speaker argues, from its label 'Debater A (arguing for "…")'."""
    m = ARGUES_RE.search(label)
    if not m:
        return None
    try:
        return list(options).index(m.group(1))
    except ValueError:
        return None


def option_features(encode, question: str, options: Sequence[str],
                    transcript: Sequence[tuple[str, str]]) -> list[list[float]]:
    """One feature vector (FEATURES) per option. `encode(texts)` returns unit-norm embeddings."""
    import numpy as np

    n = len(options)
    quotes: list[list[str]] = [[] for _ in range(n)]
    chars = [0] * n
    quoted_chars = [0] * n
    unverified = [0] * n
    spoke = [False] * n
    for label, text in transcript:
        j = speaker_option(label, options)
        if j is None:
            continue
        spoke[j] = True
        found = extract_quotes(text)
        chars[j] += len(text)
        for inner, _, end in found:
            quoted_chars[j] += len(inner)
            if text[end:end + 14].lower().startswith(" [unverified]") or text[end:end + 13].lower().startswith("[unverified]"):
                unverified[j] += 1
            elif inner.strip():
                quotes[j].append(" ".join(inner.split()))
    all_quotes = list(dict.fromkeys(q for qs in quotes for q in qs))
    opt_emb = encode([f"{question} {o}" for o in options])
    q_emb = encode([question])[0]
    emb = dict(zip(all_quotes, encode(all_quotes))) if all_quotes else {}
    out = []
    for j in range(n):
        own = [q for q in quotes[j]]
        others = [q for k in range(n) if k != j for q in quotes[k]]
        f = dict.fromkeys(FEATURES, 0.0)
        f["has_speaker"] = float(spoke[j])
        f["n_quotes"] = math.log1p(len(own))
        f["quoted_share"] = quoted_chars[j] / chars[j] if chars[j] else 0.0
        total_q = len(own) + unverified[j]
        f["unverified"] = unverified[j] / total_q if total_q else 0.0
        if own:
            e = np.stack([emb[q] for q in own])
            sims = e @ opt_emb.T  # quotes x options
            rival = np.max(np.delete(sims, j, axis=1), axis=1) if n > 1 else np.zeros(len(own))
            lean = sims[:, j] - rival
            f["own_max"], f["own_mean"] = float(sims[:, j].max()), float(sims[:, j].mean())
            f["lean_max"], f["lean_mean"] = float(lean.max()), float(lean.mean())
            f["topic_mean"] = float((e @ q_emb).mean())
        if others:
            e = np.stack([emb[q] for q in others])
            sims = e @ opt_emb.T
            f["cross_max"], f["cross_mean"] = float(sims[:, j].max()), float(sims[:, j].mean())
            f["cross_lean_mean"] = float((sims[:, j] - np.max(np.delete(sims, j, axis=1), axis=1)).mean())
        out.append([f[k] for k in FEATURES])
    return out


@dataclass
class JudgeHead:
    """Conditional logit: score(option) = w . (features - mean) / scale; probabilities = softmax(scores)."""

    weights: list[float]
    mean: list[float]
    scale: list[float]
    features: tuple[str, ...] = FEATURES
    meta: dict = field(default_factory=dict)

    def probabilities(self, feats: Sequence[Sequence[float]]) -> list[float]:
        scores = [sum(w * (x - m) / s for w, x, m, s in zip(self.weights, f, self.mean, self.scale)) for f in feats]
        top = max(scores)
        ex = [math.exp(v - top) for v in scores]
        total = sum(ex)
        return [v / total for v in ex]

    def to_json(self) -> dict:
        d = asdict(self)
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_json(cls, d: dict) -> JudgeHead:
        if tuple(d.get("features", ())) != FEATURES:
            raise ValueError("judge head weights were trained on other features")
        return cls(d["weights"], d["mean"], d["scale"], FEATURES, d.get("meta", {}))


# ---------------------------------------------------------------------------------------------------------------
# Simulated AI-only runs on training stories (the same turns the batch runner asks the extractive debaters for)
# ---------------------------------------------------------------------------------------------------------------
def simulate(backend, q: NYUQuestion, *, protocol: str, rng: random.Random, rounds: int = 3, char_limit: int = 750,
             quote_limit: int = 250) -> tuple[tuple[str, ...], int, list[tuple[str, str]]]:
    """(options in shown order, gold index in that order, the transcript lines the judge reads) for one debate or
    consultancy with simultaneous rounds, as `engine.SpeechProtocol.model_task` words the debaters' tasks."""
    from oversight.models.types import Request, Task
    from oversight.protocols.engine import enforce_limits

    order = [0, 1]
    rng.shuffle(order)
    options = tuple(q.options[i] for i in order)
    gold = order.index(q.gold)
    if protocol == "debate":
        speakers = [("Debater A", 0), ("Debater B", 1)]
    else:
        honest = rng.random() < 0.5
        speakers = [("Consultant", gold if honest else 1 - gold)]
    turns: list[tuple[int, str, int, str]] = []  # round, label, side, text
    for rnd in range(1, rounds + 1):
        said = tuple((label, text) for r, label, _, text in turns if r < rnd)
        new = []
        for label, side in speakers:
            task = Task(role="debater" if protocol == "debate" else "consultant", question=q.question,
                        options=options, source=q.source, answer_index=side, char_limit=char_limit,
                        quote_limit=quote_limit, transcript=said)
            text = backend.complete([Request(task=task)])[0].text
            new.append((rnd, label, side, enforce_limits(text, char_limit=char_limit, quote_limit=quote_limit)))
        turns += new
    lines = [(f'{label} (arguing for "{options[side]}")', text) for _, label, side, text in turns]
    return options, gold, lines


# ---------------------------------------------------------------------------------------------------------------
# Training and the cache
# ---------------------------------------------------------------------------------------------------------------
def _fit(X: list[list[list[float]]], y: list[int], c: float) -> tuple[list[float], list[float], list[float]]:
    """Conditional-logit fit (two options: logistic regression on feature differences, no intercept, so the
    probabilities do not depend on the order the options are shown in)."""
    import numpy as np
    from sklearn.linear_model import LogisticRegression

    flat = np.array([f for item in X for f in item])
    mean = flat.mean(axis=0)
    scale = flat.std(axis=0)
    scale[scale < 1e-9] = 1.0
    diffs, labels = [], []
    for item, g in zip(X, y):
        z = (np.array(item) - mean) / scale
        for k in range(len(item)):
            if k != g:  # gold minus a wrong option -> 1, and the mirror -> 0
                diffs += [z[g] - z[k], z[k] - z[g]]
                labels += [1, 0]
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=2000)
    model.fit(np.array(diffs), np.array(labels))
    return model.coef_[0].tolist(), mean.tolist(), scale.tolist()


def _accuracy(head: JudgeHead, X, y) -> float:
    return sum(int(max(range(len(p)), key=p.__getitem__) == g) for p, g in
               ((head.probabilities(f), g) for f, g in zip(X, y))) / max(1, len(y))


def config_hash(encoder_id: str) -> str:
    cfg = {"v": HEAD_VERSION, "features": FEATURES, "seed": SPLIT_SEED, "heldout": HELDOUT_FRACTION,
           "val": VALIDATION_FRACTION, "encoder": encoder_id, "protocols": ("debate", "consultancy"), "rounds": 3}
    return hashlib.sha1(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]


def cache_path(data_dir: Path, encoder_id: str) -> Path:
    return Path(data_dir) / "judge_head" / f"extractive-{config_hash(encoder_id)}.json"


def _tqdm_progress(total: int) -> Progress:
    from tqdm import tqdm

    bar = tqdm(total=total, desc="training the extractive judge (once)", file=sys.stderr, leave=False)

    def progress(done: int, n: int, message: str) -> None:
        bar.n = done
        bar.set_postfix_str(message[:40])
        bar.refresh()
        if done >= n:
            bar.close()

    return progress


def build_examples(backend, questions: Sequence[NYUQuestion], *, seed: int, progress: Progress | None = None
                   ) -> tuple[list, list, list]:
    """Features, gold and protocol of one simulated debate and one consultancy per question."""
    X, y, kinds = [], [], []
    rng = random.Random(seed)
    for k, q in enumerate(questions):
        if progress:
            progress(k, len(questions), q.title or q.story_id)
        for protocol in ("debate", "consultancy"):
            options, gold, lines = simulate(backend, q, protocol=protocol, rng=rng)
            X.append(option_features(backend.encode_cached, q.question, options, lines))
            y.append(gold)
            kinds.append(protocol)
    if progress:
        progress(len(questions), len(questions), "done")
    return X, y, kinds


def train_head(backend, datasets_dir: Path, *, progress: Progress | None = None) -> JudgeHead:
    """Fit on the training stories; choose C on the validation stories; never touch the held-out ones."""
    questions = load_nyu_questions(datasets_dir)
    split = story_split([q.story_id for q in questions])
    train_q = [q for q in questions if q.story_id in set(split.train)]
    val_q = [q for q in questions if q.story_id in set(split.validation)]
    if progress is None:
        progress = _tqdm_progress(len(train_q) + len(val_q))
    offset = len(train_q)
    Xt, yt, _ = build_examples(backend, train_q, seed=1, progress=lambda d, n, m: progress(d, offset + len(val_q), m))
    Xv, yv, kv = build_examples(backend, val_q, seed=2,
                                progress=lambda d, n, m: progress(offset + d, offset + len(val_q), m))
    return fit_head(Xt, yt, Xv, yv, kv, split=split, n_train=len(train_q), n_val=len(val_q))


def fit_head(Xt, yt, Xv, yv, kv, *, split: StorySplit, n_train: int, n_val: int) -> JudgeHead:
    """Fit on the training examples for each C, keep the C with the best validation accuracy, record the split."""
    best = None
    for c in (0.01, 0.03, 0.1, 0.3, 1.0, 3.0):
        w, mean, scale = _fit(Xt, yt, c)
        acc = _accuracy(JudgeHead(w, mean, scale), Xv, yv)
        if best is None or acc > best[0] + 1e-9:
            best = (acc, c)
    w, mean, scale = _fit(Xt, yt, best[1])
    head = JudgeHead(w, mean, scale)
    per_kind = {kind: _accuracy(head, [x for x, k in zip(Xv, kv) if k == kind], [g for g, k in zip(yv, kv) if k == kind])
                for kind in ("debate", "consultancy")}
    head.meta = {"train_story_ids": list(split.train), "validation_story_ids": list(split.validation),
                 "heldout_story_ids": list(split.heldout), "n_train_questions": n_train,
                 "n_validation_questions": n_val, "C": best[1], "validation_accuracy": round(best[0], 4),
                 "validation_accuracy_by_protocol": {k: round(v, 4) for k, v in per_kind.items()},
                 "split_seed": SPLIT_SEED, "version": HEAD_VERSION}
    return head


def save_head(head: JudgeHead, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(head.to_json(), indent=1))
    tmp.replace(path)


_heads: dict[str, JudgeHead | None] = {}
_heads_lock = threading.Lock()


def load_or_train(backend, *, data_dir: Path, datasets_dir: Path, encoder_id: str,
                  progress: Progress | None = None) -> JudgeHead | None:
    """The cached head, training it once when absent; None when the NYU data are not there to train on."""
    path = cache_path(data_dir, encoder_id)
    key = str(path)
    with _heads_lock:
        if key in _heads:
            return _heads[key]
        head = None
        if path.is_file():
            try:
                head = JudgeHead.from_json(json.loads(path.read_text()))
            except (ValueError, KeyError, json.JSONDecodeError):
                head = None
        if head is None and (nyu_dir(datasets_dir) / "debates").is_dir():
            head = train_head(backend, datasets_dir, progress=progress)
            save_head(head, path)
        _heads[key] = head
        return head


def forget_cached_heads() -> None:
    """Drop the in-process copies (tests)."""
    with _heads_lock:
        _heads.clear()
