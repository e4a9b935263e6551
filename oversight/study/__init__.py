"""A study from draft to paid: its settings, the launch check, who joins and what they do, attention checks,
payments, the live monitor, dry runs and power before paying.

Owns: `studies` (settings and what staff see), `launch` (the check before a draft opens, previews),
`participation` (consent, next task, submit: the participant path), `places` and `eligibility` (a person's place in
the design and which items it can deal), `attention`, `payments`, `monitor`, `dry_run`, `power`, `lifecycle` (duplicate, archive, delete after an
export) and `archive` (the read-only check every write to a study's design makes).
Imports: core, `access`, `protocols`, `results`, and the design of `sandwiching` (conditions, dealing, allocation).
"""
