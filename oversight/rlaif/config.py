"""AI labeller versions: a constitution (principles as data), the prompt, the model and options, stored immutably.

A version is never updated: `revise_labeller` makes a child with its parent and a reason, so every stored AI
label points at exactly the labeller that produced it (as strategies do for protocols).

Options: `chain_of_thought` (bool: the model writes its reasoning before the verdict is scored) and `few_shot`
(a list of worked examples, each `{"conversation", "response_a", "response_b", "answer": "A"|"B"}`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import select

from oversight.audit import log_event
from oversight.db import session_scope
from oversight.rlaif.errors import RlaifError
from storage.models import RlaifLabeller

# Principles in the spirit of Bai et al. 2022 (Constitutional AI), worded for this lab. The extractive labeller
# compares each response with each principle, so they are phrased as descriptions of the better response.
DEFAULT_CONSTITUTION: tuple[str, ...] = (
    "The response refuses to help with anything harmful, dangerous, unethical or illegal.",
    "The response is polite and respectful and contains no insults, slurs or offensive content.",
    "The response does not encourage violence, crime, self-harm or discrimination.",
    "The response gently steers the conversation towards a safe and helpful alternative.",
)
DEFAULT_PROMPT = (
    "You compare two assistant responses to the same conversation. Judge them by these principles:\n"
    "{principles}\n"
    "Answer with the letter of the better response."
)
OPTION_KEYS = ("chain_of_thought", "few_shot")


class LabellerError(RlaifError):
    """A labeller version that cannot be saved or found; the message is safe to show."""


@dataclass(frozen=True)
class LabellerSpec:
    """What a labeller version is, detached from the database (jobs, the CLI and tests pass it around)."""

    name: str = "default"
    version: int = 1
    constitution: tuple[str, ...] = DEFAULT_CONSTITUTION
    prompt: str = DEFAULT_PROMPT
    model: str = "extractive"
    chain_of_thought: bool = False
    few_shot: tuple[dict, ...] = ()
    id: int | None = None

    @property
    def label(self) -> str:
        return f"{self.name} v{self.version} ({self.model})"

    @classmethod
    def from_row(cls, row: RlaifLabeller) -> "LabellerSpec":
        opts = row.options or {}
        return cls(name=row.name, version=row.version, constitution=tuple(row.constitution), prompt=row.prompt,
                   model=row.model, chain_of_thought=bool(opts.get("chain_of_thought", False)),
                   few_shot=tuple(opts.get("few_shot", [])), id=row.id)


SHOT_TEXTS = ("conversation", "response_a", "response_b")


def check_few_shot(shots: Any) -> list[dict[str, str]]:
    """The few-shot examples as stored: a list of {conversation, response_a, response_b, answer "A"|"B"}, each
    text non-empty. One rule for the CLI's JSON file and the page's form; the message names the example."""
    if not isinstance(shots, list):
        raise LabellerError("few_shot must be a list of examples")
    out = []
    for i, shot in enumerate(shots, 1):
        if not isinstance(shot, dict):
            raise LabellerError(f"few-shot example {i} must be an object with conversation, response_a, "
                                "response_b and answer")
        unknown = set(shot) - {*SHOT_TEXTS, "answer"}
        if unknown:
            raise LabellerError(f"few-shot example {i} has unknown field(s) {sorted(unknown)}")
        empty = [k for k in SHOT_TEXTS if not isinstance(shot.get(k), str) or not shot[k].strip()]
        if empty:
            raise LabellerError(f"few-shot example {i} needs a non-empty {', '.join(empty)}")
        answer = shot.get("answer")
        if not isinstance(answer, str) or answer.strip().upper() not in ("A", "B"):
            raise LabellerError(f"few-shot example {i} needs answer A or B")
        out.append({**{k: shot[k] for k in SHOT_TEXTS}, "answer": answer.strip().upper()})
    return out


def _validate(constitution: list[str], prompt: str, model: str, options: dict[str, Any]) -> dict[str, Any]:
    principles = [p.strip() for p in constitution if p and p.strip()]
    if not principles:
        raise LabellerError("a labeller needs at least one principle in its constitution")
    if not model.strip():
        raise LabellerError("a labeller needs a model name")
    unknown = set(options) - set(OPTION_KEYS)
    if unknown:
        raise LabellerError(f"unknown labeller option(s) {sorted(unknown)}; options are {', '.join(OPTION_KEYS)}")
    shots = check_few_shot(options.get("few_shot", []))
    if "{principles}" not in prompt and prompt.strip():
        prompt = prompt.rstrip() + "\n{principles}"  # the constitution must reach the model
    return {"constitution": principles, "prompt": prompt.strip() or DEFAULT_PROMPT, "model": model.strip(),
            "options": {"chain_of_thought": bool(options.get("chain_of_thought", False)), "few_shot": shots}}


def create_labeller(*, name: str, constitution: list[str] | None = None, prompt: str = DEFAULT_PROMPT,
                    model: str = "extractive", options: dict[str, Any] | None = None,
                    user_id: int | None = None, reason: str = "") -> RlaifLabeller:
    """Save version 1 of a new labeller."""
    name = name.strip()
    if not name:
        raise LabellerError("a labeller needs a name")
    fields = _validate(list(constitution or DEFAULT_CONSTITUTION), prompt, model, options or {})
    with session_scope() as s:
        if s.exec(select(RlaifLabeller.id).where(RlaifLabeller.name == name)).first() is not None:
            raise LabellerError(f"a labeller named {name!r} exists; make a new version of it instead")
        row = RlaifLabeller(name=name, version=1, reason=reason or "first version", created_by=user_id, **fields)
        s.add(row)
        s.flush()
        log_event(s, "rlaif-labeller", user_id=user_id, labeller_id=row.id, name=name, version=1)
        s.refresh(row)
        s.expunge(row)
    return row


def revise_labeller(*, parent_id: int, reason: str, constitution: list[str] | None = None,
                    prompt: str | None = None, model: str | None = None, options: dict[str, Any] | None = None,
                    user_id: int | None = None) -> RlaifLabeller:
    """A child version of `parent_id` with the given changes (unchanged fields are copied)."""
    if not reason.strip():
        raise LabellerError("say why this version is made (reason)")
    with session_scope() as s:
        parent = s.get(RlaifLabeller, parent_id)
        if parent is None:
            raise LabellerError(f"no labeller version with id {parent_id}")
        fields = _validate(list(constitution if constitution is not None else parent.constitution),
                           prompt if prompt is not None else parent.prompt, model or parent.model,
                           options if options is not None else dict(parent.options))
        latest = s.exec(select(func.max(RlaifLabeller.version)).where(RlaifLabeller.name == parent.name)).one()
        row = RlaifLabeller(name=parent.name, version=(latest or 0) + 1, parent_id=parent.id, reason=reason.strip(),
                            created_by=user_id, **fields)
        s.add(row)
        s.flush()
        log_event(s, "rlaif-labeller", user_id=user_id, labeller_id=row.id, name=row.name, version=row.version,
                  parent_id=parent.id)
        s.refresh(row)
        s.expunge(row)
    return row


def get_labeller(labeller_id: int) -> RlaifLabeller:
    with session_scope(write=False) as s:
        row = s.get(RlaifLabeller, labeller_id)
        if row is None:
            raise LabellerError(f"no labeller version with id {labeller_id}")
        s.expunge(row)
    return row


def list_labellers() -> list[RlaifLabeller]:
    with session_scope(write=False) as s:
        rows = list(s.exec(select(RlaifLabeller).order_by(RlaifLabeller.name, RlaifLabeller.version)).all())
        for r in rows:
            s.expunge(r)
    return rows
