"""SQLModel tables. The schema is owned by Alembic (storage/migrations); keep both in step.

Columns that hold a closed vocabulary (roles, kinds, states, decisions) have CHECK constraints whose values come
from `storage.vocabulary`.

Gold answers live in their own table (`ItemGold`) so that the queries that serve participants never
select them: participant-facing code reads `Item` only.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, Index, UniqueConstraint, and_, func, or_, select, text
from sqlmodel import Field, SQLModel

from storage.vocabulary import checks


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _json(default: Any = None) -> Any:
    """A JSON column; default is a factory so rows never share a mutable value."""
    factory = (lambda: list(default)) if isinstance(default, list) else (lambda: dict(default or {}))
    return Field(default_factory=factory, sa_column=Column(JSON, nullable=False))


class User(SQLModel, table=True):
    __table_args__ = checks("user")

    id: int | None = Field(default=None, primary_key=True)
    role: str = Field(index=True)  # storage.vocabulary.USER_ROLES
    name: str = Field(index=True)
    # Admins and experts: argon2 hash. Participants: none (they hold a link token instead).
    password_hash: str | None = None
    # sha256 of the participant's link token; the token itself is shown once and never stored.
    token_hash: str | None = Field(default=None, unique=True, index=True)
    token_revoked: bool = False
    study_id: int | None = Field(default=None, foreign_key="study.id", index=True)
    # Recruitment platform ids (Prolific's PROLIFIC_PID, STUDY_ID, SESSION_ID).
    external_id: str | None = Field(default=None, index=True)
    external_study_id: str | None = None
    external_session_id: str | None = None
    consented_at: datetime | None = None
    failed_logins: int = 0
    last_failed_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)
    last_seen_at: datetime | None = None
    # An admin's decision on a participant flagged by the attention checks: "include" | "exclude" | None (the
    # thresholds decide), see oversight/study/attention.py.
    attention_override: str | None = None
    # A staff member taking a study as a participant (preview mode): their answers are never results and never paid.
    preview_by: int | None = Field(default=None, foreign_key="user.id")
    # The participant chose "I do not agree" on the consent page: they were sent back with the no-consent code.
    declined_at: datetime | None = None
    # Staff: an admin deactivated the account (Staff page): it cannot sign in and its sessions ended.
    deactivated_at: datetime | None = None


class Study(SQLModel, table=True):
    __table_args__ = checks("study")

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    description: str = ""
    instructions: str = ""
    status: str = "open"  # draft | open | closed | archived (read-only, links closed: oversight/study/lifecycle.py)
    # A dry-run copy (oversight/sandwiching/simulate.py) points at the study it copies; its simulated people are its results.
    dry_run_of: int | None = Field(default=None, foreign_key="study.id", index=True)
    consent_text: str = ""
    # How many items each participant gets (None: every item of the study).
    items_per_participant: int | None = None
    # The design of a sandwiching study (see oversight/sandwiching/conditions.py and oversight/sandwiching/dealing.py).
    design: str = "within"  # within: every participant sees every condition; between: one condition each
    practice_items: int = 0  # items with feedback before the real ones, excluded from results
    # Attention checks (oversight/study/attention.py): catch items (split "catch") dealt among the real ones, a minimum
    # time per answer (0: off), and the flags at which the admin is warned / the participant excluded (0: never).
    catch_items: int = 0
    min_seconds_per_item: float = 0.0
    attention_warn: int = 1
    attention_exclude: int = 0
    review_share: float = 0.0  # share of finished assignments that a second expert reviews
    blind_review: bool = True  # experts do not see the strategy version or the participant
    allocation: str = "balanced"  # balanced (Latin square) | thompson (over candidate versions)
    # When a version's inner loop has converged: min_participants, min_confidence, min_agreement.
    convergence: dict = _json({})
    # Where the completion page sends participants (e.g. Prolific's completion URL; "{code}" is replaced).
    completion_url: str | None = None
    # Pay (see oversight/study/payments.py): base pay for finishing, and a bonus per answer by `bonus_rule`.
    currency: str = "GBP"
    base_pay: float = 0.0
    bonus_rule: str = "none"  # none | per_correct | score
    bonus_amount: float = 0.0  # per correct answer, or per point of score above a uniform guess
    # Feedback after an answer whose gold is shown (practice items, strategies that give feedback): "confidence"
    # (correct or not, and how sure they were), "score" (also the score, its rule explained), "correctness" (only
    # correct or not). See oversight/study/feedback.py.
    feedback: str = "confidence"
    # sha256 of the open-enrolment token (Prolific-style link); None when enrolment is closed.
    enrol_token_hash: str | None = Field(default=None, unique=True, index=True)
    completion_code: str | None = None  # the code for "completed"
    # The codes for the other ways participation ends (None: none set, the participant sees no code).
    code_no_consent: str | None = None
    code_screened_out: str | None = None  # excluded by the attention checks
    code_timed_out: str | None = None  # every task's time ran out
    # Prolific's id of this study: the API mode posts bonuses and approvals to it (oversight/study/prolific_api.py).
    prolific_study_id: str | None = None
    # No foreign key: user.study_id already points at study, and a cycle breaks CREATE order.
    created_by: int | None = None
    created_at: datetime = Field(default_factory=utcnow)
    # When the study's export was last made (oversight.results.export): a study is deleted only after one.
    exported_at: datetime | None = None


class ImportBatch(SQLModel, table=True):
    """One import of one file or folder; every item and transcript points back to it."""

    __table_args__ = checks("importbatch")

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    format: str
    source: str  # the path or file name imported
    n_items: int = 0
    n_transcripts: int = 0
    # "importing" while its rows are written in batches, "done" once all landed, in one transaction that makes
    # them part of the study (`landed`): until then no page, deal, export or lab sees them. An import that
    # failed, or whose process died, has its rows deleted (oversight.importers.common).
    state: str = "done"
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    # The process writing it ("host:pid") and when it last committed a batch: a re-import or the cleanup
    # tells a dead import from a running one by these (oversight.importers.common.is_dead).
    worker: str | None = None
    heartbeat_at: datetime | None = None


def unfinished_imports():
    """Ids of the imports whose rows are not part of their study (yet, or ever: a dead import's)."""
    return select(ImportBatch.id).where(ImportBatch.state != "done")


def landed(import_id) -> Any:
    """A condition on a row's `import_id` column: the row came from no import or from a finished one. The one
    definition of "part of the study" for imported rows; `Item.of_study`, `Transcript.of_study` and
    `Judgment.landed` use it, and so does every query that lists them."""
    return or_(import_id.is_(None), import_id.not_in(unfinished_imports()))


class Item(SQLModel, table=True):
    __table_args__ = (UniqueConstraint("study_id", "external_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    import_id: int | None = Field(default=None, foreign_key="importbatch.id", index=True)
    external_id: str  # stable id within the study (file line, data set id, ...)
    question: str
    options: list[str] = _json([])
    source_title: str | None = None
    source_text: str | None = None
    tags: list[str] = _json([])
    split: str | None = None
    meta: dict = _json({})
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def of_study(cls, study_id: int) -> Any:
        """A condition on Item: an item of the study that people, pages, exports and labs may see (not one of
        an unfinished import). Every query listing a study's items uses it instead of `Item.study_id ==`."""
        return and_(cls.study_id == study_id, landed(cls.import_id))


class ItemGold(SQLModel, table=True):
    item_id: int = Field(foreign_key="item.id", primary_key=True)
    gold_index: int
    explanation: str | None = None


class Strategy(SQLModel, table=True):
    """An immutable, versioned oversight strategy. Editing makes a child row with a reason."""

    __table_args__ = (UniqueConstraint("study_id", "name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    name: str
    version: int = 1
    parent_id: int | None = Field(default=None, foreign_key="strategy.id")
    reason: str = ""
    protocol: str  # a name in oversight.protocols.registry.PROTOCOLS
    # The complete rules of the protocol (defaults filled in) and each model role's prompt (system, template).
    rules: dict = _json({})
    prompts: dict = _json({})
    model_roles: dict = _json({})
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Condition(SQLModel, table=True):
    """One condition of a sandwiching study: non-expert alone, model alone, non-expert + model under a strategy
    version, or experts. Assisted conditions point at the current (promoted) version of their strategy."""

    __table_args__ = (UniqueConstraint("study_id", "name"), *checks("condition"))

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    name: str
    kind: str  # storage.vocabulary.CONDITION_KINDS
    strategy_id: int | None = Field(default=None, foreign_key="strategy.id")
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow)


class Assignment(SQLModel, table=True):
    # One assignment per participant and item: two tabs dealing tasks at once cannot double them.
    __table_args__ = (UniqueConstraint("participant_id", "item_id"), *checks("assignment"))

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    participant_id: int = Field(foreign_key="user.id", index=True)
    item_id: int = Field(foreign_key="item.id")
    strategy_id: int | None = Field(default=None, foreign_key="strategy.id")
    # The protocol its task runs (its strategy's; direct QA without one). Called `arm` before migration 0010;
    # the export keeps that name.
    protocol: str = ""
    condition_id: int | None = Field(default=None, foreign_key="condition.id", index=True)
    practice: bool = False  # a practice item: feedback shown, excluded from results
    catch: bool = False  # an attention check (known answer, no feedback), never a result
    state: str = "pending"  # pending | active | done | skipped
    # Thompson sampling: the probability the dealt version had of being drawn (for inverse-probability weights).
    allocation_probability: float | None = None
    position: int = 0
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    completed_at: datetime | None = None


class DesignPlace(SQLModel, table=True):
    """A person's place (slot) in a study's design, given on their first deal in arrival order; a later arrival
    may take over the slot of someone who left (oversight.sandwiching.dealing), so slots can repeat."""

    __table_args__ = (UniqueConstraint("study_id", "user_id"), *checks("designplace"))
    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    role: str  # participant | expert: each has its own sequence of slots
    slot: int
    created_at: datetime = Field(default_factory=utcnow)


class Transcript(SQLModel, table=True):
    # A live transcript names the protocol that ran, an imported one the setting its source names: never both.
    __table_args__ = (*checks("transcript"),
                      CheckConstraint("(protocol IS NULL) <> (source_setting IS NULL)", name="ck_transcript_setting"))

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    import_id: int | None = Field(default=None, foreign_key="importbatch.id", index=True)
    strategy_id: int | None = Field(default=None, foreign_key="strategy.id")
    # One transcript per assignment: two tabs opening the same task at once cannot make two.
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id", unique=True)
    # What ran, shown as its "setting" (oversight.protocols.transcripts.setting_of): a live transcript's protocol (its
    # strategy's), or the setting an imported transcript's source names, e.g. "human debate", "AI consultancy".
    protocol: str | None = None
    source_setting: str | None = None

    @property
    def setting(self) -> str:
        """What ran, as the viewer, the report and the export name it: the setting an imported transcript's source
        names, else the live protocol (in a query: `setting_column()`)."""
        return self.source_setting or self.protocol or ""

    @classmethod
    def setting_column(cls):
        return func.coalesce(cls.source_setting, cls.protocol)

    @classmethod
    def of_study(cls, study_id: int) -> Any:
        """A condition on Transcript: a transcript of the study, not one of an unfinished import."""
        return and_(cls.study_id == study_id, landed(cls.import_id))
    origin: str = "live"  # live | imported
    external_id: str | None = Field(default=None, index=True)
    status: str = "open"  # open | complete | timed-out (live); complete | incomplete (imported rooms never finished)
    tags: list[str] = _json([])
    meta: dict = _json({})
    created_at: datetime = Field(default_factory=utcnow)


class Turn(SQLModel, table=True):
    # A transcript is a sequence of turns: `position` orders them. A live turn fills a `slot` ("round:role"), unique
    # per transcript, so a turn generated twice or a report sent from two tabs is stored once. Imported turns
    # have no slot (NULLs never collide).
    __table_args__ = (UniqueConstraint("transcript_id", "position"), UniqueConstraint("transcript_id", "slot"))

    id: int | None = Field(default=None, primary_key=True)
    transcript_id: int = Field(foreign_key="transcript.id", index=True)
    position: int
    slot: str | None = None
    round: int = 0
    # debater_a | debater_b | consultant | judge | assistant | participant | restart (see oversight.vocab)
    role: str
    speaker: str = ""
    text: str = ""
    quotes: list[dict] = _json([])
    model: str | None = None
    tokens: int | None = None
    latency_ms: float | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Judgment(SQLModel, table=True):
    # At most one final human judgment per assignment: two tabs submitting the same task store one.
    __table_args__ = (Index("uq_judgment_final_per_assignment", "assignment_id", unique=True,
                            sqlite_where=text("is_final AND judge_kind = 'human'"),
                            postgresql_where=text("is_final AND judge_kind = 'human'")),
                      *checks("judgment"))

    id: int | None = Field(default=None, primary_key=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    transcript_id: int | None = Field(default=None, foreign_key="transcript.id", index=True)
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id", index=True)
    judge_id: int | None = Field(default=None, foreign_key="user.id")
    judge_kind: str = "human"  # storage.vocabulary.JUDGE_KINDS
    judge_name: str = ""
    round: int = 0
    # Probabilities over the item's options, in the item's option order.
    probabilities: list[float] = _json([])
    answer_index: int | None = None
    rationale: str = ""
    seconds: float | None = None
    is_final: bool = False
    # Which answer form a person used (oversight.vocab.ANSWER_FORMS); None for model and imported judgments.
    answer_form: str | None = None
    created_at: datetime = Field(default_factory=utcnow)

    @classmethod
    def landed(cls) -> Any:
        """A condition on Judgment: not one of an unfinished import's transcripts (whose item may be older)."""
        unfinished = select(Transcript.id).where(Transcript.import_id.in_(unfinished_imports()))
        return or_(cls.transcript_id.is_(None), cls.transcript_id.not_in(unfinished))


class Rubric(SQLModel, table=True):
    """What experts rate, versioned per study like strategies: a new version is a new row with a reason."""

    __table_args__ = (UniqueConstraint("study_id", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    version: int = 1
    # [{"name", "label", "kind": choice|scale|flag, "choices": [...], "level": nominal|ordinal}, ...]
    fields: list[dict] = _json([])
    reason: str = ""
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class ExpertReview(SQLModel, table=True):
    # One live review per expert and assignment, and one adjudication per assignment (partial unique indexes).
    __table_args__ = (
        Index("uq_review_per_expert_assignment", "expert_id", "assignment_id", unique=True,
              sqlite_where=text("kind = 'review' AND assignment_id IS NOT NULL"),
              postgresql_where=text("kind = 'review' AND assignment_id IS NOT NULL")),
        Index("uq_adjudication_per_assignment", "assignment_id", unique=True,
              sqlite_where=text("kind = 'adjudication'"), postgresql_where=text("kind = 'adjudication'")),
        *checks("expertreview"),
    )

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    expert_id: int = Field(foreign_key="user.id")
    transcript_id: int | None = Field(default=None, foreign_key="transcript.id")
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    notes: str = ""
    rubric_id: int | None = Field(default=None, foreign_key="rubric.id")
    labels: dict = _json({})  # the rubric's field name -> value
    kind: str = "review"  # review | adjudication | superseded (an older duplicate kept by migration 0006)
    created_at: datetime = Field(default_factory=utcnow)


class QuestionnaireAnswer(SQLModel, table=True):
    """The inner loop's input: after their items, a participant's answers about one condition."""

    __table_args__ = (UniqueConstraint("user_id", "condition_id"),)

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    condition_id: int = Field(foreign_key="condition.id")
    strategy_id: int | None = Field(default=None, foreign_key="strategy.id")  # the version they worked with
    helped: int | None = None  # 1-5, how much the model helped (None without a model)
    sure: int = 3  # 1-5, how sure they are of their answers
    change: str = ""  # what they would change
    created_at: datetime = Field(default_factory=utcnow)


class Proposal(SQLModel, table=True):
    """A participant's proposed refinement of the strategy they worked with; the admin may make it a version."""

    __table_args__ = checks("proposal")

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id")
    strategy_id: int = Field(foreign_key="strategy.id")
    kind: str = "assistant_instructions"  # assistant_instructions | questioning_tips | rules
    text: str = ""
    reason: str = ""
    status: str = "open"  # open | accepted | declined
    child_strategy_id: int | None = Field(default=None, foreign_key="strategy.id")
    decided_by: int | None = Field(default=None, foreign_key="user.id")
    decided_at: datetime | None = None
    created_at: datetime = Field(default_factory=utcnow)


class VersionDecision(SQLModel, table=True):
    """The outer loop's record, append-only: a version became a candidate, was promoted or retired, and why."""

    __table_args__ = checks("versiondecision")

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    strategy_id: int = Field(foreign_key="strategy.id", index=True)
    decision: str  # candidate | promoted | retired
    rationale: str = ""
    review_ids: list[int] = _json([])  # the expert reviews the decision answers
    proposal_id: int | None = Field(default=None, foreign_key="proposal.id")
    user_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class Job(SQLModel, table=True):
    __table_args__ = checks("job")

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(index=True)
    study_id: int | None = Field(default=None, foreign_key="study.id")
    params: dict = _json({})
    state: str = Field(default="queued", index=True)  # queued | running | done | failed | cancelled
    progress: float = 0.0
    message: str = ""
    result: dict = _json({})
    error: str | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    started_at: datetime | None = None
    finished_at: datetime | None = None
    # The worker running it (host:pid:thread), its last sign of life, how often it was claimed, and whether
    # someone asked it to stop (see oversight/jobs.py).
    worker: str | None = None
    heartbeat_at: datetime | None = Field(default=None, index=True)
    attempts: int = 0
    cancel_requested: bool = False


class Event(SQLModel, table=True):
    """Audit log: who did what, when."""

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    study_id: int | None = Field(default=None, foreign_key="study.id")
    kind: str = Field(index=True)
    detail: dict = _json({})


class SignInThrottle(SQLModel, table=True):
    """Failed sign-ins per key (sha256 of "name|address" or "address|..."): the row is locked while an
    attempt claims the right to check a password, so parallel attempts cannot all pass a wait."""

    key: str = Field(primary_key=True)
    failures: int = 0
    blocked_until: datetime | None = None
    last_at: datetime = Field(default_factory=utcnow, index=True)


class StaffSession(SQLModel, table=True):
    """A staff sign-in that survives browser refreshes: the browser holds the token in an HttpOnly cookie,
    the database only its sha256. Sign-out sets `revoked_at`."""

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    token_hash: str | None = Field(default=None, unique=True, index=True)
    # One-time code the signed-in page hands to the cookie route (sha256; usable once, for a minute).
    handoff_hash: str | None = Field(default=None, unique=True, index=True)
    handoff_expires_at: datetime | None = None
    client: str = ""
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    revoked_at: datetime | None = None


class StaffLink(SQLModel, table=True):
    """A one-time link for staff (oversight/access/staff_links.py): an invite, which creates the admin or expert
    when they set their password, or a password reset for an existing one. Only the token's sha256 is stored;
    a link works once, until `expires_at`, unless revoked."""

    __table_args__ = checks("stafflink")

    id: int | None = Field(default=None, primary_key=True)
    purpose: str  # storage.vocabulary.STAFF_LINK_PURPOSES
    token_hash: str = Field(unique=True, index=True)
    name: str
    role: str  # storage.vocabulary.STAFF_ROLES
    # reset: the person whose password it sets; invite: the person it created, once used.
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    expires_at: datetime
    used_at: datetime | None = None
    revoked_at: datetime | None = None


class EnrolmentCap(SQLModel, table=True):
    """Limits on a study's shared enrolment link (None: no limit)."""

    study_id: int = Field(foreign_key="study.id", primary_key=True)
    max_per_minute: int | None = None
    max_total: int | None = None


# --- RLAIF lab (oversight/rlaif/) ----------------------------------------------------------------------------------
class RlaifLabeller(SQLModel, table=True):
    """An immutable, versioned AI labeller: constitution, prompt, model and options. Editing makes a child version."""

    __table_args__ = (UniqueConstraint("name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: int = 1
    parent_id: int | None = Field(default=None, foreign_key="rlaiflabeller.id")
    reason: str = ""
    constitution: list[str] = _json([])  # the principles, in order
    prompt: str = ""  # instruction shown to an LLM labeller; the extractive labeller ignores it
    model: str = "extractive"  # a configured model name (oversight.models)
    options: dict = _json({})  # chain_of_thought (bool), few_shot (list of examples)
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class RlaifLabel(SQLModel, table=True):
    """One AI label of one pair item by one labeller version, judged in both orders."""

    __table_args__ = (UniqueConstraint("labeller_id", "item_id"),)

    id: int | None = Field(default=None, primary_key=True)
    labeller_id: int = Field(foreign_key="rlaiflabeller.id", index=True)
    item_id: int = Field(foreign_key="item.id", index=True)
    # P(the item's option 0 is better): shown in the item's order, shown reversed, and their mean.
    p_first_forward: float
    p_first_backward: float
    p_first: float
    flipped: bool = False  # the verdict changed with the order
    created_at: datetime = Field(default_factory=utcnow)


class RewardModelRun(SQLModel, table=True):
    """A reward model trained on one label source and evaluated on held-out pairs."""

    __table_args__ = checks("rewardmodelrun")

    id: int | None = Field(default=None, primary_key=True)
    study_id: int | None = Field(default=None, foreign_key="study.id", index=True)
    label_source: str  # dataset | ai:<labeller id> | study:<id>
    backend: str = "encoder"  # encoder (CPU, MiniLM + scalar head) | hf (sequence classifier + LoRA)
    params: dict = _json({})
    result: dict = _json({})  # n_train, accuracies on held-out pairs with intervals
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


# --- Weak-to-strong lab (oversight/w2s) ---------------------------------------------------------------------------


class W2SExperiment(SQLModel, table=True):
    """A versioned weak-to-strong experiment: data set and splits, weak supervisor, strong student, methods, seeds
    (`config`, see `oversight.w2s.config.W2SConfig`). Like a strategy, editing makes a child row with a reason."""

    __table_args__ = (UniqueConstraint("name", "version"),)

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True)
    version: int = 1
    parent_id: int | None = Field(default=None, foreign_key="w2sexperiment.id")
    reason: str = ""
    # The study whose participants are the weak supervisor (human supervisor only).
    study_id: int | None = Field(default=None, foreign_key="study.id", index=True)
    config: dict = _json({})
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)


class W2SRun(SQLModel, table=True):
    """One run of an experiment version (a job): every seed and method; `summary` holds the figures per method."""

    __table_args__ = checks("w2srun")

    id: int | None = Field(default=None, primary_key=True)
    experiment_id: int = Field(foreign_key="w2sexperiment.id", index=True)
    job_id: int | None = Field(default=None, foreign_key="job.id")
    state: str = "running"  # running | done | failed
    n_train: int = 0
    n_test: int = 0
    summary: dict = _json({})
    error: str | None = None
    seconds: float | None = None
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None


class W2SResult(SQLModel, table=True):
    """One seed and method of a run: the three accuracies on the test items and, for the bootstrap, whether each
    test item was answered correctly (lists in `test_keys` order)."""

    __table_args__ = (UniqueConstraint("run_id", "seed", "method"),)

    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(foreign_key="w2srun.id", index=True)
    seed: int
    method: str
    weak_accuracy: float
    w2s_accuracy: float
    ceiling_accuracy: float
    test_keys: list[str] = _json([])
    weak_correct: list[int] = _json([])
    w2s_correct: list[int] = _json([])
    ceiling_correct: list[int] = _json([])
    seconds: float = 0.0
    created_at: datetime = Field(default_factory=utcnow)


class PaymentExport(SQLModel, table=True):
    """One payment export: its lines are what it paid, so the next export pays only what is still owed."""

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    total: float = 0.0
    lines: int = 0
    created_by: int | None = Field(default=None, foreign_key="user.id")
    created_at: datetime = Field(default_factory=utcnow)
    # What the export says to do, kept so that its files can be downloaded again at any time
    # (oversight.study.payments.export_files): bonus [[PID, amount]], approve [[PID, submission]],
    # reject [[PID, submission, reason]], by_hand [[name, amount]].
    plan: dict = _json({})


class Payout(SQLModel, table=True):
    """What one export paid one participant for one thing: base pay once per participant, a bonus once per
    assignment. The partial unique indexes make a second payment of either fail, however exports overlap."""

    __table_args__ = (
        Index("uq_payout_base_per_user", "user_id", unique=True,
              sqlite_where=text("kind = 'base'"), postgresql_where=text("kind = 'base'")),
        Index("uq_payout_bonus_per_assignment", "assignment_id", unique=True,
              sqlite_where=text("kind = 'bonus'"), postgresql_where=text("kind = 'bonus'")),
        Index("uq_payout_rejected_per_user", "user_id", unique=True,
              sqlite_where=text("kind = 'rejected'"), postgresql_where=text("kind = 'rejected'")),
        *checks("payout"),
    )

    id: int | None = Field(default=None, primary_key=True)
    export_id: int = Field(foreign_key="paymentexport.id", index=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    assignment_id: int | None = Field(default=None, foreign_key="assignment.id")
    kind: str  # base | bonus | rejected
    amount: float


class ProlificCall(SQLModel, table=True):
    """One call to Prolific's API, recorded (committed) before it is sent and again when it is answered. `key` is
    unique (e.g. "bonus_pay:export:7"), so the same call is never sent twice at once, and a pay call whose answer
    never came stays "sent": it is not sent again until someone has checked on Prolific (the pay endpoint is not
    idempotent)."""

    __table_args__ = (UniqueConstraint("key", name="uq_prolificcall_key"), *checks("prolificcall"))

    id: int | None = Field(default=None, primary_key=True)
    study_id: int = Field(foreign_key="study.id", index=True)
    export_id: int | None = Field(default=None, foreign_key="paymentexport.id", index=True)
    user_id: int | None = Field(default=None, foreign_key="user.id")
    action: str  # storage.vocabulary.PROLIFIC_ACTIONS
    key: str
    state: str = "sent"  # storage.vocabulary.PROLIFIC_CALL_STATES
    remote_id: str | None = None  # the bulk bonus id (bonus_setup) or the submission id
    answer: str = ""  # the status and the start of the answer's body, for the record
    created_at: datetime = Field(default_factory=utcnow)
    answered_at: datetime | None = None


class ContentVersion(SQLModel, table=True):
    """One row whose `version` every change to a cached table (study, item, strategy) raises, in the change's own
    transaction (storage.db): each process keeps those rows' snapshots while the version it reads is unchanged,
    so a staff edit is seen by every process on its next page run (oversight.read_cache)."""

    id: int | None = Field(default=None, primary_key=True)
    version: int = 0
