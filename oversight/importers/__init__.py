"""Item (and transcript) importers: `import_path` parses and validates a whole file or folder, then lands
it in bounded batches that become visible together (see `common.land`). A bad file raises `ImportFailed`
naming file, line and field, and writes nothing. Re-importing skips what the study already has and says so
in the summary.

Formats (`FORMATS`): `csv` and `jsonl` (the generic schema, see `generic`), `mmlu`, `boolq`, `cosmos`,
`nyu-debate`, `hh-rlhf`.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from oversight.importers.common import ImportFailed, ImportSummary, ParsedBatch, land

__all__ = ["FORMATS", "ImportFailed", "ImportSummary", "demo_items_path", "import_path", "import_upload",
           "parse_path"]

FORMATS: dict[str, str] = {
    "csv": "generic CSV: question, options (| separated) or option_a.. / A..D columns, gold, optional id, "
    "source_text, source_title, tags (; separated), split, explanation",
    "jsonl": "generic JSON lines: question, options (list), gold, optional id, source_text, source_title, tags, "
    "split, explanation, meta",
    "mmlu": "MMLU CSV folder or file (question, A, B, C, D, answer letter; subject and split from the file name)",
    "boolq": "BoolQ JSON lines (question, passage, answer true/false, title)",
    "cosmos": "Cosmos QA CSV (id, context, question, answer0..answer3, label)",
    "nyu-debate": "NYU human debate folder (debates-metadata.jsonl + debates/*.json): items, transcripts, judgments",
    "hh-rlhf": "Anthropic HH-RLHF JSON lines (chosen, rejected dialogues): preference pairs as two-option items",
}


def parse_path(*, fmt: str, path: Path) -> ParsedBatch:
    """Parse and validate without writing anything."""
    path = Path(path)
    if fmt == "csv":
        from oversight.importers.generic import parse_csv as parse
    elif fmt == "jsonl":
        from oversight.importers.generic import parse_jsonl as parse
    elif fmt == "mmlu":
        from oversight.importers.mmlu import parse
    elif fmt == "boolq":
        from oversight.importers.boolq import parse
    elif fmt == "cosmos":
        from oversight.importers.cosmos import parse
    elif fmt == "nyu-debate":
        from oversight.importers.nyu import parse
    elif fmt == "hh-rlhf":
        from oversight.importers.hh_rlhf import parse
    else:
        raise ImportFailed(path, None, None, f"unknown format {fmt!r}; known: {', '.join(FORMATS)}")
    if not path.exists():
        raise ImportFailed(path, None, None, "file or folder not found")
    from oversight.importers.bounds import check_options, check_tree

    check_tree(path, fmt)
    batch = parse(path)
    for item in batch.items:
        check_options(path, None, f"item {item.external_id}", len(item.options))
    return batch


def import_path(*, study_id: int, fmt: str, path: Path, user_id: int | None = None,
                source: str | None = None) -> ImportSummary:
    """Import one file or folder into a study; all or nothing. `source`: what the import is called in its
    summary, its record and its errors (an upload's own file name; default: the path)."""
    started = time.perf_counter()
    batch = parse_path(fmt=fmt, path=path)
    if source is not None:
        batch.source = source
    summary = land(batch, study_id=study_id, user_id=user_id)
    summary.seconds = time.perf_counter() - started
    return summary


def demo_items_path() -> Path:
    """The bundled demo item set (original passages, generic JSONL schema)."""
    return Path(__file__).resolve().parent.parent / "demo_items.jsonl"


def import_upload(*, study_id: int, fmt: str, filename: str, data: bytes, user_id: int | None = None) -> ImportSummary:
    """Import an uploaded file; a .zip is unpacked first (folder formats such as mmlu and nyu-debate).
    Errors name the uploaded file's own name, not a temporary path."""
    name = Path(filename).name or "upload"
    from oversight.importers.bounds import check_upload_size

    check_upload_size(name, data)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_bytes(data)
        if path.suffix.lower() == ".zip":
            from oversight.importers.bounds import extract_zip

            folder = Path(tmp) / path.stem
            folder.mkdir()
            extract_zip(path, folder, name)
            inner = [p for p in folder.iterdir() if not p.name.startswith((".", "__"))]
            path = inner[0] if len(inner) == 1 and inner[0].is_dir() else folder
        # Named by the uploaded file, never by the temporary folder it was written to.
        return import_path(study_id=study_id, fmt=fmt, path=path, user_id=user_id, source=name)
