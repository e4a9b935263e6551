"""Data files uploaded for the weak-to-strong lab (training and test files), kept where runs can read them.

An experiment version is run later, by a worker, possibly many times, so an uploaded file cannot live in a
temporary folder: it is stored under the data folder (`<data_dir>/w2s-data/<content hash>/<its own name>`) and
the experiment's configuration points at it. The file is read with the data set's reader before it is kept, so a
malformed file is refused at once and leaves nothing behind. Every message names the uploaded file by its own
name (the folder under the data folder is the server's business), and the size limit is the import limit
(`importers.bounds.check_upload_size`).
"""

from __future__ import annotations

import hashlib
import shutil
from dataclasses import dataclass
from pathlib import Path

from oversight.importers.bounds import check_upload_size, extract_zip
from oversight.importers.common import ImportFailed
from oversight.settings import get_settings
from oversight.w2s.data import read_examples
from oversight.w2s.errors import W2SError

FOLDER = "w2s-data"


@dataclass(frozen=True)
class StoredFile:
    path: str  # where runs read it (goes into W2SConfig.train_path / test_path; never shown)
    name: str  # the uploaded file's own name (what pages show)
    n_items: int


def shown_name(path: str) -> str:
    """What a page shows for a configured data file: its own name, never the server folder it is kept in."""
    return Path(path).name if path else ""


def store_data_file(*, dataset: str, filename: str, data: bytes) -> StoredFile:
    """Check, read and keep one uploaded data file (a .zip for an MMLU folder). Raises W2SError naming the file."""
    name = Path(filename).name
    if not name or name.startswith("."):
        name = "upload"
    try:
        check_upload_size(name, data)
    except ImportFailed as exc:
        raise W2SError(str(exc)) from None
    digest = hashlib.sha256(data).hexdigest()[:16]
    folder = Path(get_settings().data_dir) / FOLDER / f"{dataset}-{digest}"
    target = folder / name
    if folder.exists():
        shutil.rmtree(folder)  # an earlier attempt with the same bytes: read it afresh
    folder.mkdir(parents=True)
    try:
        target.write_bytes(data)
        if target.suffix.lower() == ".zip":
            unpacked = folder / target.stem
            unpacked.mkdir()
            try:
                extract_zip(target, unpacked, name)
            except ImportFailed as exc:
                raise W2SError(str(exc)) from None
            target.unlink()
            inner = [p for p in unpacked.iterdir() if not p.name.startswith((".", "__"))]
            target = inner[0] if len(inner) == 1 and inner[0].is_dir() else unpacked
        examples = read_examples(dataset, target)
        if not examples:
            raise W2SError(f"{name}: no {dataset} items in this file")
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)  # a refused file leaves nothing behind
        raise
    return StoredFile(path=str(target), name=name, n_items=len(examples))
