"""The demo study: a fresh install is useful at once, with no download and no shared data."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from sqlmodel import select

from oversight.access import auth
from oversight.sandwiching import conditions
from oversight.protocols import strategies
from oversight.db import session_scope
from oversight.importers import demo_items_path, import_path
from oversight.study.launch import open_study
from oversight.study.studies import create_study, update_study
from storage.models import Study, User

DEMO_STUDY = "Demo: reading comprehension"
DEMO_INSTRUCTIONS = (
    "You will see questions about short texts that you cannot read yourself. For each question, choose the "
    "answer you think is correct and say how sure you are. Take your time: your answers are saved as you submit "
    "them."
)
DEMO_CONSENT = (
    "This is a demonstration study. Your answers are stored with a random participant name and used only "
    "to show how Oversight Lab works. You can stop at any time."
)


@dataclass
class DemoSeed:
    study_id: int
    admin_name: str
    admin_password: str | None  # None when the admin existed already (its password is not known)
    invite_links: list[str] = field(default_factory=list)
    created: bool = True


def seed_demo(*, admin_name: str = "admin", admin_password: str | None = None, invites: int = 3,
              simulated: int = 6) -> DemoSeed:
    """Create the demo study, its items, strategies and invite links; a second run adds nothing new
    except fresh invite links (old ones cannot be shown again: only their hashes are stored). The first run also
    runs `simulated` simulated participants and two simulated experts through it, so that every page, the loops
    and the sandwich chart have something to show (labelled as simulated everywhere)."""
    password = None
    with session_scope(write=False) as s:
        admin = s.exec(select(User).where(User.name == admin_name, User.role == "admin")).first()
        study = s.exec(select(Study).where(Study.name == DEMO_STUDY)).first()
    if admin is None:
        password = admin_password or secrets.token_urlsafe(9)
        admin = auth.create_user(role="admin", name=admin_name, password=password)
    created = study is None
    if created:
        study = create_study(name=DEMO_STUDY, user_id=admin.id, instructions=DEMO_INSTRUCTIONS,
                             description="Short original passages; the judge cannot see them.")
        with session_scope() as s:
            s.get(Study, study.id).consent_text = DEMO_CONSENT
        import_path(study_id=study.id, fmt="jsonl", path=demo_items_path(), user_id=admin.id)
        strategies.create_strategy(
            study_id=study.id, name="Debate (offline models)", protocol="debate",
            rules={"rounds": 3, "speeches": "sequential", "judge_questions": True},
            model_roles={"debater": "extractive", "judge": "extractive"}, user_id=admin.id)
        consultancy, assisted, direct = [
            strategies.create_strategy(
                study_id=study.id, name="Consultancy (offline models)", protocol="consultancy",
                rules={"rounds": 2}, model_roles={"consultant": "extractive", "judge": "extractive"},
                user_id=admin.id),
            strategies.create_strategy(
                study_id=study.id, name="Assisted QA (offline assistant)", protocol="assisted-qa",
                rules={"max_messages": 6, "total_time_limit_s": 600},
                model_roles={"assistant": "extractive", "judge": "extractive"}, user_id=admin.id),
            strategies.create_strategy(study_id=study.id, name="Direct QA", protocol="direct-qa", user_id=admin.id),
        ]
        model = strategies.create_strategy(study_id=study.id, name="Model alone (offline)", protocol="model-alone",
                                           model_roles={"judge": "extractive"}, user_id=admin.id)
        # A sandwiching design: non-experts alone and with a model (debate is left out of the dealt conditions:
        # it runs on two-option items only, and the balanced design deals only items every condition can run on).
        conditions.add_condition(study_id=study.id, kind="alone", strategy_id=direct.id, user_id=admin.id)
        for strategy in (assisted, consultancy):
            conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=strategy.id, user_id=admin.id)
        conditions.add_condition(study_id=study.id, kind="model", strategy_id=model.id, user_id=admin.id)
        conditions.add_condition(study_id=study.id, kind="expert", user_id=admin.id)
        # One attention check (the items whose split is "catch") among each participant's six real items.
        update_study(study_id=study.id, user_id=admin.id, items_per_participant=6, review_share=0.5, catch_items=1)
        # Created as a draft like every study; it opens through the same launch check a researcher's does.
        open_study(study_id=study.id, user_id=admin.id)
        if simulated:
            _simulate(study.id, simulated, admin.id)
    links = [i.link for i in auth.create_invites(study_id=study.id, count=invites, created_by=admin.id)]
    return DemoSeed(study.id, admin_name, password, links, created)


def _simulate(study_id: int, participants: int, admin_id: int) -> None:
    """Simulated people answer, review and propose; the admin turns the proposal into a candidate version."""
    from oversight.sandwiching.inner_loop import accept_proposal
    from oversight.sandwiching.simulate import Skill, simulate

    run = simulate(study_id=study_id, participants=participants, skill=Skill(alone=0.55, assisted=0.75, expert=0.9),
                   experts=2, seed=1)
    for proposal_id in run.proposals:
        accept_proposal(proposal_id, admin_id)
