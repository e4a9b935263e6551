"""Admin: make a backup of the whole database while the app runs, and download it (restore is a command, into an
empty database: `python -m oversight restore FILE`)."""

from __future__ import annotations

from web.ui import require_role

user = require_role("admin")

import streamlit as st  # noqa: E402

from oversight.audit import log_event  # noqa: E402
from oversight.backup import backup, new_backup_path, saved_backups  # noqa: E402
from oversight.db import session_scope  # noqa: E402
from web.ui import user_error  # noqa: E402

st.title("Backup")
st.markdown("A backup holds every table of the database, as it stood at one moment, in one zip. Participants can go "
            "on working while it is made. To restore it, use an **empty** database:")
st.code("OVERSIGHT_DATABASE_URL=... python -m oversight restore oversight-backup-....zip", language="bash")

if st.button("Make a backup", type="primary"):
    bar = st.progress(0.0, text="Starting…")

    def show(done: int, total: int, table: str) -> None:
        bar.progress(done / max(total, 1), text=f"Table {min(done + 1, total)} of {total}: {table}")

    try:
        manifest = backup(out=new_backup_path(), progress=show)
    except Exception as exc:  # noqa: BLE001 - shown as text; the log keeps the cause
        user_error(exc)
    else:
        with session_scope() as s:
            log_event(s, "backup", user_id=user.id, rows=sum(manifest["tables"].values()),
                      schema_revision=manifest["schema_revision"])
        bar.progress(1.0, text=f"Done: {sum(manifest['tables'].values())} rows of {len(manifest['tables'])} tables, "
                               f"schema revision {manifest['schema_revision']}.")

saved = saved_backups()
if not saved:
    st.info("No backup made here yet.")
for path, size in saved:
    cols = st.columns([3, 1, 1])
    cols[0].text(path.name)
    cols[1].text(f"{size / 2**20:.1f} MB")
    # The file is read only when asked for: a page run does not load every backup into memory.
    if cols[2].button("Download…", key=f"pick-{path.name}"):
        st.download_button(f"Download {path.name}", data=path.read_bytes(), file_name=path.name,
                           mime="application/zip", key=f"download-{path.name}")
st.caption(f"Backups made here are kept on the server in {saved[0][0].parent if saved else 'the data folder'}.")
