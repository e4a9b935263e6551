"""The numbers a paper reports, each defined once: what counts as a result, how an interval is computed, and the
report and export every figure comes from.

Owns: `results_filter` (what counts as a result; who is left out and why), `intervals` (the one interval engine),
`judgment_records` (a study's judgments as named records: the one query), `report` (a study's numbers),
`export` (a study to a folder).
Imports: core, `protocols`, `study.attention` (who is excluded) and, for the report, `sandwiching.analysis` and
`sandwiching.agreement`. Pages and the CLI read figures from here, never from raw rows.
"""
