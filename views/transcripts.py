"""Admins and experts: browse a study's transcripts (live and imported) and open one in full: question,
options with the gold answer, who argued what, the source with every verified quote highlighted, the turns
round by round with the judge's reports, and the AI and offline judgments. The queries are in
`oversight.protocols.transcripts`; every piece of user or model text is shown escaped, never as HTML."""

from __future__ import annotations

import streamlit as st

from oversight.jobs import enqueue, get_job
from web.gold_gate import gold_gate_section
from oversight.sandwiching.reviews import review_transcript, reviews_for
from oversight.sandwiching.rubrics import current_rubric
from oversight.study.studies import get_study
from oversight.protocols.transcripts import PAGE_SIZE, blinded, list_transcripts, source_segments, transcript_detail, transcript_filters
from web.rubric_form import rubric_inputs, show_review
from oversight.text import display_text
from web.ui import attempt, escape_markdown, pick_study, require_role, speech_markdown, staff_fragment

user = require_role("admin", "expert")
st.title("Transcripts")
study_id = pick_study()
gold_gate_section(study_id, user.id)  # an expert answering first sees no gold (web/gold_gate.py)

ALL = "All"
# Source highlights by who quoted the stretch (a stretch quoted by several speakers is violet).
COLOURS = {"debater_a": "orange", "debater_b": "blue", "consultant": "orange"}


def source_markdown(source: str, spans) -> str:
    """The source as escaped Markdown with the quoted stretches highlighted, one highlight per line."""
    out = []
    for seg in source_segments(source, spans):
        if not seg.roles:
            out.append(escape_markdown(display_text(seg.text)))
            continue
        colour = COLOURS.get(next(iter(seg.roles)), "orange") if len(seg.roles) == 1 else "violet"
        lines = []
        for line in seg.text.split("\n"):
            core = line.strip()
            if not core:
                lines.append(line)
                continue
            lead, trail = line[: len(line) - len(line.lstrip())], line[len(line.rstrip()):]
            lines.append(f"{lead}:{colour}-background[{escape_markdown(display_text(core))}]{trail}")
        out.append("  \n".join(lines))
    return "".join(out)


def probs_text(probabilities: list[float], gold: int | None) -> str:
    """Probabilities (item order) listed by the letters the judge saw; ✓ marks the gold answer."""
    parts = []
    for opt in detail.options if detail is not None else []:
        if opt.index < len(probabilities):
            parts.append(f"{opt.letter}{' ✓' if opt.index == gold else ''} {probabilities[opt.index]:.2f}")
    return " · ".join(parts)


def verdict(correct: bool) -> str:
    return ":green[**right**]" if correct else ":red[**wrong**]"


def judgment_line(j, gold: int | None, title: str) -> str:
    bits = [f"**{escape_markdown(title)}**", escape_markdown(probs_text(j.probabilities, gold))]
    if j.p_correct is not None:
        bits.append(f"p(correct) {j.p_correct:.2f} {verdict(bool(j.correct))}")
    if j.is_final:
        bits.append("final")
    if j.seconds is not None:
        bits.append(f"{j.seconds:.0f} s")
    return " · ".join(bits)


def show_rationale(text: str) -> None:
    if text.strip():
        st.markdown(escape_markdown(text))


def select_filter(col, label: str, values: list, key: str, fmt=None):
    choice = col.selectbox(label, [ALL, *values], key=key,
                           format_func=(lambda v: v if v == ALL else fmt(v)) if fmt else str)
    return None if choice == ALL else choice


filters = transcript_filters(study_id=study_id)
if filters.total == 0:
    st.info("No transcripts in this study yet. They appear as participants judge debates and consultancies, "
            "when an AI batch run goes, or when you import judged transcripts (e.g. the NYU debates, on the Items page).")
    st.stop()

# Blind review: experts see neither the strategy version nor who answered (the Review queue hides them too).
blind = user.role == "expert" and get_study(study_id).blind_review
c1, c2, c3, c4, c5 = st.columns(5)
setting = select_filter(c1, "Setting", filters.settings, "tx_setting")
strategy_names = dict(filters.strategies)
strategy_id = None if blind else select_filter(c2, "Strategy version", list(strategy_names), "tx_strategy",
                                               strategy_names.get)
origin = select_filter(c3, "Origin", filters.origins, "tx_origin")
tag = select_filter(c4, "Tag", filters.tags, "tx_tag")
status = select_filter(c5, "Status", filters.statuses, "tx_status")
search = st.text_input("Search question or room name", key="tx_search").strip() or None

# Back to the first page whenever a filter changes.
signature = (setting, strategy_id, origin, tag, status, search)
if st.session_state.get("tx_signature") != signature:
    st.session_state["tx_signature"] = signature
    st.session_state["tx_page"] = 1
page_no = int(st.session_state.get("tx_page", 1) or 1)
listing = list_transcripts(study_id=study_id, setting=setting, strategy_id=strategy_id, origin=origin, tag=tag,
                           status=status, search=search, offset=(page_no - 1) * PAGE_SIZE, limit=PAGE_SIZE)
if listing.total and not listing.rows:  # the page ran past the end (fewer matches than before)
    st.session_state["tx_page"] = page_no = 1
    listing = list_transcripts(study_id=study_id, setting=setting, strategy_id=strategy_id, origin=origin, tag=tag,
                               status=status, search=search, offset=0, limit=PAGE_SIZE)

if not listing.rows:
    st.info("No transcripts match these filters.")
    st.stop()

table = [{"id": r.id, "room / id": r.external_id or "", "setting": r.setting, "status": r.status,
          "final p(correct)": None if r.p_correct is None else round(r.p_correct, 3),
          "correct": None if r.correct is None else ("yes" if r.correct else "no"), "rounds": r.rounds,
          "question": r.question, "judge": "" if blind else r.judge or "", "origin": r.origin,
          "strategy": "" if blind else r.strategy or "",
          "tags": ", ".join(r.tags)} for r in listing.rows]
blank = [k for k in ("room / id", "strategy", "judge", "tags") if not any(row[k] for row in table)]  # e.g. live-only pages
st.dataframe([{k: v for k, v in row.items() if k not in blank} for row in table], hide_index=True, width="stretch")
p1, p2 = st.columns([1, 3])
if listing.pages > 1:
    p1.number_input(f"Page (of {listing.pages})", min_value=1, max_value=listing.pages, step=1, key="tx_page")
first = listing.offset + 1
p2.caption(f"Transcripts {first}–{listing.offset + len(listing.rows)} of {listing.total} "
           f"({filters.total} in the study).")

ids = [r.id for r in listing.rows]
names = {r.id: f"#{r.id} · {r.external_id + ' · ' if r.external_id else ''}{r.setting} · {r.question[:90]}"
         for r in listing.rows}
wanted = st.query_params.get("transcript")
if wanted and wanted.isdigit() and int(wanted) not in ids:
    # A deep link (?transcript=ID) to a transcript on another page of the list.
    opened = transcript_detail(transcript_id=int(wanted), study_id=study_id)
    if opened is not None:
        ids.insert(0, opened.id)
        names[opened.id] = f"#{opened.id} · {opened.external_id + ' · ' if opened.external_id else ''}" \
                           f"{opened.setting} · {opened.question[:90]}"
choice = st.selectbox("Open a transcript", [None, *ids],
                      index=(ids.index(int(wanted)) + 1) if wanted and wanted.isdigit() and int(wanted) in ids else 0,
                      format_func=lambda v: "— choose one —" if v is None else names[v])
if choice is None:
    st.query_params.pop("transcript", None)
    st.stop()
st.query_params["transcript"] = str(choice)

detail = transcript_detail(transcript_id=choice, study_id=study_id)
if detail is not None and blind:
    detail = blinded(detail)
if detail is None:
    st.warning("This transcript no longer exists.")
    st.stop()
gold = detail.gold_index

st.divider()
st.subheader(f"Transcript #{detail.id}")
facts = [detail.setting, detail.origin, detail.status]
if detail.external_id:
    facts.append(f"room {detail.external_id}")
if detail.strategy and not blind:
    facts.append(f"strategy {detail.strategy}")
if detail.tags:
    facts.append("tags " + ", ".join(detail.tags))
if detail.created_at:
    facts.append(f"started {detail.created_at:%Y-%m-%d %H:%M}")
st.caption(escape_markdown(" · ".join(facts)))

st.markdown(f"**Question.** {escape_markdown(display_text(detail.question))}")
sides = {sd.role: sd for sd in detail.sides}
for opt in detail.options:
    who = []
    for label in opt.argued_by:
        side = next(sd for sd in detail.sides if sd.label == label)
        bits = [b for b in (side.name, None if side.honest is None else ("honest" if side.honest else "dishonest")) if b]
        who.append(f"{label} ({', '.join(bits)})" if bits else label)
    line = f"**{opt.letter}.** {escape_markdown(display_text(opt.text))}"
    if opt.gold:
        line += " :green-badge[gold]"
    if who:
        line += " — argued by " + escape_markdown(", ".join(who))
    st.markdown(line)
st.caption("Options in the order the judge saw them." + (" This item has no gold answer." if gold is None else ""))
if detail.explanation:
    with st.expander("Gold explanation"):
        show_rationale(detail.explanation)

m1, m2, m3, m4 = st.columns(4)
final = detail.final
m1.metric("Judge final p(correct)", "—" if final is None or final.p_correct is None else f"{final.p_correct:.2f}")
m2.metric("Correct", "—" if final is None or final.p_correct is None else ("yes" if final.correct else "no"))
m3.metric("Rounds", max((r.round for r in detail.rounds), default=0))
m4.metric("Verified quotes", detail.n_quotes)
if final is not None:
    st.markdown(judgment_line(final, gold, f"Final judgment ({final.judge_kind}"
                                            f"{', ' + final.judge_name if final.judge_name else ''})"))
    if final.rationale.strip():
        st.markdown("**Final rationale**")
        show_rationale(final.rationale)
else:
    st.caption("The transcript's own judge has not given a final judgment.")

if st.button("Ask the AI judge", help="Judges the turns of this transcript with the configured judge model "
                                      "(without the source) and stores the result as an ai-offline judgment. "
                                      "It runs as a job: you can leave this page meanwhile."):
    transcript_id = detail.id
    st.session_state["ai_judge_job"] = enqueue(kind="ai-judge", study_id=study_id, user_id=user.id,
                                               params={"transcript_ids": [transcript_id]})


@staff_fragment(run_every=1.0)
def ai_judge_status() -> None:
    job = get_job(st.session_state["ai_judge_job"])
    if job.state in ("queued", "running"):
        st.progress(job.progress, text=f"AI judge: {job.state} · {job.message}")
    elif job.state == "failed":
        st.error(escape_markdown(f"The AI judge failed: {job.error}"))
    else:
        del st.session_state["ai_judge_job"]
        n = job.result.get("n", 0)
        st.session_state["ai_judge_flash"] = (f"AI judge {job.result.get('model')}: judged {n} transcript(s)" if n else
                                              "This model has judged this transcript already (see Other judgments).")
        st.rerun()


with st.container():  # always one element, so that the tabs below keep the chosen tab when this changes
    if "ai_judge_job" in st.session_state:
        ai_judge_status()
    if flash := st.session_state.pop("ai_judge_flash", None):
        st.success(escape_markdown(flash))

tab_rounds, tab_source, tab_judgments, tab_reviews = st.tabs(
    ["Turns", f"Source ({detail.n_quotes} quotes)", "Other judgments", "Expert reviews"])

with tab_reviews:
    rubric = current_rubric(study_id)
    for review in reviews_for(transcript_id=detail.id):
        show_review(review, rubric.fields)
    with st.form(f"review-{detail.id}", clear_on_submit=True):
        st.caption(f"Your review against the gold answer and the source (rubric v{rubric.version}); the notes feed "
                   "the next strategy version. The Review queue page deals finished assignments one by one.")
        labels = rubric_inputs(rubric.fields, key=f"tx-review-{detail.id}")
        notes = st.text_area("Feedback for the study designers")
        if st.form_submit_button("Save review", type="primary"):
            if attempt(review_transcript, transcript_id=detail.id, expert_id=user.id, labels=labels, notes=notes)[0]:
                st.rerun()

with tab_rounds:
    if not detail.rounds:
        st.info("No turns yet.")
    for rnd in detail.rounds:
        st.markdown(f"##### {'Before the first speeches' if rnd.round == 0 else f'Round {rnd.round}'}")
        for turn in rnd.speeches:
            if turn.role == "restart":
                st.caption("The participant started the chat over here: the assistant no longer saw the turns above.")
                continue
            side = sides.get(turn.role)
            head = f"**{escape_markdown(turn.label)}**"
            if turn.speaker and turn.speaker != turn.label:
                head += f" · {escape_markdown(turn.speaker)}"
            if side is not None and side.letter is not None:
                head += f" · argues {side.letter}"
                if side.honest is not None:
                    head += " (honest)" if side.honest else " (dishonest)"
            if turn.model:
                head += f" · model {escape_markdown(turn.model)}"
            with st.container(border=True):
                st.markdown(head)
                st.markdown(speech_markdown(turn.text, turn.quotes) if turn.text.strip() else "_(no speech)_")
        for note in rnd.notes:
            with st.container(border=True):
                st.markdown(f"**Judge** · {escape_markdown(note.speaker)}")
                show_rationale(note.text)
        for report in rnd.reports:
            name = f", {report.judge_name}" if report.judge_name else ""
            st.markdown(judgment_line(report, gold, f"Judge report ({report.judge_kind}{name})"))
            if report.rationale.strip():
                with st.container(border=True):
                    show_rationale(report.rationale)

with tab_source:
    if not detail.source_text:
        st.info("This item has no source text.")
    else:
        if detail.source_title:
            st.markdown(f"**{escape_markdown(detail.source_title)}**")
        legend = [":orange-background[quoted by debater A]", ":blue-background[quoted by debater B]",
                  ":violet-background[quoted by both]"] if "debater_a" in sides else [
                  ":orange-background[quoted by the consultant]"]
        st.caption(" ".join(legend) if detail.n_quotes else "No verified quotes in this transcript.")
        with st.container(height=600):
            st.markdown(source_markdown(detail.source_text, detail.quote_spans))

with tab_judgments:
    if detail.ai_offline:
        st.markdown("**AI judges (after the fact)**")
        for j in detail.ai_offline:
            st.markdown(judgment_line(j, gold, f"{j.judge_name or 'AI judge'}"
                                               f"{f' · {j.created_at:%Y-%m-%d %H:%M}' if j.created_at else ''}"))
    if detail.offline_human:
        st.markdown("**Offline human judges**")
        for name, steps in detail.offline_human.items():
            with st.expander(f"{escape_markdown(name)} ({len(steps)} step{'s' if len(steps) != 1 else ''})"):
                for j in steps:
                    st.markdown(judgment_line(j, gold, f"Step {j.round + 1}"))
                    show_rationale(j.rationale)
    if detail.other:
        st.markdown("**Other judgments**")
        for j in detail.other:
            st.markdown(judgment_line(j, gold, f"{j.judge_kind} {j.judge_name}".strip()))
            show_rationale(j.rationale)
    if not (detail.ai_offline or detail.offline_human or detail.other):
        st.info("No AI or offline judgments of this transcript yet. Ask the AI judge above to add one.")
