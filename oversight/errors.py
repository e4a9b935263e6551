"""The exception types whose messages are written for people (shown as-is by the CLI and the pages)."""

from __future__ import annotations

from oversight.study.attention import AttentionError
from oversight.backup import BackupError
from oversight.access.auth import AuthError
from oversight.sandwiching.conditions import ConditionError
from oversight.importers.common import ImportFailed
from oversight.jobs import JobError
from oversight.sandwiching.inner_loop import LoopError
from oversight.models.errors import ModelError
from oversight.study.participation import ParticipationError
from oversight.study.payments import PaymentError
from oversight.study.prolific_api import ProlificError
from oversight.protocols.prompts import PromptError
from oversight.protocols.base import RuleViolation, RulesError
from oversight.sandwiching.reviews import ReviewError
from oversight.rlaif.errors import RlaifError
from oversight.sandwiching.simulate import SimulationError
from oversight.protocols.strategies import StrategyError
from oversight.study.studies import StudyError
from oversight.study.archive import StudyArchived
from oversight.w2s.errors import W2SError
from storage.db import StorageUnavailable

USER_ERRORS: tuple[type[Exception], ...] = (
    AttentionError, AuthError, BackupError, ConditionError, ImportFailed, JobError, LoopError, ModelError,
    ParticipationError, PaymentError, ProlificError, PromptError, ReviewError, RlaifError, RuleViolation, RulesError,
    SimulationError, StrategyError, StudyArchived, StudyError,
    StorageUnavailable, W2SError,
)
