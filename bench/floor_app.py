"""The floor: the participant page in plain Streamlit, with no database and no models, so a load report can show
what the same page costs when only Streamlit does the work (issue 23).

    streamlit run bench/floor_app.py --server.headless true --server.fileWatcherType none --server.runOnSave false
    python bench/load.py --floor ...            # what bench/load.py starts and drives

It copies `views/participant.py` as `bench/load.py` walks it: the same page set-up and `st.navigation` (one hidden
page), the same widgets, labels, forms and keys, and the same script runs per action (the `st.rerun()` after
consent, after a report, and after a round's speeches are written). State lives in `st.session_state` only; the
speeches are canned (a quote from the item's text). The link says who is asking:
`?t=floor.<direct-qa|debate>.<tasks>.<person>`; the same websocket client (`bench/wsclient.py`) drives it unchanged.
`FLOOR_SPEECH_S` (default 0) makes the speeches take that long to "write", so the page waits as the real one does
(0.8 s in the run, then the fragment polling every 0.5 s).
"""

from __future__ import annotations

import json
import math
import os
import re
import time
from pathlib import Path

import streamlit as st

ITEMS_FILE = Path(__file__).resolve().parent.parent / "oversight" / "demo_items.jsonl"
SPEECH_S = float(os.environ.get("FLOOR_SPEECH_S", "0"))
NO_CHOICE = "Choose an answer first: nothing was saved."
SUMMARY = {
    "direct-qa": "Answer the question on your own.",
    "debate": ("Two debaters have read a text you cannot see. Each argues for one answer; one of them is right. "
               "Green quotes were checked against the text; red ones were not found in it."),
}
ROUNDS = {"direct-qa": 0, "debate": 2}

st.set_page_config(page_title="Oversight Lab", page_icon="⚖️", layout="wide")


@st.cache_resource
def items() -> list[dict]:
    """The demo items with a text to debate (read once per process, as the real app's rows would be once
    cached)."""
    rows = [json.loads(line) for line in ITEMS_FILE.read_text().splitlines() if line.strip()]
    return [row for row in rows if row.get("source_text")]


def letter(i: int) -> str:
    return "ABCDEFGHIJ"[i]


def lowest_confidence(n: int) -> int:
    return math.floor(100 / n) + 1


def probabilities(n: int, answer: int, confidence: float) -> list[float]:
    return [confidence if i == answer else (1 - confidence) / (n - 1) for i in range(n)]


def escape(text: str) -> str:
    return re.sub(r"([\\`*_{}\[\]()#+\-.!:|~<>$])", r"\\\1", text)


def person() -> dict:
    """This tab's participant, made from the link on the first run (what the real app reads from the database)."""
    if "floor" not in st.session_state:
        _, kind, tasks, number = st.query_params["t"].split(".")
        st.session_state["floor"] = {"kind": kind, "tasks": int(tasks), "number": int(number), "consented": False,
                                     "done": 0, "task": None}
    return st.session_state["floor"]


def deal(me: dict) -> dict | None:
    """The current task, dealt on first sight (the real page's `next_task`)."""
    if me["task"] is None and me["done"] < me["tasks"]:
        pool = items()
        item = pool[(me["number"] * 7 + me["done"]) % len(pool)]
        me["task"] = {"id": me["number"] * 1000 + me["done"] + 1, "item": item, "round": 1 if ROUNDS[me["kind"]] else 0,
                      "written": {}, "reports": {}, "final": None}
    return me["task"]


def speech(item: dict, side: int, rnd: int) -> str:
    sentences = [s.strip() for s in item["source_text"].split(".") if len(s.strip()) > 40] or [item["source_text"]]
    quote = sentences[(side + 2 * rnd) % len(sentences)]
    return (escape(f'I argue for {letter(side)}: "{item["options"][side]}".') + "  \n"
            + f":green-background[“{escape(quote)}.”]")


def answer_form(options: list[str], key: str) -> list[float] | None:
    n = len(options)
    answer = st.radio("Your answer", range(n), format_func=lambda i: f"{letter(i)}. {options[i]}", index=None,
                      key=f"{key}-a")
    low = lowest_confidence(n)
    confidence = st.slider("How sure are you that this answer is correct? (%)", low, 100, max(low, 70), key=f"{key}-c")
    st.caption(f"{low}%: a guess among the {n} answers · 100%: certain. The other answers share the rest.")
    if answer is None:
        return None
    return [100 * p for p in probabilities(n, answer, confidence / 100)]


def show_question(item: dict) -> None:
    st.subheader("Question")
    st.text(item["question"])
    for i, option in enumerate(item["options"]):
        st.text(f"{letter(i)}. {option}")


def show_rounds(task: dict) -> None:
    for rnd in sorted(task["written"]):
        if task["written"][rnd] > time.monotonic():
            continue
        st.markdown(f"#### Round {rnd}")
        for col, side in zip(st.columns(2), (0, 1)):
            with col, st.container(border=True):
                st.markdown(f"**Debater {letter(side)}** · argues for answer {letter(side)}")
                st.markdown(speech(task["item"], side, rnd))
        if rnd in task["reports"]:
            st.caption("Your report: " + " · ".join(f"{letter(i)} {p / 100:.0%}"
                                                    for i, p in enumerate(task["reports"][rnd])))


def wait_for_speeches(task: dict) -> None:
    """The real page's `wait_for_model`: start the round's speeches, wait up to 0.8 s in the run, else poll."""
    rnd = task["round"]
    ready_at = task["written"].setdefault(rnd, time.monotonic() + SPEECH_S)
    if ready_at - time.monotonic() <= 0.8:
        time.sleep(max(0.0, ready_at - time.monotonic()))
        st.rerun()

    @st.fragment(run_every=0.5)
    def writing() -> None:
        if ready_at <= time.monotonic():
            st.rerun()
        st.markdown(f"#### Round {rnd}")
        st.caption("The speeches of this round are being written. They appear here as they are generated.")
        for col, side in zip(st.columns(2), (0, 1)):
            with col.container(border=True):
                st.markdown(f"**Debater {letter(side)}**")
                st.text("…")

    writing()


def report(me: dict, task: dict, probs: list[float] | None, *, end: bool) -> None:
    if probs is None:
        st.warning(NO_CHOICE)
        return
    with st.spinner("Saving your answer…"):
        must_end = task["round"] >= ROUNDS[me["kind"]]
        if end or must_end:
            task["final"] = probs
            me["done"] += 1
            if task["round"]:
                task["reports"][task["round"]] = probs
            st.session_state["finished_view"] = task["id"]
        else:
            task["reports"][task["round"]] = probs
            task["round"] += 1
    st.rerun()


def judge_report_form(me: dict, task: dict) -> None:
    rnd, rounds = task["round"], ROUNDS[me["kind"]]
    final_only = rnd >= rounds
    item = task["item"]
    with st.form(f"report-{task['id']}-{max(rnd, 1)}"):
        st.markdown(f"#### Your judgment after round {rnd}" if rnd else "#### Your answer")
        probs = answer_form(item["options"], f"j-{task['id']}-{max(rnd, 1)}")
        label = "Your reasoning" + (" (needed to finish)" if rounds else " (optional)")
        st.text_area(label, max_chars=2000)
        go_on = False if final_only else st.form_submit_button(f"Continue to round {rnd + 1}", type="primary")
        end = st.form_submit_button("Submit final answer", type="primary" if final_only else "secondary")
    if go_on or end:
        report(me, task, probs, end=bool(end))


def show_outcome(me: dict, task: dict) -> None:
    st.success("Your final answer is saved.")
    item, probs = task["item"], task["final"]
    gold = item["gold"]
    st.text(f"The correct answer was {letter(gold)}: {item['options'][gold]}")
    p = probs[gold] / 100
    st.text(f"You gave it {p:.0%}. Your score: {math.log2(max(p, 1e-6)):+.2f}")
    if st.button("Next task", type="primary"):
        st.rerun()


def your_tasks() -> None:
    me = person()
    st.title(f"Load: {me['kind']}")
    if not me["consented"]:
        st.subheader("Before you begin")
        st.text("Your answers are stored under a random participant name and used for research.")
        agree = st.checkbox("I have read this and agree to take part")
        if st.button("Continue", type="primary", disabled=not agree):
            me["consented"] = True
            st.rerun()
        st.stop()

    with st.expander("Instructions", expanded=me["done"] == 0):
        st.text("Answer each question.")

    if "finished_view" in st.session_state:
        st.session_state.pop("finished_view")
        task = me["task"]
        me["task"] = None
        show_question(task["item"])
        show_rounds(task)
        show_outcome(me, task)
        st.stop()

    task = deal(me)
    if task is None:
        st.success("You have finished every task. Thank you!")
        st.text(f"Your completion code: FLOOR{me['number']:04d}")
        st.stop()

    st.progress(me["done"] / me["tasks"], text=f"Task {me['done'] + 1} of {me['tasks']}")
    st.caption(SUMMARY[me["kind"]])
    show_question(task["item"])
    show_rounds(task)
    if task["round"] and task["written"].get(task["round"], math.inf) > time.monotonic():
        wait_for_speeches(task)
    else:
        judge_report_form(me, task)


nav = st.navigation([st.Page(your_tasks, title="Your tasks", icon=":material/edit_note:", default=True)],
                    position="hidden", expanded=True)
nav.run()
