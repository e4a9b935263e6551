"""Items of a study with their gold answers (admins and experts), and item import (admins)."""

import tempfile
import zipfile
from pathlib import Path

import streamlit as st

from oversight.importers import FORMATS, import_path
from oversight.importers.common import ImportFailed
from oversight.studies import count_items, items_with_gold
from ui import pick_study, require_role, user_error

user = require_role("admin", "expert")
st.title("Items")
study_id = pick_study()
if study_id is None:
    st.stop()

if user.role == "admin":
    with st.expander("Import items", expanded=count_items(study_id=study_id) == 0):
        formats = sorted(FORMATS)
        fmt = st.selectbox("Format", formats, index=formats.index("csv"),
                           format_func=lambda f: f"{f} — {FORMATS[f]}")
        st.caption("Upload a file (a .zip for folder formats such as mmlu and nyu-debate), or give a path on "
                   "the server. An import lands whole or not at all.")
        upload = st.file_uploader("File", type=None, key=f"upload-{fmt}")
        server_path = st.text_input("…or a path on the server")
        if st.button("Import", type="primary", disabled=not (upload or server_path.strip())):
            with tempfile.TemporaryDirectory() as tmp, st.spinner("Importing…"):
                if upload is not None:
                    path = Path(tmp) / Path(upload.name).name
                    path.write_bytes(upload.getvalue())
                    if path.suffix == ".zip":
                        folder = Path(tmp) / path.stem
                        with zipfile.ZipFile(path) as zf:
                            zf.extractall(folder)
                        inner = [p for p in folder.iterdir() if not p.name.startswith((".", "__"))]
                        path = inner[0] if len(inner) == 1 and inner[0].is_dir() else folder
                else:
                    path = Path(server_path.strip()).expanduser()
                try:
                    summary = import_path(study_id=study_id, fmt=fmt, path=path, user_id=user.id)
                except ImportFailed as exc:
                    user_error(exc)
                except (FileNotFoundError, zipfile.BadZipFile) as exc:
                    st.error(f"Could not read {path.name}: {exc}")
                else:
                    st.success(str(summary))

total = count_items(study_id=study_id)
if total == 0:
    st.info("This study has no items yet." + (" Import a file above." if user.role == "admin" else ""))
    st.stop()

PAGE = 200
pages = (total + PAGE - 1) // PAGE
page = st.number_input(f"Page (of {pages}, {total} items)", 1, pages, 1) if pages > 1 else 1
rows = items_with_gold(study_id=study_id, limit=PAGE, offset=(page - 1) * PAGE)
st.dataframe(
    [{"id": r["id"], "question": r["question"], "options": " | ".join(r["options"]),
      "gold": r["gold_answer"], "tags": ", ".join(r["tags"]), "split": r["split"] or "",
      "source": r["source_title"] or ("yes" if r["has_source"] else "")} for r in rows],
    hide_index=True, width="stretch",
)
