"""The results dashboard and the transcript viewer under AppTest: roles, charts, the viewer, escaping, empty states."""

from __future__ import annotations

import json
import re
from collections import defaultdict

import pytest
from sqlmodel import select
from streamlit.testing.v1 import AppTest

from oversight.access import auth
from oversight import models
from oversight.db import session_scope
from oversight.models.config import ModelsConfig, ScriptedConfig
from oversight.protocols.quotes import check_quotes
from storage.models import Item, ItemGold, Judgment, Strategy, Transcript, Turn
from tests.pages.apptest import run_page

SOURCE = "The key was <b>under</b> the blue flowerpot by the door.\n\nNobody had moved it for years."
EVIL = "<script>alert(1)</script>"


def markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


@pytest.fixture
def people(study):
    admin = auth.create_user(role="admin", name="ada", password="long enough")
    expert = auth.create_user(role="expert", name="eve", password="long enough")
    participant = auth.create_invites(study_id=study.id, count=1)[0]
    return {"admin": admin.id, "expert": expert.id, "participant": participant.user_id, "study": study.id}


@pytest.fixture
def judged(people):
    """A live debate judged by a human, an imported room with offline judges, and a consultancy."""
    study_id = people["study"]
    with session_scope() as s:
        item = Item(study_id=study_id, external_id="key", question=f"Where was the key? {EVIL}",
                    options=["In the mailbox", f"Under the flowerpot {EVIL}"], source_text=SOURCE)
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=1))
        v1 = Strategy(study_id=study_id, name="debate", version=1, protocol="debate")
        s.add(v1)
        s.flush()
        roles = {"debater_a": {"argues": 1, "honest": True}, "debater_b": {"argues": 0, "honest": False}}
        live = Transcript(study_id=study_id, item_id=item.id, strategy_id=v1.id, protocol="debate", status="complete",
                          meta={"order": [1, 0], "roles": roles})
        room = Transcript(study_id=study_id, item_id=item.id, source_setting="human debate", origin="imported",
                          external_id="room-1", status="complete", tags=["nyu", "paper"],
                          meta={"roles": {"debater_a": {"name": "Ann", "argues": 0, "honest": False},
                                          "debater_b": {"name": "Bo", "argues": 1, "honest": True}}})
        consult = Transcript(study_id=study_id, item_id=item.id, source_setting="human consultancy", origin="imported",
                             external_id="room-2", status="complete", tags=["nyu"],
                             meta={"roles": {"consultant": {"name": "Cy", "argues": 0, "honest": False}}})
        s.add_all([live, room, consult])
        s.flush()
        text = f"It was <quote>the blue flowerpot by the door</quote> {EVIL} **bold**"
        s.add(Turn(transcript_id=live.id, position=0, round=1, role="debater_a", speaker="Debater A", text=text,
                   quotes=[q.__dict__ for q in check_quotes(text, SOURCE)]))
        s.add(Turn(transcript_id=live.id, position=1, round=1, role="debater_b", speaker="Debater B",
                   text="<img src=x onerror=alert(2)>"))
        b_text = "Look: <quote>the blue flowerpot</quote>"
        s.add(Turn(transcript_id=room.id, position=1, round=1, role="debater_b", speaker="Bo", text=b_text,
                   quotes=[{**q.__dict__, "span": [0, 3]} for q in check_quotes(b_text, SOURCE)]))
        s.add_all([
            Judgment(item_id=item.id, transcript_id=live.id, judge_kind="human", round=1, probabilities=[0.2, 0.8],
                     rationale=f"Final because {EVIL}", seconds=42.0, is_final=True),
            Judgment(item_id=item.id, transcript_id=room.id, judge_kind="human", judge_name="Jo", round=1,
                     probabilities=[0.4, 0.6], is_final=True),
            Judgment(item_id=item.id, transcript_id=room.id, judge_kind="offline-human", judge_name="Off",
                     round=0, probabilities=[0.7, 0.3], rationale="offline says A", is_final=True),
            Judgment(item_id=item.id, transcript_id=consult.id, judge_kind="human", judge_name="Jo", round=1,
                     probabilities=[0.3, 0.7], seconds=30.0, is_final=True),
        ])
        ids = {"live": live.id, "room": room.id, "consult": consult.id, "v1": v1.id}
    return {**people, **ids}


@pytest.mark.parametrize("page", ["results", "transcripts"])
def test_participants_and_visitors_are_refused(people, page):
    for user_id in (people["participant"], None):
        at = run_page(page, user_id)
        assert at.error and "not available to you" in at.error[0].value
        assert not at.dataframe and not at.button and not at.selectbox


def _not_blind(study_id: int) -> None:
    """Experts see a study's results by version only where its expert review is not blind."""
    from oversight.study.studies import update_study

    update_study(study_id=study_id, user_id=None, blind_review=False)


@pytest.mark.parametrize("role", ["admin", "expert"])
def test_dashboard_draws_every_section(judged, role):
    _not_blind(judged["study"])
    at = run_page("results", judged[role], study=str(judged["study"]))
    assert not at.exception
    charts = at.get("plotly_chart")
    assert len(charts) == 7  # accuracy, strategies, calibration, rounds, debaters, consultancy, time
    assert [t.label for t in at.tabs] == ["Accuracy", "Strategy versions", "Calibration", "Rounds", "Debaters",
                                          "Consultancy", "Time per judgment", "Sandwich"]
    settings = list(at.dataframe[0].value["setting"])
    assert settings == ["debate", "human consultancy", "human debate", "human debate"]
    # A debate study without conditions: only the sandwich says it has nothing to show.
    assert [i.value for i in at.info] == ["This study declares no conditions, so there is no sandwich to show."]


def charts(at: AppTest) -> list[list[dict]]:
    """The traces of every chart on the page, in page order, as Plotly sent them."""
    return [json.loads(c.proto.spec)["data"] for c in at.get("plotly_chart")]


def by_name(traces: list[dict]) -> dict[str, dict]:
    return {t["name"]: t for t in traces}


def points(trace: dict, axis: str = "x") -> dict:
    """A bar or scatter trace as {category: value}; `axis` holds the values."""
    other = "y" if axis == "x" else "x"
    return dict(zip(trace[other], trace[axis]))


def final_judgments(study_id: int) -> list[dict]:
    """Every judgment of the study with its setting, gold, p(gold), chosen answer, its transcript's roles and
    rounds, read back from the database, to compute the expected figures by hand."""
    with session_scope(write=False) as s:
        rows = s.exec(select(Judgment, Transcript, ItemGold.gold_index)
                      .join(Transcript, Transcript.id == Judgment.transcript_id)
                      .join(ItemGold, ItemGold.item_id == Judgment.item_id)
                      .where(Transcript.study_id == study_id)).all()
        turns = s.exec(select(Turn)).all()
        out = []
        for j, t, gold in rows:
            probs = j.probabilities
            top = [i for i, p in enumerate(probs) if p == max(probs)]
            out.append({"label": f"{t.setting} · {j.judge_kind}", "kind": j.judge_kind, "final": j.is_final,
                        "p_gold": probs[gold], "p_chosen": max(probs), "ok": top == [gold], "probs": probs,
                        "gold": gold, "roles": (t.meta or {}).get("roles", {}), "seconds": j.seconds,
                        "strategy": t.strategy_id,
                        "rounds": max((u.round for u in turns if u.transcript_id == t.id), default=0)})
    return out


def grouped(rows: list[dict], key: str) -> dict:
    groups: dict = defaultdict(list)
    for r in rows:
        groups[r[key]].append(r)
    return groups


def accuracy(rows: list[dict]) -> float:
    return sum(r["p_gold"] > 0.5 for r in rows) / len(rows)


def test_dashboard_plots_the_figures_of_the_judgments(judged):
    # Two more final judgments of the live debate, so its accuracy is neither 0 nor 1: one wrong (siding with the
    # dishonest debater B) and one right; with timings.
    with session_scope() as s:
        live = s.get(Transcript, judged["live"])
        s.add_all([Judgment(item_id=live.item_id, transcript_id=live.id, judge_kind="human", round=1,
                            probabilities=probs, seconds=secs, is_final=True)
                   for probs, secs in (([0.6, 0.4], 12.5), ([0.1, 0.9], 60.0))])
    data = [r for r in final_judgments(judged["study"]) if r["final"]]
    at = run_page("results", judged["admin"], study=str(judged["study"]))
    assert not at.exception
    acc, strategies, calib, rounds, debaters, consult, times = charts(at)

    # Accuracy: bars are the share with p(gold) > 0.5, diamonds the mean p(gold), per setting · judge kind; the
    # interval drawn is the table's.
    want = {label: rs for label, rs in grouped(data, "label").items()}
    assert set(want) == {"debate · human", "human debate · human", "human debate · offline-human",
                         "human consultancy · human"}
    bars, diamonds = by_name(acc)["accuracy"], by_name(acc)["mean p(correct)"]
    assert points(bars) == pytest.approx({label: accuracy(rs) for label, rs in want.items()})
    assert points(bars)["debate · human"] == pytest.approx(2 / 3)
    assert points(diamonds) == pytest.approx({label: sum(r["p_gold"] for r in rs) / len(rs)
                                              for label, rs in want.items()})
    table = at.dataframe[0].value
    low = [x - m for x, m in zip(bars["x"], bars["error_x"]["arrayminus"])]
    high = [x + p for x, p in zip(bars["x"], bars["error_x"]["array"])]
    assert low == pytest.approx(list(table["ci_low"])) and high == pytest.approx(list(table["ci_high"]))
    assert all(lo <= x <= hi for lo, x, hi in zip(low, bars["x"], high))

    # Strategy versions: the live debate's judgments under "debate v1".
    live_rows = [r for r in data if r["strategy"] == judged["v1"]]
    assert points(by_name(strategies)["human"], "y") == pytest.approx({"debate v1": accuracy(live_rows)})

    # Calibration: per judge kind, per tenth of p(chosen): mean p(chosen) against the share chosen right.
    for kind, rs in grouped(data, "kind").items():
        (trace,) = [t for t in calib if t["name"].startswith(f"{kind} (n={len(rs)}")]
        bins = grouped([{**r, "bin": min(int(r["p_chosen"] * 10), 9)} for r in rs], "bin")
        expected = sorted((sum(r["p_chosen"] for r in b) / len(b), sum(r["ok"] for r in b) / len(b))
                          for b in bins.values())
        assert trace["x"] == pytest.approx([x for x, _ in expected])
        assert trace["y"] == pytest.approx([y for _, y in expected])
    assert by_name(calib)["perfect calibration"]["x"] == [0, 1]

    # Rounds: accuracy by the rounds each transcript ran (the consultancy room has no turns stored: 0).
    for label, rs in want.items():
        assert points(by_name(rounds)[label], "y") == pytest.approx(
            {n: accuracy(part) for n, part in grouped(rs, "rounds").items()})

    # Debaters: how often the final probability on each debater's answer was above 0.5.
    debates = {label: rs for label, rs in want.items() if "debater_a" in rs[0]["roles"]}
    for name, side in (("debater A", "debater_a"), ("debater B", "debater_b")):
        assert points(by_name(debaters)[name], "y") == pytest.approx(
            {label: sum(r["probs"][r["roles"][side]["argues"]] > 0.5 for r in rs) / len(rs)
             for label, rs in debates.items()})
    assert points(by_name(debaters)["honest debater"], "y") == pytest.approx(
        {label: accuracy(rs) for label, rs in debates.items()})

    # Consultancy: the consultant of room-2 was dishonest.
    assert points(by_name(consult)["dishonest consultant"], "y") == pytest.approx(
        {"human consultancy · human": accuracy(want["human consultancy · human"])})

    # Time: one box per setting of human judges, of every timed judgment.
    timed = grouped([r for r in final_judgments(judged["study"]) if r["seconds"] is not None and r["kind"] == "human"],
                    "label")
    assert {t["name"]: sorted(t["y"]) for t in times} == {
        label: sorted(r["seconds"] for r in rs) for label, rs in timed.items()}
    assert sorted(by_name(times)["debate · human"]["y"]) == [12.5, 42.0, 60.0]


def test_dashboard_filters_by_tag_and_judge_kind(judged):
    _not_blind(judged["study"])
    at = run_page("results", judged["expert"], study=str(judged["study"]))
    at.selectbox(key="results_tag").select("paper").run()
    assert not at.exception
    assert list(at.dataframe[0].value["setting"]) == ["human debate", "human debate"]
    # Room-1 (tagged paper): Jo put 0.6 on the gold answer, the offline judge 0.3.
    assert points(by_name(charts(at)[0])["mean p(correct)"]) == pytest.approx(
        {"human debate · human": 0.6, "human debate · offline-human": 0.3})
    # Imported rooms have no strategy version, no timings and no consultancy under this tag.
    infos = " ".join(i.value for i in at.info)
    assert "No live final judgments under a strategy version" in infos
    assert "No timed judgments" in infos and "No judged consultancies" in infos
    at.selectbox(key="results_tag").select("All")
    at.multiselect(key="results_kinds").select("offline-human").run()
    assert list(at.dataframe[0].value["judge_kind"]) == ["offline-human"]


def test_dashboard_empty_states(people):
    at = run_page("results", people["admin"], study=str(people["study"]))
    assert not at.exception and "No final judgments yet" in at.info[0].value
    assert not at.get("plotly_chart")


def test_viewer_empty_states(people):
    at = run_page("transcripts", people["expert"], study=str(people["study"]))
    assert not at.exception and "No transcripts in this study yet" in at.info[0].value


def test_expert_lists_and_opens_a_live_transcript(judged):
    at = run_page("transcripts", judged["expert"], study=str(judged["study"]))
    assert not at.exception
    table = at.dataframe[0].value
    assert list(table["id"]) == [judged["live"], judged["room"], judged["consult"]]
    assert list(table["correct"]) == ["yes", "yes", "yes"]
    assert list(table["final p(correct)"]) == [0.8, 0.6, 0.7]
    at.selectbox(key="tx_tag").select("paper").run()
    assert list(at.dataframe[0].value["id"]) == [judged["room"]]
    at.selectbox(key="tx_tag").select("All").run()
    opener = next(s for s in at.selectbox if s.label == "Open a transcript")
    opener.select(judged["live"]).run()
    assert not at.exception
    md = markdown(at)
    # Question, options, the gold and who argued what; speeches with their verified quote marked.
    assert "Where was the key?" in md and ":green-badge[gold]" in md and r"argued by Debater A \(honest\)" in md
    # Options in the order the judge saw them: debater A argues the first one shown.
    assert r"**A.** Under the flowerpot" in md and "argues A (honest)" in md and "A ✓ 0\\.80 · B 0\\.20" in md
    assert ":green-background[“the blue flowerpot by the door”]" in md
    assert "Final rationale" in md
    # The source, with the quoted stretch highlighted.
    assert ":orange-background[the blue flowerpot by the door]" in md
    assert at.query_params["transcript"] == str(judged["live"])


def test_html_in_questions_speeches_and_sources_stays_text(judged):
    at = run_page("transcripts", judged["admin"], study=str(judged["study"]), transcript=str(judged["live"]))
    assert not at.exception
    md = markdown(at)
    assert not re.search(r"(?<!\\)<", md)  # every < is escaped
    assert r"\<script\>alert\(1\)\</script\>" in md  # escaped, shown as the literal characters
    assert r"\<b\>under\</b\>" in md  # the source's own markup is text too
    assert r"\*\*bold\*\*" in md  # and Markdown in a speech is not interpreted
    for element in at.markdown:
        assert not getattr(element.proto, "allow_html", False) and not getattr(element.proto, "unsafe_allow_html", False)


def test_imported_room_opens_in_the_same_viewer(judged):
    at = run_page("transcripts", judged["expert"], study=str(judged["study"]), transcript=str(judged["room"]))
    assert not at.exception
    md = markdown(at)
    # NYU quote records hold source offsets: the speech still marks the right words.
    assert ":green-background[“the blue flowerpot”]" in md and r"Look\:" in md
    assert ":blue-background[the blue flowerpot]" in md  # quoted by debater B
    assert r"argued by Debater B \(Bo, honest\)" in md and r"argued by Debater A \(Ann, dishonest\)" in md
    assert "offline says A" in md and "Step 1" in md
    assert at.tabs[1].label == "Source (1 quotes)"


def after_jobs(at, timeout_s: float = 60.0):
    """Wait until no job is queued or running, then let the page poll once more (its fragment reruns it)."""
    import time

    from sqlmodel import select

    from storage.models import Job

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with session_scope(write=False) as s:
            jobs = s.exec(select(Job)).all()
        if jobs and all(j.state in ("done", "failed") for j in jobs):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the job did not finish")
    for _ in range(3):
        at.run()
        if at.success or at.error:
            break
    return at


def test_ask_the_ai_judge_shows_the_result_and_stores_it(judged, worker):
    models.configure(ModelsConfig(
        models={"s": ScriptedConfig(name="s", responses=["x"], choice_probs=[0.5, 0.5])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback")}))
    try:
        at = run_page("transcripts", judged["expert"], study=str(judged["study"]), transcript=str(judged["room"]))
        next(b for b in at.button if b.label == "Ask the AI judge").click().run()
        at = after_jobs(at)  # the AI judge runs as a job; the page picks up its result
        assert not at.exception and not at.error
        assert r"AI judge s\: judged 1 transcript" in at.success[0].value
        md = markdown(at)
        assert "AI judges (after the fact)" in md and "p(correct) 0.50" in md
    finally:
        models.configure(None)
    with session_scope(write=False) as s:
        from sqlmodel import select

        stored = s.exec(select(Judgment).where(Judgment.judge_kind == "ai-offline")).all()
        assert [j.transcript_id for j in stored] == [judged["room"]]


def test_a_model_error_shows_as_an_error(judged, worker):
    models.configure(ModelsConfig(
        models={"s": ScriptedConfig(name="s", responses=["x"], choice_probs=[1.0, 1.0, 1.0])},
        roles={r: "s" for r in ("debater", "consultant", "assistant", "judge", "feedback")}))
    try:
        at = run_page("transcripts", judged["expert"], study=str(judged["study"]), transcript=str(judged["live"]))
        next(b for b in at.button if b.label == "Ask the AI judge").click().run()
        at = after_jobs(at)
        assert not at.exception
        assert at.error and "choice\\_probs" in at.error[0].value  # shown as text: Markdown escaped
    finally:
        models.configure(None)


def test_viewer_paginates(people):
    with session_scope() as s:
        item = Item(study_id=people["study"], external_id="q", question="Q?", options=["a", "b"])
        s.add(item)
        s.flush()
        s.add_all([Transcript(study_id=people["study"], item_id=item.id, source_setting="human debate", origin="imported",
                              external_id=f"room-{k:03d}", status="complete") for k in range(120)])
    at = run_page("transcripts", people["expert"], study=str(people["study"]))
    assert len(at.dataframe[0].value) == 50
    at.number_input(key="tx_page").set_value(3).run()
    assert not at.exception
    assert list(at.dataframe[0].value["room / id"])[:2] == ["room-100", "room-101"]
    assert any("101–120 of 120" in c.value for c in at.caption)
    # A filter change goes back to the first page.
    at.text_input(key="tx_search").set_value("room-11").run()
    assert list(at.dataframe[0].value["room / id"]) == [f"room-11{k}" for k in range(10)]


def test_an_expert_reviews_a_transcript(judged):
    at = run_page("transcripts", judged["expert"], study=str(judged["study"]), transcript=str(judged["live"]))
    assert not at.exception
    next(b for b in at.button if b.label == "Save review").click()
    at.run()
    assert any("choose one of correct" in e.value for e in at.error)  # nothing chosen: a clear message
    at.radio(key=f"tx-review-{judged['live']}-outcome").set_value("correct")
    at.radio(key=f"tx-review-{judged['live']}-help_quality").set_value(4)
    at.checkbox(key=f"tx-review-{judged['live']}-misled").check()
    at.text_area[0].input("Sound judging: A's quote settled it.")
    next(b for b in at.button if b.label == "Save review").click()
    at.run()
    assert not at.exception
    from oversight.sandwiching.reviews import reviews_for

    saved = reviews_for(transcript_id=judged["live"])
    assert [(r.labels["outcome"], r.labels["help_quality"], r.labels["misled"], r.notes) for r in saved] == [
        ("correct", 4, True, "Sound judging: A's quote settled it.")]
    assert "Sound judging" in " ".join(t.value for t in at.text)


def _sandwich_study(name: str = "Sandwich page", *, dry_run_of: int | None = None, experts: bool = False) -> int:
    """Three participants answer 6 items alone (3 right) and 6 with the model (5 right; one more timed out); with
    `experts`, one expert answers them all (4 right: too close to alone for a bounded gap closed)."""
    from tests.test_sandwich import Builder

    with session_scope() as s:
        b = Builder(s, 7, name=name)
        b.study.dry_run_of = dry_run_of
        alone = b.condition("Alone", "alone")
        v1 = b.strategy(f"Assist {EVIL}")
        assisted = b.condition(f"With model {EVIL}", "assisted", v1)
        people = [b.person() for _ in range(3)]
        for i, it in enumerate(b.items[:6]):
            b.answer(alone, it, i < 3, who=people[i % 3])
            b.answer(assisted, it, i < 5, who=people[(i + 1) % 3])
        b.answer(assisted, b.items[6], None, who=people[0])  # timed out
        if experts:
            expert = b.condition("Experts", "expert")
            e = b.person("expert")
            for i, it in enumerate(b.items[:6]):
                b.answer(expert, it, i < 4, who=e)
        return b.study.id


def test_sandwich_tab_draws_the_chart_table_gap_and_paired_comparison(people):
    from oversight.sandwiching.analysis import sandwich

    study_id = _sandwich_study()
    at = run_page("results", people["admin"], study=str(study_id))
    assert not at.exception
    tab = at.tabs[7]
    assert tab.label == "Sandwich"
    captions = "\n".join(c.value for c in tab.caption)
    assert "Gold stands in for experts" in captions and "Dry run" not in captions
    sandwich_chart, paired_chart = [json.loads(c.proto.spec) for c in tab.get("plotly_chart")]
    bars = sandwich_chart["data"][0]
    assert len(bars["x"]) == 3 and all("<script>" not in x for x in bars["x"])  # user names escaped
    assert bars["y"] == pytest.approx([0.5, 5 / 6, 1.0])
    assert "1 timed out" in bars["text"][1]
    assert "gap closed: 66.7%" in json.dumps(sandwich_chart["layout"]["annotations"])
    assert paired_chart["data"] and "Paired per item" in paired_chart["layout"]["title"]["text"]
    table = tab.dataframe[0].value
    assert list(table["kind"]) == ["alone", "assisted", "assisted", "expert"]
    assert list(table["gold_stands_in"]) == [False, False, False, True]
    assert list(table["n_people"])[:3] == [3, 3, 3] and list(table["n_items"])[:3] == [6, 6, 6]  # answered items
    assert list(table["n_timed_out"])[:3] == [0, 1, 1]
    assert list(table["itt_estimate"])[1] == pytest.approx(5 / 7)
    assert tab.metric[0].value == "66.7%"
    expected = sandwich(study_id=study_id).gap_closed
    assert expected.estimate == pytest.approx((5 / 6 - 0.5) / (1 - 0.5))
    assert [d.label for d in tab.get("download_button")] == ["Download table (CSV)", "Download figure (HTML)"]
    # The intervals' method is named once, at the top of the page, not per tab.
    method = "95% two-way cluster bootstrap over items and people"
    assert sum(method in c.value for c in at.caption) == 1


def test_an_unbounded_gap_closed_is_said_in_words(people):
    study_id = _sandwich_study("Unbounded", experts=True)
    at = run_page("results", people["admin"], study=str(study_id))
    assert not at.exception
    tab = at.tabs[7]
    captions = "\n".join(c.value for c in tab.caption)
    assert "unbounded (undefined in" in captions and "% of resamples)" in captions
    assert "unbounded (undefined in" in tab.metric[0].proto.help
    gaps = tab.dataframe[1].value
    assert all(v.startswith("unbounded") for v in gaps["95% interval"])
    assert "unbounded" in json.dumps(json.loads(tab.get("plotly_chart")[0].proto.spec)["layout"]["annotations"])


def test_participants_and_experts_are_separate_rows_with_counts(people):
    study_id = _sandwich_study("Groups", experts=True)
    at = run_page("results", people["admin"], study=str(study_id))
    assert not at.exception
    table = at.dataframe[0].value
    # Alone and the expert condition are direct QA, the assisted one assisted QA: per setting, one row per group.
    assert list(table["setting"]) == ["assisted-qa", "direct-qa", "direct-qa"]
    assert list(table["judge"]) == ["non-experts", "experts", "non-experts"]  # never one pooled "human" row
    assert list(table["n"]) == [6, 6, 6] and list(table["n_items"]) == [6, 6, 6]
    assert list(table["n_people"]) == [3, 1, 3] and list(table["n_timed_out"]) == [1, 0, 0]
    assert list(table["accuracy_itt"]) == pytest.approx([5 / 7, 4 / 6, 3 / 6])
    labels = by_name(charts(at)[0])["accuracy"]["y"]
    assert labels == ["assisted-qa · non-experts", "direct-qa · experts", "direct-qa · non-experts"]
    assert by_name(charts(at)[0])["counting timed-out as incorrect"]["y"] == ["assisted-qa · non-experts"]
    assert [t["name"].split(" (")[0] for t in charts(at)[2][1:]] == ["experts", "non-experts"]  # calibration


def test_a_dry_run_says_its_figures_are_from_simulated_people(people):
    study_id = _sandwich_study("Dry run", dry_run_of=people["study"])
    at = run_page("results", people["admin"], study=str(study_id))
    assert not at.exception
    assert "every figure on this page is from simulated people" in at.warning[0].value
    assert "dry run" in json.dumps(json.loads(at.tabs[7].get("plotly_chart")[0].proto.spec)["layout"]["title"])


def test_sandwich_tab_empty_state(people):
    from tests.test_sandwich import Builder

    with session_scope() as s:
        b = Builder(s, 2, name="Not yet")
        b.condition("Alone", "alone")
        s.add(Judgment(item_id=b.items[0].id, judge_kind="human", probabilities=[0.2, 0.8], is_final=True))
        study_id = b.study.id
    at = run_page("results", people["admin"], study=str(study_id))
    assert not at.exception
    assert "No final answers in any condition yet" in at.tabs[7].info[0].value


def test_admins_download_the_study_export_from_the_results_page(judged):
    import io
    import json
    import zipfile

    _not_blind(judged["study"])
    at = run_page("results", judged["admin"], study=str(judged["study"]))
    next(b for b in at.button if b.label == "Prepare the export").click()
    at.run()
    assert not at.exception
    [download] = [d for d in at.get("download_button") if d.proto.label.startswith("Download study-")]
    expert = run_page("results", judged["expert"], study=str(judged["study"]))
    assert "Prepare the export" not in [b.label for b in expert.button]  # the export holds the gold: admins only
    from oversight.results.export import export_zip

    name, data = export_zip(study_id=judged["study"])
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        assert {"items.jsonl", "judgments.csv", "assignments.jsonl", "participants.jsonl"} <= set(zf.namelist())
    assert manifest["study_id"] == judged["study"] and manifest["counts"]["judgments"] > 0
    assert name.startswith(f"study-{judged['study']}-") and download.proto.label.endswith(".zip")


def test_a_study_whose_only_tasks_timed_out_shows_them(people):
    """No final answer yet, one timed-out task: the page counts it rather than saying nothing happened."""
    from tests.test_sandwich import Builder

    with session_scope() as s:
        b = Builder(s, 2, name="Only timeouts")
        b.answer(b.condition("Alone", "alone"), b.items[0], None)
        study_id = b.study.id
    at = run_page("results", people["admin"], study=str(study_id))
    assert not at.exception
    assert [m.value for m in at.metric][-1] == "1"  # timed-out tasks
    table = at.dataframe[0].value
    assert list(table["n"]) == [0] and list(table["n_timed_out"]) == [1] and list(table["accuracy_itt"]) == [0.0]
    assert "1 timed out" in by_name(charts(at)[0])["accuracy"]["text"][0]
