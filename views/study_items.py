"""Items of a study with their gold answers (admins and experts), and item import (admins)."""

from pathlib import Path

import streamlit as st

from oversight.sandwiching.conditions import list_conditions
from oversight.importers import FORMATS, import_path, import_upload
from oversight.importers.common import ImportFailed
from oversight.study.studies import count_items, items_with_gold
from oversight.text import display_text
from web.ui import escape_markdown, pick_study, require_role, upload_limit_mb, user_error

user = require_role("admin", "expert")
st.title("Items")
study_id = pick_study()

if user.role == "admin":
    with st.expander("Import items", expanded=count_items(study_id=study_id) == 0):
        formats = sorted(FORMATS)
        fmt = st.selectbox("Format", formats, index=formats.index("csv"),
                           format_func=lambda f: f"{f} — {FORMATS[f]}")
        st.caption("Upload a file (a .zip for folder formats such as mmlu and nyu-debate), or give a path on "
                   "the server. An import lands whole or not at all.")
        upload = st.file_uploader("File", type=None, key=f"upload-{fmt}", max_upload_size=upload_limit_mb())
        server_path = st.text_input("…or a path on the server")
        if st.button("Import", type="primary", disabled=not (upload or server_path.strip())):
            with st.spinner("Importing…"):
                try:
                    if upload is not None:
                        summary = import_upload(study_id=study_id, fmt=fmt, filename=upload.name,
                                                data=upload.getvalue(), user_id=user.id)
                    else:
                        summary = import_path(study_id=study_id, fmt=fmt, path=Path(server_path.strip()).expanduser(),
                                              user_id=user.id)
                except ImportFailed as exc:
                    user_error(exc)
                else:
                    st.success(escape_markdown(str(summary)))

total = count_items(study_id=study_id)
if total == 0:
    st.info("This study has no items yet." + (" Import a file above." if user.role == "admin" else ""))
    st.stop()

PAGE = 200
pages = (total + PAGE - 1) // PAGE
page = st.number_input(f"Page (of {pages}, {total} items)", 1, pages, 1) if pages > 1 else 1
rows = items_with_gold(study_id=study_id, limit=PAGE, offset=(page - 1) * PAGE)
# Where experts answer as a condition of their own, their accuracy is measured: the gold stays with admins.
hide_gold = user.role == "expert" and any(c.kind == "expert" for c in list_conditions(study_id=study_id))
if hide_gold:
    st.caption("Gold answers are hidden here: experts answer this study's items as a condition of their own.")
st.dataframe(
    # Imported typography (``quotes'', -- dashes) shown as people read it; the stored text is unchanged.
    [{"id": r["id"], "question": display_text(r["question"]), "options": " | ".join(map(display_text, r["options"])),
      **({} if hide_gold else {"gold": r["gold_answer"] and display_text(r["gold_answer"])}), "tags": ", ".join(r["tags"]), "split": r["split"] or "",
      "source": r["source_title"] or ("yes" if r["has_source"] else "")} for r in rows],
    hide_index=True, width="stretch",
)
