"""The closed vocabularies of the tables: every role, kind, state and decision a column may hold.

ONE place: the tables' CHECK constraints (`storage.models`, through `check`), the domain's validation and the
pages read these tuples (the domain imports them from here, since `storage/` never imports `oversight/`).

Adding a value: add it to its tuple here, then write a migration that replaces the column's constraint with
`replace_check` (see migration 0010): `tests/test_vocabulary.py` fails until the migrated database allows exactly
what this module says. Columns left open on purpose: `Strategy.protocol` and `Assignment.protocol` (the protocol
registry, a module per protocol), `Turn.role` (each protocol names its speakers), `Job.kind`, `Event.kind`,
`ImportBatch.format` (registries of their own).
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint

USER_ROLES = ("admin", "expert", "participant")
ATTENTION_OVERRIDES = ("include", "exclude")  # an admin's decision on a flagged participant (None: the thresholds)
STUDY_STATUSES = ("draft", "open", "closed", "archived")  # archived: read-only, links closed, hidden from lists
DESIGNS = ("within", "between")  # within: every participant sees every condition; between: one condition each
ALLOCATIONS = ("balanced", "thompson")  # balanced (Latin square) | thompson (over candidate versions)
BONUS_RULES = ("none", "per_correct", "score")
# What a participant is told after an answer whose gold the rules show (oversight/study/feedback.py): correct or not
# and how sure they were / that and the score (its rule explained) / correct or not only.
FEEDBACK_MODES = ("confidence", "score", "correctness")
IMPORT_STATES = ("importing", "done")
CONDITION_KINDS = ("alone", "model", "assisted", "expert")
ASSIGNMENT_STATES = ("pending", "active", "done", "skipped")  # skipped: the task's time ran out
TRANSCRIPT_ORIGINS = ("live", "imported")
# open | complete | timed-out (live); complete | incomplete (imported rooms never finished); superseded (an AI
# batch run replaced by a re-run on the same item and version).
TRANSCRIPT_STATUSES = ("open", "complete", "timed-out", "incomplete", "superseded")
# Who judged: a transcript's own judge (a participant, a room's judge, or a batch run's AI judge) is "human" or
# "ai"; an AI judge run afterwards over finished transcripts is "ai-offline"; imported offline human judges are
# "offline-human".
JUDGE_KINDS = ("human", "ai", "ai-offline", "offline-human")
ANSWER_FORMS = ("choice-confidence",)  # how a person gave a judgment (see oversight.vocab)
# review | adjudication | superseded (an older duplicate kept by migration 0006)
REVIEW_KINDS = ("review", "adjudication", "superseded")
PROPOSAL_KINDS = ("assistant_instructions", "questioning_tips", "rules")
PROPOSAL_STATUSES = ("open", "accepted", "declined")
VERSION_DECISIONS = ("candidate", "promoted", "retired")
JOB_STATES = ("queued", "running", "done", "failed", "cancelled")
W2S_RUN_STATES = ("running", "done", "failed")
REWARD_BACKENDS = ("encoder", "hf")  # encoder (CPU, MiniLM + scalar head) | hf (sequence classifier + LoRA)
# base: base pay settled (a Prolific approval, or paid by hand); bonus: one answer's bonus; rejected: a submission
# to reject (screened out, timed out), settled with nothing paid.
PAYOUT_KINDS = ("base", "bonus", "rejected")
# The Prolific API calls the app makes (oversight/study/prolific_api.py), each recorded before it is sent.
PROLIFIC_ACTIONS = ("bonus_setup", "bonus_pay", "approve", "reject")
# sent: recorded, no answer yet (an unanswered pay call is never sent again: someone checks Prolific first);
# done: Prolific answered yes; refused: Prolific answered no (a 4xx: nothing happened, it may be sent again).
PROLIFIC_CALL_STATES = ("sent", "done", "refused")
# How a participant's participation ended, each with its own completion code (Study settings).
COMPLETION_OUTCOMES = ("completed", "no_consent", "screened_out", "timed_out")
# A staff link (oversight/access/staff_links.py): invite (a new admin or expert sets their password) | reset (an
# existing one sets a new password).
STAFF_LINK_PURPOSES = ("invite", "reset")
STAFF_ROLES = ("admin", "expert")

# (table, column) -> the values it may hold. A nullable column may also be NULL (a CHECK passes on NULL).
CLOSED_COLUMNS: dict[tuple[str, str], tuple[str, ...]] = {
    ("user", "role"): USER_ROLES,
    ("user", "attention_override"): ATTENTION_OVERRIDES,
    ("study", "status"): STUDY_STATUSES,
    ("study", "design"): DESIGNS,
    ("study", "allocation"): ALLOCATIONS,
    ("study", "bonus_rule"): BONUS_RULES,
    ("study", "feedback"): FEEDBACK_MODES,
    ("importbatch", "state"): IMPORT_STATES,
    ("condition", "kind"): CONDITION_KINDS,
    ("assignment", "state"): ASSIGNMENT_STATES,
    ("designplace", "role"): USER_ROLES,
    ("transcript", "origin"): TRANSCRIPT_ORIGINS,
    ("transcript", "status"): TRANSCRIPT_STATUSES,
    ("judgment", "judge_kind"): JUDGE_KINDS,
    ("judgment", "answer_form"): ANSWER_FORMS,
    ("expertreview", "kind"): REVIEW_KINDS,
    ("proposal", "kind"): PROPOSAL_KINDS,
    ("proposal", "status"): PROPOSAL_STATUSES,
    ("versiondecision", "decision"): VERSION_DECISIONS,
    ("job", "state"): JOB_STATES,
    ("w2srun", "state"): W2S_RUN_STATES,
    ("rewardmodelrun", "backend"): REWARD_BACKENDS,
    ("payout", "kind"): PAYOUT_KINDS,
    ("prolificcall", "action"): PROLIFIC_ACTIONS,
    ("prolificcall", "state"): PROLIFIC_CALL_STATES,
    ("stafflink", "purpose"): STAFF_LINK_PURPOSES,
    ("stafflink", "role"): STAFF_ROLES,
}


def check_name(table: str, column: str) -> str:
    return f"ck_{table}_{column}"


def check_sql(column: str, values: tuple[str, ...]) -> str:
    """`column IN ('a', 'b')`: the values are ours (no quotes in them), so plain literals are safe."""
    assert all("'" not in v for v in values)
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def check(table: str, column: str) -> CheckConstraint:
    """The CHECK constraint of a closed column, for the table's `__table_args__`."""
    return CheckConstraint(check_sql(column, CLOSED_COLUMNS[(table, column)]), name=check_name(table, column))


def checks(table: str) -> tuple[CheckConstraint, ...]:
    """Every closed column's CHECK of `table`."""
    return tuple(check(t, c) for t, c in CLOSED_COLUMNS if t == table)


def replace_check(table: str, column: str, values: tuple[str, ...]) -> None:
    """In a migration that adds (or removes) a value: replace the column's constraint with one allowing exactly
    `values` (written out in the migration, since a migration is history). SQLite copies the table (batch mode)."""
    from alembic import op

    with op.batch_alter_table(table, schema=None) as batch_op:
        batch_op.drop_constraint(check_name(table, column), type_="check")
        batch_op.create_check_constraint(check_name(table, column), check_sql(column, values))
