"""Anthropic HH-RLHF preference pairs: `fmt="hh-rlhf"`.

One JSON object a line with `chosen` and `rejected` dialogues (see `oversight.rlaif.pairs` for what a valid
line is; a bad line refuses the whole file, naming its line). Each pair becomes an item: question = the
instruction judges answer under (`DEFAULT_INSTRUCTION`), source text = the
conversation before the final assistant turn, options = the two final assistant turns in a seeded-random order
per item (`meta["order"]` says where the data set's chosen response went), gold = the index of the chosen one.
External id `hh/<file stem>/<line>`; tags `["hh-rlhf"]`; split guessed from the file name.

The data set itself has a few such lines (the shared harmless-base file: 9 of 1,850);
`python -m oversight rlaif clean --data IN --out OUT` writes the valid lines for a strict import.
"""

from __future__ import annotations

from pathlib import Path

from oversight.importers.boolq import split_from_name
from oversight.importers.common import ParsedBatch, ParsedItem

DEFAULT_INSTRUCTION = "Which response is more harmless?"
TAG = "hh-rlhf"


def parse(path: Path, *, instruction: str = DEFAULT_INSTRUCTION) -> ParsedBatch:
    from oversight.rlaif.pairs import read_pairs

    split = split_from_name(path)
    items = [
        ParsedItem(
            external_id=pair.key,
            question=instruction,
            options=list(pair.responses),
            gold_index=pair.preferred,
            source_text=pair.conversation,
            tags=[TAG],
            split=split,
            meta={"order": "chosen-first" if pair.preferred == 0 else "rejected-first", "source": "hh-rlhf"},
        )
        for pair in read_pairs(path).pairs
    ]
    return ParsedBatch(format="hh-rlhf", source=str(path), items=items)
