"""AI judges: choice scoring over a transcript, averaged over both answer orders to cancel position bias.

Works on any transcript, live or finished, imported or not: what it reads is the question, the options and
the speeches (each labelled with the answer its speaker argues). It never sees the source unless the
protocol lets its judge read it (model alone: the model answering on its own, with the text).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import select

from oversight.db import session_scope
from oversight.models import Request, Task, get_model, model_for_role
from oversight.models.base import Backend
from oversight.protocols.prompts import Prompt
from oversight.protocols.live import in_round_order, speakers_from_meta
from oversight.vocab import chosen_option, is_correct, role_label
from storage.models import Item, ItemGold, Judgment, Transcript, Turn


def judge_probabilities(model: Backend, *, question: str, options: Sequence[str],
                        transcript: Sequence[tuple[str, str]] = (), source: str | None = None,
                        prompt: Prompt | None = None) -> list[float]:
    """Probabilities over `options` (in their given order), averaged over the forward and reversed order."""
    options = list(options)

    def score(opts: list[str]) -> list[float]:
        task = Task(role="judge", question=question, options=tuple(opts), source=source, transcript=tuple(transcript),
                    prompt=prompt)
        return list(model.score_choices(Request(task=task), opts))

    forward = score(options)
    backward = score(options[::-1])[::-1]
    probs = [(f + b) / 2 for f, b in zip(forward, backward)]
    total = sum(probs)
    return [p / total for p in probs]


def transcript_lines(turns: Sequence[Turn], roles: dict, options: Sequence[str], *, upto_round: int | None = None
                     ) -> list[tuple[str, str]]:
    """(speaker label, text) for every turn and judge note, each speaker labelled with the answer it argues.
    Chat restarts are left out: a judge reads the conversation as it happened."""
    lines = []
    for turn in turns:
        if (upto_round is not None and turn.round > upto_round) or turn.role == "restart":
            continue
        if turn.role == "judge":
            if turn.text.strip():
                lines.append(("Judge", turn.text))
            continue
        argues = roles.get(turn.role, {}).get("argues")
        label = role_label(turn.role)
        if argues is not None:
            label += f' (arguing for "{options[argues]}")'
        lines.append((label, turn.text))
    return lines


def judge_transcript(*, transcript_id: int, model_name: str | None = None) -> Judgment:
    """Judge a finished (or live) transcript post hoc and store the judgment as `ai-offline`."""
    model = get_model(model_name) if model_name else model_for_role("judge")
    with session_scope(write=False) as s:
        t = s.get(Transcript, transcript_id)
        item = s.get(Item, t.item_id)
        turns = s.exec(select(Turn).where(Turn.transcript_id == t.id).order_by(Turn.position)).all()
        if t.strategy_id is not None:
            turns = in_round_order(turns, speakers_from_meta(t.meta))
    lines = transcript_lines(turns, t.meta.get("roles", {}), item.options)
    probs = judge_probabilities(model, question=item.question, options=item.options, transcript=lines)
    judgment = Judgment(item_id=item.id, transcript_id=t.id, judge_kind="ai-offline", judge_name=model.name,
                        round=max((x.round for x in turns), default=0), probabilities=probs,
                        answer_index=chosen_option(probs), is_final=True)
    with session_scope() as s:
        s.add(judgment)
    return judgment


def judge_transcripts(*, study_id: int, tag: str | None = None, limit: int | None = None,
                      model_name: str | None = None, transcript_ids: list[int] | None = None, progress=None) -> dict:
    """AI-judge every complete transcript of a study (optionally with a tag, or only `transcript_ids`) that this
    model has not judged yet."""
    model = get_model(model_name) if model_name else model_for_role("judge")
    with session_scope(write=False) as s:
        done = set(s.exec(select(Judgment.transcript_id).where(Judgment.judge_kind == "ai-offline",
                                                               Judgment.judge_name == model.name)).all())
        # Named transcripts are judged as they stand; otherwise only finished ones.
        query = select(Transcript).where(Transcript.of_study(study_id))
        query = query.where(Transcript.id.in_(transcript_ids)) if transcript_ids is not None else \
            query.where(Transcript.status == "complete")
        rows = s.exec(query.order_by(Transcript.id)).all()
        todo = [t.id for t in rows if t.id not in done and (tag is None or tag in t.tags)][: limit or None]
        gold = dict(s.exec(select(ItemGold.item_id, ItemGold.gold_index)).all())
    correct = []
    for k, tid in enumerate(todo):
        if progress:
            progress(k, len(todo), f"transcript {tid}")
        j = judge_transcript(transcript_id=tid, model_name=model.name)
        if j.item_id in gold:
            correct.append(is_correct(j.probabilities, gold[j.item_id]))
    if progress:
        progress(len(todo), len(todo), "done")
    return {"n": len(todo), "model": model.name,
            "accuracy": round(sum(correct) / len(correct), 3) if correct else None}


def ai_judge_job(ctx) -> dict:
    """The "ai-judge" job: params transcript_ids, tag, limit, model (each optional). Judging skips transcripts this
    model already judged, so a retried job does not judge twice."""
    p = ctx.params
    return judge_transcripts(study_id=ctx.study_id, tag=p.get("tag"), limit=p.get("limit"), model_name=p.get("model"),
                             transcript_ids=p.get("transcript_ids"), progress=ctx.progress)
