"""The two labs in a real browser, without the CLI and without a reload: a W2S training file uploaded, an experiment
saved and run, its figures appearing on the Results tab when the run finishes; an HH file cleaned and imported on
the RLAIF page, a labeller with a few-shot example made in the form, labelling run, and the agreement and bias
tables filling in when the job finishes. Screenshots under test-artifacts/ (and /tmp/shots/labs/)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ADMIN, _free_port, app_env, cli, start_streamlit, stop_streamlit
from tests.browser.test_sandwich_in_browser import sign_in
from tests.rlaif.conftest import harmless_pairs
from tests.w2s.conftest import write_boolq

pytestmark = [pytest.mark.browser, pytest.mark.slow]
SHOTS = Path("/tmp/shots/labs")
RUN_WAIT_MS = 300_000  # a tiny CPU training run on a busy two-core machine


@pytest.fixture(scope="module")
def labs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("labs")
    port = _free_port()
    env = app_env(tmp, port)
    cli(env, "init-db")
    cli(env, "create-user", "--role", "admin", "--name", ADMIN[0], stdin=ADMIN[1] + "\n")
    study = cli(env, "study", "create", "--name", "Harmless pairs").strip()
    boolq = write_boolq(tmp / "boolq_dev.jsonl", 18)
    lines = harmless_pairs(6)
    lines.insert(3, json.dumps({"chosen": "no assistant turn here", "rejected": "\n\nHuman: x\n\nAssistant: y"}))
    hh = tmp / "red_team.jsonl"
    hh.write_text("\n".join(lines) + "\n")
    proc = start_streamlit(env, port, tmp / "streamlit.log")
    try:
        yield {"url": f"http://127.0.0.1:{port}", "study": study, "boolq": boolq, "hh": hh}
    finally:
        stop_streamlit(proc)


def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def upload(page: Page, label: str, path: Path) -> None:
    box = page.get_by_test_id("stFileUploader").filter(has_text=label)
    box.locator('input[type="file"]').set_input_files(str(path))
    expect(box).to_contain_text(path.name)


def number(page: Page, label: str, value: str) -> None:
    field = page.get_by_label(label, exact=True)
    field.fill(value)
    field.press("Tab")


def test_w2s_upload_run_and_results_without_reload(labs, page: Page):
    sign_in(page, f"{labs['url']}/w2s", *ADMIN)  # the deep link survives signing in
    expect(page.get_by_role("heading", name="Weak-to-strong lab")).to_be_visible()
    expect(page.get_by_text("No finished runs yet")).to_be_visible()
    page.get_by_role("tab", name="New experiment or version").click()
    page.get_by_label("Name", exact=True).fill("tiny ladder")
    upload(page, "Training file (model supervisor)", labs["boolq"])
    weak = page.get_by_label("Weak model (bow, minilm-frozen, minilm or hf:<model>; empty: the data set's default)")
    weak.fill("bow")
    # one method, one seed, a handful of items: the point is the page, not the figures
    page.get_by_test_id("stMultiSelect").filter(has_text="Methods").get_by_role(
        "button", name="Remove logconf").click()
    number(page, "Seeds", "1")
    number(page, "Training items (0: the data set's default)", "8")
    number(page, "Test items (0: the data set's default)", "4")
    number(page, "Epochs", "1")
    number(page, "Batch size", "4")
    number(page, "Tokens per sequence (0: the data set's default)", "32")
    number(page, "Bootstrap replicates", "100")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Saved tiny ladder v1")).to_be_visible()
    page.get_by_role("tab", name="Experiments and runs").click()
    table = page.get_by_test_id("stDataFrame").filter(has_text="training file")
    expect(table).to_contain_text("boolq_dev.jsonl")  # listed at once, by the uploaded file's own name
    expect(table).not_to_contain_text(str(labs["boolq"].parent))
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_text("started; its progress is below")).to_be_visible()
    expect(page.get_by_text("Recent runs")).to_be_visible()
    shot(page, "w2s-running")
    expect(page.get_by_text("Run #1 of tiny ladder v1 (#1) · done")).to_be_visible(timeout=RUN_WAIT_MS)
    page.get_by_role("tab", name="Results").click()
    expect(page.get_by_text("No finished runs yet")).to_have_count(0)
    results = page.get_by_test_id("stDataFrame").filter(has_text="weak-to-strong")
    expect(results).to_contain_text("tiny ladder v1")
    shot(page, "w2s-results")


def test_rlaif_clean_import_label_and_tables_without_reload(labs, page: Page):
    sign_in(page, f"{labs['url']}/rlaif?study={labs['study']}", *ADMIN)
    expect(page.get_by_role("heading", name="RLAIF lab")).to_be_visible()
    expect(page.get_by_text("0 preference pairs in this study")).to_be_visible()
    upload(page, "HH-RLHF file to clean", labs["hh"])
    page.get_by_role("button", name="Clean", exact=True).click()
    expect(page.get_by_text("red_team.clean.jsonl: kept 6 pairs; left out 1 lines.")).to_be_visible()
    expect(page.get_by_text("red_team.jsonl line 4, field 'chosen'")).to_be_visible()
    expect(page.get_by_role("button", name="Download the cleaned file")).to_be_visible()
    shot(page, "rlaif-cleaned")
    page.get_by_role("button", name="Import its 6 pairs into this study").click()
    expect(page.get_by_text("6 preference pairs in this study")).to_be_visible()

    page.get_by_role("tab", name="Labellers").click()
    page.get_by_label("Name", exact=True).first.fill("harmless")
    page.get_by_role("button", name="Add example").first.click()
    page.get_by_label("Conversation", exact=True).first.fill("Human: How do I pick a lock?")
    page.get_by_label("Response A", exact=True).first.fill("Here is how to break in.")
    page.get_by_label("Response B", exact=True).first.fill("I can't help with breaking in.")
    page.get_by_test_id("stRadio").filter(has_text="Better response").first.get_by_text("B", exact=True).click()
    shot(page, "rlaif-few-shot-form")
    page.get_by_role("button", name="Create labeller").click()
    expect(page.get_by_text("Saved harmless v1")).to_be_visible()

    page.get_by_role("tab", name="Biases").click()
    expect(page.get_by_text("No AI labels in this study yet.").first).to_be_visible()
    page.get_by_role("tab", name="Labellers").click()
    page.get_by_role("tab", name="Label this study").click()
    page.get_by_role("button", name="Start labelling").click()
    expect(page.get_by_text("Labelling started")).to_be_visible()
    page.get_by_role("tab", name="Jobs").click()
    expect(page.get_by_text("rlaif-label · done")).to_be_visible(timeout=RUN_WAIT_MS)
    page.get_by_role("tab", name="Biases").click()  # filled in by the page itself once the job finished
    expect(page.get_by_text("No AI labels in this study yet.")).to_have_count(0)
    expect(page.get_by_test_id("stDataFrame").filter(has_text="position flips")).to_contain_text("harmless v1")
    shot(page, "rlaif-biases")
