"""Study settings (issue 18): the add-condition form resets after each add and offers a kind only the versions it
accepts; the conditions table says how many items each condition can deal before anyone is dealt, and counts the
model-alone run's items; dry runs start from the page as a job (the CLI's checks), and a finished one shows its
figures and the way to its results; job progress is drawn by the live fragment."""

from __future__ import annotations

import pytest
from sqlmodel import func, select

from oversight.access import auth
from oversight.db import session_scope
from oversight.jobs import get_job, list_jobs, run_worker
from oversight.protocols import strategies
from oversight.sandwiching import conditions
from oversight.sandwiching.conditions import ConditionError, list_conditions
from storage.models import Event, Job, Study
from tests import factories
from tests.pages.apptest import run_page


@pytest.fixture
def setup(db):
    """A draft with six 4-option items (plus a practice and a catch item) and no conditions; the versions of a
    debate (two-option items only), direct QA and a model alone."""
    sid = factories.four_option_study(6, name="Settings study", kinds=())
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    versions = {p: strategies.create_strategy(study_id=sid, name=n, protocol=p).id
                for p, n in (("debate", "Debate"), ("direct-qa", "Direct"), ("model-alone", "Model"))}
    return {"study": sid, "admin": admin.id, "versions": versions}


def _select(at, label: str):
    return next(s for s in at.selectbox if s.label.startswith(label))


def _button(at, label: str):
    return next(b for b in at.button if b.label == label)


def _bars(at) -> list[str]:
    """The progress bars' texts, unescaped (they are Markdown, escaped by web.ui.escape_markdown)."""
    return [p.proto.text.replace("\\", "") for p in at.get("progress")]


def _refused(at) -> list[str]:
    """Errors other than the launch check's (a draft without conditions has problems to fix)."""
    return [e.value for e in at.error if "cannot be" in e.value or "must" in e.value or "simulate" in e.value]


def _conditions_table(at) -> list[dict]:
    return next(d.value for d in at.dataframe if "tasks dealt" in d.value).to_dict("records")


def test_add_condition_resets_and_experts_are_offered_no_model_strategy(setup):
    """Once 'Debate' was chosen for a non-expert + model condition, choosing 'Experts' next was refused with
    'Debate v1 (Debate) cannot be a experts condition': the form kept the debate. Now each kind lists only the
    versions it accepts and the form starts afresh after an add."""
    at = run_page("study_settings", setup["admin"], study=str(setup["study"]))
    _select(at, "Kind").set_value("assisted").run()
    _select(at, "Strategy version").set_value(setup["versions"]["debate"])
    _button(at, "Add condition").click().run()
    assert not at.exception and not _refused(at)
    assert [c.kind for c in list_conditions(study_id=setup["study"])] == ["assisted"]
    # Reset: the kind is back at its first choice and the name is empty.
    assert _select(at, "Kind").value == "alone"
    assert next(t for t in at.text_input if t.label == "Name (optional)").value == ""

    _select(at, "Kind").set_value("expert").run()
    offered = _select(at, "Strategy version").options
    assert offered == ["none (direct QA)", f"Direct v1 (direct-qa, #{setup['versions']['direct-qa']})"]
    _button(at, "Add condition").click().run()
    assert not at.exception and not _refused(at)
    assert [(c.kind, c.strategy_id) for c in list_conditions(study_id=setup["study"])] == [
        ("assisted", setup["versions"]["debate"]), ("expert", None)]


def test_a_refused_kind_says_an_expert_condition(setup):
    with pytest.raises(ConditionError, match=r"cannot be an expert condition"):
        conditions.add_condition(study_id=setup["study"], kind="expert", strategy_id=setup["versions"]["debate"])
    with pytest.raises(ConditionError, match=r"cannot be a non-expert alone condition"):
        conditions.add_condition(study_id=setup["study"], kind="alone", strategy_id=setup["versions"]["debate"])


def test_before_anyone_is_dealt_the_table_says_how_many_items_each_condition_can_deal(setup):
    """Debate runs on two-option items only: on these 4-option items it can deal none, direct QA all six real
    items (not the practice or catch item), as the launch check counts them."""
    conditions.add_condition(study_id=setup["study"], kind="alone", name="Alone")
    conditions.add_condition(study_id=setup["study"], kind="assisted", name="Debate",
                             strategy_id=setup["versions"]["debate"])
    at = run_page("study_settings", setup["admin"], study=str(setup["study"]))
    rows = {r["condition"]: r for r in _conditions_table(at)}
    assert rows["Alone"]["items it can deal"] == 6 and rows["Debate"]["items it can deal"] == 0
    assert rows["Alone"]["tasks dealt"] == 0


def test_model_alone_counters_count_its_run_and_progress_shows_the_job(setup):
    """The model-alone row stayed at 0 after runs (it deals no assignment): it counts its AI run's items now."""
    model = conditions.add_condition(study_id=setup["study"], kind="model", name="Model",
                                     strategy_id=setup["versions"]["model-alone"])
    at = run_page("study_settings", setup["admin"], study=str(setup["study"]))
    _select(at, "Change a condition").set_value(model.id).run()
    _button(at, "Run the model alone over the items people are dealt").click().run()
    [job] = list_jobs(study_id=setup["study"])
    assert any(f"Job #{job.id} model alone (Model) · queued" in p for p in _bars(at))
    assert run_worker(once=True) == 1 and get_job(job.id).state == "done"
    at.run()
    row = next(r for r in _conditions_table(at) if r["condition"] == "Model")
    assert (row["tasks dealt"], row["answered"], row["items"]) == (6, 6, 6)
    assert any(f"Job #{job.id} model alone (Model) · done" in p for p in _bars(at))


def _dry_run_form(at, **values):
    for label, value in values.items():
        next(n for n in at.number_input if n.label == label).set_value(value)
    next(b for b in at.button if b.label == "Start dry run").click()
    return at.run()


def test_a_dry_run_starts_from_the_page_with_the_clis_checks_and_shows_its_results(setup):
    conditions.add_condition(study_id=setup["study"], kind="alone", name="Alone")
    at = run_page("study_settings", setup["admin"], study=str(setup["study"]))
    # The CLI's checks: a stated confidence of 0.2 leaves no option likeliest on 4-option items; nothing is queued.
    _dry_run_form(at, **{"Simulated participants": 3, "Simulated experts (answer and review)": 0,
                         "Stated confidence (0: calibrated)": 0.2})
    assert any("does not make the chosen option the likeliest" in e.value for e in at.error)
    with session_scope(write=False) as s:
        assert s.exec(select(func.count()).select_from(Job)).one() == 0
    _dry_run_form(at, **{"Stated confidence (0: calibrated)": 0.0})
    assert not at.exception and not _refused(at)
    [job] = list_jobs(study_id=setup["study"])
    assert (job.kind, job.params["participants"], job.params["experts"]) == ("simulate", 3, 0)
    assert any(f"Dry run job #{job.id}" in p and "queued" in p for p in _bars(at))
    with session_scope(write=False) as s:
        assert s.exec(select(Event).where(Event.kind == "study.dry_run_start")).first().user_id == setup["admin"]

    assert run_worker(once=True) == 1
    job = get_job(job.id)
    assert job.state == "done", job.error
    copy = job.result["study_id"]
    with session_scope(write=False) as s:
        assert s.get(Study, copy).dry_run_of == setup["study"]
    at.run()
    assert not at.exception
    assert any(f"Open the results of dry run #{copy}" == b.label for b in at.button)
    figures = next(d.value for d in at.dataframe if "planted" in d.value).to_dict("records")
    assert [r["condition"] for r in figures] == ["Alone", "Experts (gold stands in)", "gap closed"]
