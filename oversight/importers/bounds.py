"""Limits on what an import may hold, checked before and while reading, so that a hostile or broken
upload (zip bomb, a million entries, one endless line, JSON nested a million deep, a NUL byte that
PostgreSQL refuses, a symbolic link out of the folder) gets a message naming the file, never a
traceback or an exhausted machine. The limits are settings (`import_max_*` in oversight/settings.py).
"""

from __future__ import annotations

import json
import os
import shutil
import stat
import zipfile
from pathlib import Path
from typing import Any

from oversight.importers.common import ImportFailed
from oversight.settings import get_settings

ZIP_MAGIC = b"PK\x03\x04"
FOLDER_FORMATS = {"mmlu", "nyu-debate"}


def size_text(n: float) -> str:
    return f"{n / 2**20:.0f} MB" if n >= 2**20 else f"{n / 1024:.0f} KB"


def check_upload_size(name: str, data: bytes) -> None:
    """An uploaded file within the import size limit (the same limit and message for every upload: items, the
    W2S lab's data files, the RLAIF lab's HH files); `name` is the uploaded file's own name."""
    limit = get_settings().import_max_bytes
    if len(data) > limit:
        raise ImportFailed(name, None, None, f"is larger than the import limit of {size_text(limit)} "
                                             "(setting OVERSIGHT_IMPORT_MAX_BYTES)")


def upload_limit_mb() -> int:
    """The import limit in whole megabytes, for the uploader's own limit (so it says what the import accepts)."""
    return max(1, get_settings().import_max_bytes // 2**20)


def check_tree(path: Path, fmt: str) -> None:
    """Before parsing: the right kind of path for the format, no symbolic links inside, and within the
    size and file-count limits."""
    cfg = get_settings()
    if path.is_dir() and fmt not in FOLDER_FORMATS:
        raise ImportFailed(path, None, None, f"is a folder; the {fmt} format reads one file "
                                              f"(folders: {', '.join(sorted(FOLDER_FORMATS))})")
    if not path.is_dir() and not path.is_file():
        raise ImportFailed(path, None, None, "is not a regular file or folder")
    total = count = 0
    if path.is_file():
        total, count = path.stat().st_size, 1
    else:
        for root, dirs, files in os.walk(path, followlinks=False):
            for name in dirs + files:
                entry = Path(root) / name
                if entry.is_symlink():
                    raise ImportFailed(entry, None, None, f"is a symbolic link ({entry.relative_to(path)}); "
                                                          "links are not followed: copy the files into the folder")
            for name in files:
                entry = Path(root) / name
                count += 1
                total += entry.lstat().st_size
                if count > cfg.import_max_files:
                    raise ImportFailed(path, None, None, f"holds more than {cfg.import_max_files} files "
                                                         "(setting OVERSIGHT_IMPORT_MAX_FILES)")
    if total > cfg.import_max_bytes:
        raise ImportFailed(path, None, None, f"is {size_text(total)}, more than the import limit of "
                                             f"{size_text(cfg.import_max_bytes)} (setting OVERSIGHT_IMPORT_MAX_BYTES)")


def extract_zip(archive: Path, folder: Path, shown_name: str) -> None:
    """Unpack a zip within the limits: entry count, total size (counted while writing, not trusted from
    the header), compression ratio per entry; no absolute or `..` paths, no symbolic links."""
    cfg = get_settings()
    try:
        with zipfile.ZipFile(archive) as zf:
            members = zf.infolist()
            if len(members) > cfg.import_max_files:
                raise ImportFailed(shown_name, None, None, f"holds {len(members)} entries, more than "
                                                           f"{cfg.import_max_files} (setting OVERSIGHT_IMPORT_MAX_FILES)")
            for m in members:
                if Path(m.filename).is_absolute() or ".." in Path(m.filename).parts:
                    raise ImportFailed(shown_name, None, None, f"unsafe path in the zip: {m.filename}")
                if stat.S_ISLNK(m.external_attr >> 16):
                    raise ImportFailed(shown_name, None, None, f"{m.filename} is a symbolic link; links are not imported")
                if m.compress_size and m.file_size / m.compress_size > cfg.import_max_zip_ratio:
                    raise ImportFailed(shown_name, None, None,
                                       f"{m.filename} unpacks to {m.file_size / m.compress_size:.0f} times its "
                                       f"packed size (limit {cfg.import_max_zip_ratio:.0f}, setting "
                                       "OVERSIGHT_IMPORT_MAX_ZIP_RATIO): refused as a possible zip bomb")
            written = 0
            for m in members:
                target = folder / m.filename
                if m.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                with zf.open(m) as src, open(target, "wb") as dst:
                    while chunk := src.read(1 << 20):
                        written += len(chunk)
                        if written > cfg.import_max_bytes:
                            raise ImportFailed(shown_name, None, None,
                                               f"unpacks to more than {size_text(cfg.import_max_bytes)} "
                                               "(setting OVERSIGHT_IMPORT_MAX_BYTES)")
                        dst.write(chunk)
    except zipfile.BadZipFile:
        raise ImportFailed(shown_name, None, None, "not a valid zip file") from None
    except (RuntimeError, NotImplementedError) as exc:  # encrypted or unsupported compression
        shutil.rmtree(folder, ignore_errors=True)
        raise ImportFailed(shown_name, None, None, f"cannot unpack this zip ({exc})") from None


def check_text(path: Path, raw: bytes, text: str) -> None:
    """A text file's content: not a zip in disguise, no NUL bytes, no line over the limit."""
    cfg = get_settings()
    if raw.startswith(ZIP_MAGIC):
        raise ImportFailed(path, None, None, "is a zip archive, not a text file: upload the .zip for a folder "
                                             "format (mmlu, nyu-debate), or unpack it and import the file inside")
    nul = text.find("\x00")
    if nul >= 0:
        raise ImportFailed(path, text.count("\n", 0, nul) + 1, None,
                           "contains a NUL byte (\\0), which no database stores: is this really a text file?")
    start = 0
    line = 1
    limit = cfg.import_max_line_chars
    while start < len(text):
        end = text.find("\n", start)
        end = len(text) if end < 0 else end
        if end - start > limit:
            raise ImportFailed(path, line, None, f"the line is {end - start} characters long, more than "
                                                 f"{limit} (setting OVERSIGHT_IMPORT_MAX_LINE_CHARS)")
        start, line = end + 1, line + 1


def json_depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)
    return deepest


def load_json(text: str, path: Path, line: int | None) -> Any:
    """json.loads with the nesting limit (Python's parser would hit its recursion limit first and crash)."""
    limit = get_settings().import_max_json_depth
    message = f"JSON nested deeper than {limit} levels (setting OVERSIGHT_IMPORT_MAX_JSON_DEPTH)"
    try:
        value = json.loads(text)
    except RecursionError:
        raise ImportFailed(path, line, None, message) from None
    if json_depth(value) > limit:
        raise ImportFailed(path, line, None, message)
    return value


def check_options(path: Path, line: int | None, field: str, n_options: int) -> None:
    limit = get_settings().import_max_options
    if n_options > limit:
        raise ImportFailed(path, line, field, f"{n_options} options, more than the {limit} a participant's page "
                                              "can show (setting OVERSIGHT_IMPORT_MAX_OPTIONS)")
