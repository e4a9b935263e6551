"""The transcript viewer's queries: filters, pagination, one transcript in full."""

from __future__ import annotations

import pytest

from oversight.db import session_scope
from oversight.protocols.quotes import check_quotes
from oversight.protocols.transcripts import (
    list_transcripts, source_segments, transcript_detail, transcript_filters,
)
from storage.models import Item, ItemGold, Judgment, Strategy, Transcript, Turn

SOURCE = "The key was under the blue flowerpot by the door.\n\nNobody had moved it for years."


@pytest.fixture
def viewer(study):
    """A live debate (quotes in the live shape) and an imported room (quotes as NYU stores them), plus filler."""
    with session_scope() as s:
        item = Item(study_id=study.id, external_id="key", question="Where was the key?",
                    options=["In the mailbox", "Under the flowerpot"], source_text=SOURCE, tags=["demo"])
        s.add(item)
        s.flush()
        s.add(ItemGold(item_id=item.id, gold_index=1, explanation="It says so."))
        v1 = Strategy(study_id=study.id, name="debate", version=1, protocol="debate")
        s.add(v1)
        s.flush()
        live = Transcript(study_id=study.id, item_id=item.id, strategy_id=v1.id, protocol="debate", status="complete",
                          tags=["ai-batch"], meta={"order": [1, 0], "roles": {
                              "debater_a": {"argues": 1, "honest": True}, "debater_b": {"argues": 0, "honest": False}}})
        room = Transcript(study_id=study.id, item_id=item.id, source_setting="human debate", origin="imported",
                          external_id="key-room-0", status="complete", tags=["nyu", "paper"],
                          meta={"room": "key-room-0", "roles": {
                              "debater_a": {"name": "Ann", "argues": 0, "honest": False},
                              "debater_b": {"name": "Bo", "argues": 1, "honest": True},
                              "judge": {"name": "Jo"}}})
        s.add_all([live, room])
        s.flush()
        a_text = "It was <quote>under the blue flowerpot</quote>, see <quote>a quote that is not there</quote>."
        s.add_all([
            Turn(transcript_id=live.id, position=0, slot="1:debater_a", round=1, role="debater_a", speaker="Debater A", text=a_text,
                 quotes=[q.__dict__ for q in check_quotes(a_text, SOURCE)], model="scripted"),
            Turn(transcript_id=live.id, position=1, slot="1:debater_b", round=1, role="debater_b", speaker="Debater B",
                 text="<b>Mailbox</b>, trust me.", quotes=[]),
            Turn(transcript_id=live.id, position=2, slot="1:judge", round=1, role="judge", speaker="AI judge", text=""),
        ])
        s.add_all([
            Judgment(item_id=item.id, transcript_id=live.id, judge_kind="ai", judge_name="scripted", round=1,
                     probabilities=[0.3, 0.7], is_final=True),
            Judgment(item_id=item.id, transcript_id=live.id, judge_kind="ai-offline", judge_name="extractive",
                     round=1, probabilities=[0.6, 0.4], is_final=True),
        ])
        # As the NYU importer stores them: the live quote shape plus the room's token span.
        b_text = "Read this: <quote>Nobody had moved it</quote>. And <quote>the blue flowerpot</quote>"
        b_quotes = [{**q.__dict__, "span": span} for q, span in zip(check_quotes(b_text, SOURCE), ([9, 13], [4, 7]))]
        s.add_all([
            Turn(transcript_id=room.id, position=0, round=0, role="judge", speaker="Jo", text=""),
            Turn(transcript_id=room.id, position=1, round=1, role="debater_b", speaker="Bo", text=b_text,
                 quotes=b_quotes),
            Turn(transcript_id=room.id, position=2, round=1, role="debater_a", speaker="Ann", text="Mailbox.", quotes=[]),
            Turn(transcript_id=room.id, position=3, round=1, role="judge", speaker="Jo", text="B convinced me."),
        ])
        s.add_all([
            Judgment(item_id=item.id, transcript_id=room.id, judge_kind="human", judge_name="Jo", round=0,
                     probabilities=[0.5, 0.5]),
            Judgment(item_id=item.id, transcript_id=room.id, judge_kind="human", judge_name="Jo", round=1,
                     probabilities=[0.2, 0.8], rationale="B convinced me.", is_final=True),
            Judgment(item_id=item.id, transcript_id=room.id, judge_kind="offline-human", judge_name="Off", round=0,
                     probabilities=[0.6, 0.4]),
            Judgment(item_id=item.id, transcript_id=room.id, judge_kind="offline-human", judge_name="Off", round=1,
                     probabilities=[0.1, 0.9], is_final=True, rationale="Changed my mind."),
        ])
        for k in range(7):
            s.add(Transcript(study_id=study.id, item_id=item.id, source_setting="human consultancy", origin="imported",
                             external_id=f"filler-{k}", status="incomplete" if k % 2 else "complete", tags=["nyu"]))
        return {"study": study.id, "live": live.id, "room": room.id, "item": item.id, "v1": v1.id}


def test_filters_list_what_the_study_has(viewer):
    f = transcript_filters(study_id=viewer["study"])
    assert f.settings == ["debate", "human consultancy", "human debate"]
    assert f.origins == ["imported", "live"] and f.statuses == ["complete", "incomplete"]
    assert f.tags == ["ai-batch", "nyu", "paper"] and f.total == 9
    assert f.strategies == [(viewer["v1"], "debate v1 (debate)")]
    assert transcript_filters(study_id=999).total == 0


def test_list_filters_and_paginates(viewer):
    sid = viewer["study"]
    everything = list_transcripts(study_id=sid)
    assert everything.total == 9 and [r.id for r in everything.rows] == sorted(r.id for r in everything.rows)
    page = list_transcripts(study_id=sid, offset=4, limit=4)
    assert (page.total, len(page.rows), page.pages) == (9, 4, 3)
    assert list_transcripts(study_id=sid, offset=8, limit=4).rows[0].id == everything.rows[8].id
    assert list_transcripts(study_id=sid, offset=40).rows == []
    assert [r.id for r in list_transcripts(study_id=sid, tag="paper").rows] == [viewer["room"]]
    assert list_transcripts(study_id=sid, tag="pap").total == 0  # tags match whole
    assert list_transcripts(study_id=sid, origin="live").rows[0].id == viewer["live"]
    assert list_transcripts(study_id=sid, strategy_id=viewer["v1"]).total == 1
    assert list_transcripts(study_id=sid, setting="human consultancy", status="incomplete").total == 3
    assert list_transcripts(study_id=sid, search="FILLER-3").total == 1
    assert list_transcripts(study_id=sid, search="where was").total == 9
    assert list_transcripts(study_id=sid, search="100%_").total == 0  # LIKE wildcards are literal


def test_list_rows_show_the_judges_final_answer(viewer):
    rows = {r.id: r for r in list_transcripts(study_id=viewer["study"]).rows}
    room = rows[viewer["room"]]
    assert (room.p_correct, room.correct, room.rounds, room.judge) == (0.8, True, 1, "human")
    assert room.external_id == "key-room-0" and room.tags == ["nyu", "paper"]
    live = rows[viewer["live"]]
    # The live transcript's own judge is the batch run's AI judge, not the AI judge asked afterwards.
    assert (live.p_correct, live.judge, live.strategy) == (0.7, "ai", "debate v1")
    filler = next(r for r in rows.values() if r.external_id == "filler-0")
    assert (filler.p_correct, filler.correct, filler.rounds) == (None, None, 0)


def test_detail_of_an_imported_room(viewer):
    d = transcript_detail(transcript_id=viewer["room"])
    assert d.question == "Where was the key?" and d.gold_index == 1 and d.explanation == "It says so."
    assert [(o.letter, o.gold, o.argued_by) for o in d.options] == [("A", False, ["Debater A"]),
                                                                   ("B", True, ["Debater B"])]
    assert [(sd.label, sd.name, sd.honest) for sd in d.sides] == [("Debater A", "Ann", False),
                                                                 ("Debater B", "Bo", True)]
    assert [r.round for r in d.rounds] == [0, 1]
    one = d.rounds[1]
    assert [t.role for t in one.speeches] == ["debater_b", "debater_a"]
    assert one.notes == []  # the judge's note is the report's rationale: shown once
    assert [(j.round, j.is_final) for j in d.rounds[0].reports + one.reports] == [(0, False), (1, True)]
    assert d.final.rationale == "B convinced me." and d.final.p_correct == 0.8
    assert list(d.offline_human) == ["Off"] and [j.round for j in d.offline_human["Off"]] == [0, 1]
    assert d.ai_offline == [] and d.details == {"room": "key-room-0"}
    # NYU quotes: positions now point into the speech, source spans into the source.
    speech = one.speeches[0]
    for q in speech.quotes:
        assert speech.text[q["start"]:q["end"]] == f"<quote>{q['text']}</quote>"
        assert SOURCE[q["source_start"]:q["source_end"]] == q["text"] and q["verified"]
    assert d.n_quotes == 2 and all(role == "debater_b" for _, _, role in d.quote_spans)


def test_detail_of_a_live_transcript(viewer):
    d = transcript_detail(transcript_id=viewer["live"], study_id=viewer["study"])
    assert d.strategy == "debate v1" and d.final.judge_kind == "ai"
    assert [j.judge_name for j in d.ai_offline] == ["extractive"] and d.ai_offline[0].p_correct == 0.4
    # Options in the order the judge saw them (order [1, 0]): debater A argued the first one shown.
    assert [(o.letter, o.index, o.gold) for o in d.options] == [("A", 1, True), ("B", 0, False)]
    assert [(sd.label, sd.argues, sd.letter) for sd in d.sides] == [("Debater A", 1, "A"), ("Debater B", 0, "B")]
    assert d.letter(0) == "B" and d.letter(1) == "A"
    a = d.rounds[0].speeches[0]
    assert [q["verified"] for q in a.quotes] == [True, False]
    assert SOURCE[a.quotes[0]["source_start"]:a.quotes[0]["source_end"]] == "under the blue flowerpot"
    assert d.quote_spans == [(a.quotes[0]["source_start"], a.quotes[0]["source_end"], "debater_a")]
    assert transcript_detail(transcript_id=viewer["live"], study_id=viewer["study"] + 1) is None
    assert transcript_detail(transcript_id=12345) is None


def test_source_segments_cut_where_quotes_begin_and_end():
    text = "0123456789"
    segs = source_segments(text, [(2, 5, "debater_a"), (4, 7, "debater_b"), (9, 99, "debater_a"), (3, 3, "x")])
    assert [(s.text, sorted(s.roles)) for s in segs] == [
        ("01", []), ("23", ["debater_a"]), ("4", ["debater_a", "debater_b"]), ("56", ["debater_b"]),
        ("78", []), ("9", ["debater_a"])]
    assert "".join(s.text for s in segs) == text
    assert [(s.text, s.roles) for s in source_segments("abc", [])] == [("abc", frozenset())]
    assert source_segments("", []) == []


def test_real_nyu_rooms_open_in_the_viewer(db, datasets_dir):
    """Every quote of a few real rooms points at its own words in the story; the listing pages through 525 rooms."""
    from oversight.importers import import_path
    from oversight.study.studies import create_study

    path = datasets_dir / "nyu_human_debate"
    if not path.is_dir():
        pytest.skip(f"nyu_human_debate not found at {path}")
    study_id = create_study(name="NYU", user_id=None).id
    import_path(study_id=study_id, fmt="nyu-debate", path=path)
    assert list_transcripts(study_id=study_id).total == 525
    page = list_transcripts(study_id=study_id, tag="paper", setting="human debate", limit=50)
    assert page.total == 131 and page.pages == 3 and len(page.rows) == 50
    assert sum(r.correct for r in list_transcripts(study_id=study_id, tag="paper", setting="human debate",
                                                   limit=500).rows) == 113
    checked = 0
    for row in page.rows[:10]:
        d = transcript_detail(transcript_id=row.id, study_id=study_id)
        assert d.final is not None and d.final.p_correct == pytest.approx(row.p_correct)
        assert sum(sd.honest for sd in d.sides) == 1
        for rnd in d.rounds:
            for turn in rnd.speeches:
                for q in turn.quotes:
                    assert turn.text[q["start"]:q["end"]] == f"<quote>{q['text']}</quote>"
                    assert d.source_text[q["source_start"]:q["source_end"]] == q["text"]
                    checked += 1
    assert checked > 20
