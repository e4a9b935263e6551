"""The domain, importable without Streamlit. The core modules at this level every package may import: `settings` (the
one settings object), `db` (sessions on the configured database), `vocab` (words every layer shares, what "correct"
means), `text`, `audit` (the audit log), `jobs` (long work run by workers), `read_cache` (rows kept per process);
and the entry points above the packages: `errors` (the messages written for people), `demo`, `cli/`.
Packages, one per capability: `access`, `protocols`, `models`, `importers`, `results`, `study`, `sandwiching`,
`rlaif`, `w2s` (each `__init__` says what it owns and imports). The map: DESIGN-NOTES.md.
"""
