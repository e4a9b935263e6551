"""Preference pairs: a conversation, two candidate final responses, and which one the data set prefers.

Anthropic's HH-RLHF files hold one JSON object a line, `chosen` and `rejected`, each a whole dialogue
(`\\n\\nHuman: … \\n\\nAssistant: …`) whose final assistant turn differs. A pair is the dialogue before that
final turn plus the two final turns. A line is refused, naming file, line and field, when a field is missing
or not a string, a dialogue has no assistant turn, the conversation before it is empty, the two dialogues
differ before their final turn, a final response is empty, or the two responses are identical.

The two responses are put in a seeded-random order per pair (`shuffled`): the data set's chosen response is
not always first, so an index-0 bias cannot pass for agreement, and a study's items use the same order.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from oversight.importers.common import ImportFailed

ASSISTANT = "\n\nAssistant:"
HUMAN = "\n\nHuman:"
DEFAULT_SEED = 0


@dataclass(frozen=True)
class Pair:
    """One comparison. `preferred` is the index (0/1) of the response the data set prefers, None if unknown."""

    key: str
    conversation: str
    responses: tuple[str, str]
    preferred: int | None = None
    item_id: int | None = None


@dataclass
class PairFile:
    pairs: list[Pair]
    refused: list[str] = field(default_factory=list)  # "file line N, field 'x': why" for each refused line


def split_final_turn(dialogue: str) -> tuple[str, str] | None:
    """(conversation before the final assistant turn, that turn's text) or None without an assistant turn."""
    cut = dialogue.rfind(ASSISTANT)
    if cut < 0:
        return None
    return dialogue[:cut], dialogue[cut + len(ASSISTANT):].strip()


def shuffled(key: str, chosen: str, rejected: str, seed: int = DEFAULT_SEED) -> tuple[tuple[str, str], int]:
    """The two responses in a seeded-random order for this pair, and the index of the chosen one."""
    if random.Random(f"{seed}:{key}").random() < 0.5:
        return (chosen, rejected), 0
    return (rejected, chosen), 1


def pair_from_record(record: dict, *, file: str | Path, line: int, key: str, seed: int = DEFAULT_SEED) -> Pair:
    """Validate one HH-RLHF record; raises ImportFailed naming the file, line and field."""
    turns = {}
    for name in ("chosen", "rejected"):
        value = record.get(name)
        if not isinstance(value, str) or not value.strip():
            raise ImportFailed(file, line, name, "is required and must be a non-empty dialogue string")
        split = split_final_turn(value)
        if split is None:
            raise ImportFailed(file, line, name, "has no final 'Assistant:' turn")
        turns[name] = split
    (prefix, chosen), (prefix_r, rejected) = turns["chosen"], turns["rejected"]
    if not prefix.strip() or HUMAN.strip() not in prefix:
        raise ImportFailed(file, line, "chosen", "the conversation before the final assistant turn is empty")
    if prefix != prefix_r:
        raise ImportFailed(file, line, "rejected", "the two dialogues differ before their final assistant turn")
    for name, text in (("chosen", chosen), ("rejected", rejected)):
        if not text:
            raise ImportFailed(file, line, name, "the final assistant response is empty")
    if chosen == rejected:
        raise ImportFailed(file, line, "rejected", "the two responses are identical")
    responses, preferred = shuffled(key, chosen, rejected, seed)
    return Pair(key=key, conversation=prefix.strip(), responses=responses, preferred=preferred)


def read_pairs(path: str | Path, *, skip_invalid: bool = False, limit: int | None = None,
               seed: int = DEFAULT_SEED) -> PairFile:
    """Pairs from an HH-RLHF JSON-lines file. Strict by default (the first bad line raises ImportFailed);
    with `skip_invalid` bad lines are left out and listed in `refused`. `limit` keeps the first N valid pairs."""
    from oversight.importers.generic import jsonl_records

    path = Path(path)
    if not path.is_file():
        raise ImportFailed(path, None, None, "file not found")
    out = PairFile(pairs=[])
    for line_no, record in jsonl_records(path):
        try:
            out.pairs.append(pair_from_record(record, file=path, line=line_no, key=f"hh/{path.stem}/{line_no}",
                                              seed=seed))
        except ImportFailed as exc:
            if not skip_invalid:
                raise
            out.refused.append(str(exc))
        if limit is not None and len(out.pairs) >= limit:
            break
    if not out.pairs:
        raise ImportFailed(path, None, None, "no valid pairs found")
    return out


def write_valid_lines(src: str | Path, dst: str | Path) -> PairFile:
    """Copy the valid lines of an HH-RLHF file verbatim to `dst` (for a strict import); lists what it left out."""
    from oversight.importers.generic import read_text

    src, dst = Path(src), Path(dst)
    result = read_pairs(src, skip_invalid=True)
    keep = {int(p.key.rsplit("/", 1)[1]) for p in result.pairs}
    lines = read_text(src).splitlines()
    dst.write_text("".join(lines[n - 1] + "\n" for n in sorted(keep)), encoding="utf-8")
    return result


@dataclass(frozen=True)
class CleanedUpload:
    name: str  # the cleaned file's name: the upload's stem + ".clean.jsonl"
    data: bytes  # the valid lines, verbatim
    kept: int
    refused: list[str]  # "<uploaded name> line N, field 'x': why" per line left out


def clean_upload(*, filename: str, data: bytes) -> CleanedUpload:
    """`write_valid_lines` for an uploaded file (the Data tab of the RLAIF page; the CLI's `rlaif clean` works on
    paths): the same size limit as an import, and every message names the uploaded file, never the temporary
    folder it is read from. Raises ImportFailed when no line is valid or the file is not text."""
    import tempfile

    from oversight.importers.bounds import check_upload_size

    name = Path(filename).name
    if not name or name.startswith("."):
        name = "upload.jsonl"
    check_upload_size(name, data)
    with tempfile.TemporaryDirectory(prefix="oversight-clean-") as tmp:
        src = Path(tmp) / name  # its own name: ImportFailed shows only the file name, so messages name the upload
        src.write_bytes(data)
        dst = Path(tmp) / "cleaned.jsonl"
        result = write_valid_lines(src, dst)
        cleaned = dst.read_bytes()
    return CleanedUpload(name=f"{Path(name).stem}.clean.jsonl", data=cleaned, kept=len(result.pairs),
                         refused=list(result.refused))


def pairs_from_items(items: Iterable, gold: dict[int, int]) -> list[Pair]:
    """Pairs from a study's two-option items (e.g. imported with format `hh-rlhf`); gold: item id -> index."""
    out = []
    for item in items:
        if len(item.options) != 2:
            continue
        conversation = item.source_text or ""
        out.append(Pair(key=f"item/{item.id}", conversation=conversation, responses=(item.options[0], item.options[1]),
                        preferred=gold.get(item.id), item_id=item.id))
    return out



def conversation_messages(conversation: str):
    """The `Human:`/`Assistant:` turns of a conversation as chat messages (user/assistant), for a policy model."""
    import re

    from oversight.models import Message

    text = "\n\n" + conversation.strip()
    parts = re.split(r"\n\n(Human|Assistant):", text)
    msgs = []
    for who, said in zip(parts[1::2], parts[2::2]):
        if said.strip():
            msgs.append(Message("user" if who == "Human" else "assistant", said.strip()))
    return msgs or [Message("user", conversation.strip())]
