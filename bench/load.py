"""A live session through the real server: N participants as websocket clients of a running `streamlit run
serve.py` (the production start: no file watching), each joining by their personal link, consenting, and working
through their tasks with a think time between actions, as people in a paid session do. Half judge extractive
debates (two rounds, speeches written by the offline extractive model), half answer direct-QA tasks.

    python bench/load.py --participants 20                   # own server, fresh SQLite file
    python bench/load.py --participants 20 --database-url postgresql+psycopg://user@host/db
    python bench/load.py --participants 1 --think 1          # one person: the latency floor
    python bench/load.py --url http://host:8501 ...          # a server already running on --database-url
    python bench/load.py --participants 20 --floor           # the same session on the floor (bench/floor_app.py)
    python bench/load.py --participants 20 --with-floor      # the app, then the floor: both tables and ratios

The clients are `bench/wsclient.py`: the app's own protobuf protocol over `/_stcore/stream`, with fragment timers
like a browser's; no browser renders anything (so the figures are the server's, plus the websocket). Measured per
action, from the click to the moment the page showing its result has been drawn completely:
  join          opening the link until the consent page is drawn
  consent       "Continue" after consenting until the first task is drawn
  submit        an answer (report) until the page after it is drawn
  next          "Next task" until the next task is drawn
  continue      "Continue to round 2" until round 2's speeches are on the page (fragment polls included)
  first_speech  "Next task" (or "Continue" after consent) until the new debate's first speeches are on the page
  staff_sign_in "Sign in" until the admin's first page is drawn (`--staff` sign-ins, after the participants)
Then it checks the database: every answer a participant saw confirmed is stored (`lost`), and no assignment has
two final judgments, two reports for one round or two transcripts (`duplicates`); `answer_forms` counts the
stored answers by the form they came from (every one from the one answer form: choose, then how sure).
Where the bench started the server it also measures the server process's CPU (user + system, all its threads)
from the first measured person's start to the last one's end: `server_cpu_s_per_participant_minute` (that CPU
divided by the minutes the people spent in the session) and `server_cores_busy` (that CPU over the wall time).
The floor is the participant page in plain Streamlit (no database, no models, the same widgets and script runs
per action): what the same clients cost when only Streamlit works. Compare app and floor only within one
invocation (`--with-floor`), on the same machine.
Prints figures as text, or JSON with `--json` (keys `participants`, `p95_s`, `errors`, `lost`, `duplicates`, ...;
with `--with-floor`: `app`, `floor` and `ratios`); asserts nothing about time.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.wsclient import AppError, AppSession, View  # noqa: E402

ADMIN = ("load-admin", "load-bench-password-1")
DEBATE, DIRECT = "debate", "direct-qa"


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(q * (len(xs) - 1)))]


# --- setting up ----------------------------------------------------------------------------------------------

@dataclass
class Person:
    kind: str
    user_id: int
    query: str


def setup(*, participants: int, direct_items: int, debate_items: int,
          only: str | None = None) -> tuple[list[Person], list[Person]]:
    """Two open studies on the demo items (one dealing direct-QA tasks, one extractive debates), an admin, and
    personal links: the participants alternate between the studies (or all take `only`'s). Returns (people, one
    warm-up person per study)."""
    from oversight.access import auth
    from oversight.sandwiching import conditions
    from oversight.protocols import strategies
    from oversight.db import init_db
    from oversight.importers import demo_items_path, import_path
    from oversight.study.launch import set_study_status
    from oversight.study.studies import create_study, update_study

    init_db()
    admin = auth.create_user(role="admin", name=ADMIN[0], password=ADMIN[1])
    links: dict[str, list] = {}
    for kind, per_person in ((DIRECT, direct_items), (DEBATE, debate_items)):
        study = create_study(name=f"Load: {kind}", user_id=admin.id, instructions="Answer each question.")
        import_path(study_id=study.id, fmt="jsonl", path=demo_items_path(), user_id=admin.id)
        if kind == DEBATE:
            strategy = strategies.create_strategy(
                study_id=study.id, name="Debate (extractive)", protocol="debate",
                rules={"rounds": 2, "speeches": "simultaneous"},
                model_roles={"debater": "extractive", "judge": "extractive"}, user_id=admin.id)
            conditions.add_condition(study_id=study.id, kind="assisted", strategy_id=strategy.id, user_id=admin.id)
        else:
            strategy = strategies.create_strategy(study_id=study.id, name="Direct QA", protocol="direct-qa",
                                                  user_id=admin.id)
            conditions.add_condition(study_id=study.id, kind="alone", strategy_id=strategy.id, user_id=admin.id)
        update_study(study_id=study.id, user_id=admin.id, items_per_participant=per_person)
        set_study_status(study_id=study.id, status="open", user_id=admin.id)
        count = (participants if only == kind else 0 if only else (participants + (kind == DIRECT)) // 2) + 1
        # (+1: a warm-up person per study)
        links[kind] = auth.create_invites(study_id=study.id, count=count, created_by=admin.id)
    people, warm = [], []
    for kind, invites in links.items():
        as_people = [Person(kind, i.user_id, i.link.split("?", 1)[1]) for i in invites]
        warm.append(as_people[0])
        people += as_people[1:]
    people.sort(key=lambda p: p.user_id)
    return people[:participants], warm


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def floor_people(*, participants: int, direct_items: int, debate_items: int,
                 only: str | None = None) -> tuple[list[Person], list[Person]]:
    """The same people for the floor (`bench/floor_app.py`): the link names the kind of task, how many and who."""
    kinds = [only or (DIRECT if i % 2 == 0 else DEBATE) for i in range(participants)]
    tasks = {DIRECT: direct_items, DEBATE: debate_items}
    people = [Person(kind, i + 1, f"t=floor.{kind}.{tasks[kind]}.{i + 1}") for i, kind in enumerate(kinds)]
    warm = [Person(kind, 0, f"t=floor.{kind}.{tasks[kind]}.0") for kind in (DIRECT, DEBATE)]
    return people, warm


def start_server(env: dict, port: int, log: Path, script: str = "serve.py") -> subprocess.Popen:
    """The production start (`scripts/start.sh`): serve.py (or the floor), headless, no file watching."""
    out = open(log, "a")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port), "--server.headless",
         "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
         "--server.runOnSave", "false"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    out.close()
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}; see {log}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise TimeoutError("the server did not become healthy")


def wait_ready(url: str, timeout_s: float = 300) -> None:
    """Wait for the app's /oversight/ready (database migrated, models warm), as a proxy's health check would before
    sending anyone; a server without that route (an older app, the floor) is taken as ready."""
    import urllib.error

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/oversight/ready", timeout=5):
                return
        except urllib.error.HTTPError as e:
            if e.code != 503:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise TimeoutError(f"{url} did not become ready in {timeout_s:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# --- the people ----------------------------------------------------------------------------------------------

@dataclass
class Tally:
    times: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    confirmed: dict[int, int] = field(default_factory=lambda: defaultdict(int))  # user -> answers/reports stored
    finished: int = 0
    answers: int = 0
    spans: list[tuple[float, float]] = field(default_factory=list)  # each measured person's (start, end)


async def timed(tally: Tally, action: str, step, since: float | None = None) -> View:
    """Await `step` (a page action); its time counts from `since` (the click) when given."""
    t0 = time.perf_counter() if since is None else since
    view = await step
    tally.times[action].append(time.perf_counter() - t0)
    if errs := view.errors():
        raise AppError(f"{action}: " + "; ".join(errs))
    return view


def round_ready(n: int):
    return lambda v: v.has(f"Your judgment after round {n}")


def answer(view: View, rng: random.Random, sure: int) -> dict:
    """Fill the one answer form (choose an option, then a confidence) and a reason in the reasoning box where
    there is one (debates ask for it before the final answer)."""
    choice = view.widget("Your answer", "radio")
    if choice is None:
        raise AppError(f"no answer form on the page ({view.texts()[:6]})")
    values: dict = {"Your answer": rng.randrange(len(choice.proto.options)),
                    "How sure are you that this answer is correct? (%)": sure}
    for e in view.elements:
        if e.kind == "text_area" and e.proto.label.startswith(("Your reasoning", "Why?")):
            values[e.proto.label] = "The quoted passage supports this answer more directly."
    return values


async def participant(url: str, person: Person, tally: Tally, *, think: float, rng: random.Random,
                      max_tasks: int = 100, speech_wait_s: float = 30.0) -> None:
    """`speech_wait_s`: how long a debate page may wait for its speeches before the bench counts an error."""
    async def pause() -> None:
        await asyncio.sleep(rng.uniform(0.5 * think, 1.5 * think) if think else 0)

    async with AppSession(url, query=person.query) as app:
        view = await timed(tally, "join", app.start())
        if not view.has("I have read this and agree"):
            raise AppError(f"join: no consent form ({view.texts()[:4]})")
        await pause()
        await app.act({"I have read this and agree to take part": True})
        clicked = time.perf_counter()
        view = await timed(tally, "consent", app.act(click="Continue"))
        for _ in range(max_tasks):
            if view.has("You have finished every task"):
                tally.finished += 1
                return
            if not view.has("Task "):
                raise AppError(f"expected a task, saw {view.texts()[:6]}")
            if person.kind == DEBATE:
                view = await app.wait_until(round_ready(1), timeout=speech_wait_s)
                tally.times["first_speech"].append(time.perf_counter() - clicked)
                await pause()
                clicked = time.perf_counter()
                view = await app.act(answer(view, rng, 70), click="Continue to round 2")
                tally.confirmed[person.user_id] += 1
                view = await timed(tally, "continue", app.wait_until(round_ready(2), timeout=speech_wait_s),
                                   since=clicked)
            await pause()
            view = await timed(tally, "submit", app.act(answer(view, rng, 80), click="Submit final answer"))
            if not view.has("Your final answer is saved"):
                raise AppError(f"submit: not confirmed ({view.texts()[:6]})")
            tally.confirmed[person.user_id] += 1
            tally.answers += 1
            await pause()
            clicked = time.perf_counter()
            view = await timed(tally, "next", app.act(click="Next task"))
        raise AppError("more tasks than expected")


async def run_person(url: str, person: Person, tally: Tally, *, think: float, seed: int, delay: float,
                     speech_wait_s: float = 30.0) -> None:
    await asyncio.sleep(delay)
    start = time.perf_counter()
    try:
        await participant(url, person, tally, think=think, rng=random.Random(seed), speech_wait_s=speech_wait_s)
    except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
        tally.errors.append(f"participant {person.user_id}: {exc}")
    tally.spans.append((start, time.perf_counter()))


async def staff_sign_in(url: str, tally: Tally) -> None:
    async with AppSession(url) as app:
        view = await app.start()
        if view.widget("Name") is None:
            raise AppError(f"no sign-in form ({view.texts()[:4]})")
        view = await timed(tally, "staff_sign_in", app.act({"Name": ADMIN[0], "Password": ADMIN[1]},
                                                           click="Sign in"))
        if not view.has(f"Signed in as {ADMIN[0]}"):
            raise AppError(f"sign-in: not signed in ({view.texts()[:6]})")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, all its threads together (psutil reads /proc)."""
    import psutil

    t = psutil.Process(pid).cpu_times()
    return t.user + t.system


async def session(url: str, people: list[Person], warm: list[Person], *, think: float, staff: int,
                  ramp: float, server_pid: int | None = None) -> tuple[Tally, float, float | None]:
    # A server that has served someone once (imports, the extractive model, the engine pool) is what a lab
    # runs a session on; the warm-up people are not counted.
    for person in warm:
        async with AppSession(url, query=person.query) as app:
            view = await app.start()
            if not view.has("I have read this and agree"):
                raise AppError(f"warm-up: no consent form ({view.texts()[:6]}; errors {view.errors()})")
            await app.act({"I have read this and agree to take part": True})
            await app.act(click="Continue")
            if person.kind == DEBATE:  # the models have loaded once the first speeches are written
                await app.wait_until(round_ready(1), timeout=300)
    tally = Tally()
    # The server's CPU over the measured people only (the first one starts at once, so from here to the last
    # one's end): not the warm-up people, not the staff sign-ins after them.
    cpu_start = cpu_seconds(server_pid) if server_pid else None
    start = time.perf_counter()
    await asyncio.gather(*(run_person(url, p, tally, think=think, seed=i, delay=ramp * i / max(1, len(people)))
                           for i, p in enumerate(people)))
    wall = time.perf_counter() - start
    cpu = cpu_seconds(server_pid) - cpu_start if server_pid else None
    for _ in range(staff):
        try:
            await staff_sign_in(url, tally)
        except Exception as exc:  # noqa: BLE001
            tally.errors.append(f"staff: {exc}")
    return tally, wall, cpu


# --- checking the database -----------------------------------------------------------------------------------

def check_database(people: list[Person], tally: Tally) -> dict:
    """Every confirmed answer or report stored once: `lost` = confirmed but missing; `duplicates` = stored twice."""
    from sqlalchemy import func
    from sqlmodel import select

    from oversight.db import session_scope
    from storage.models import Judgment, Transcript

    ids = [p.user_id for p in people]
    with session_scope(write=False) as s:
        per_user = dict(s.exec(select(Judgment.judge_id, func.count()).where(Judgment.judge_id.in_(ids),
                                                                            Judgment.judge_kind == "human")
                               .group_by(Judgment.judge_id)).all())
        twice = s.exec(select(func.count()).select_from(
            select(Judgment.assignment_id, Judgment.round, Judgment.is_final)
            .where(Judgment.judge_id.in_(ids), Judgment.judge_kind == "human")
            .group_by(Judgment.assignment_id, Judgment.round, Judgment.is_final)
            .having(func.count() > 1).subquery())).one()
        two_transcripts = s.exec(select(func.count()).select_from(
            select(Transcript.assignment_id).where(Transcript.assignment_id.is_not(None))
            .group_by(Transcript.assignment_id).having(func.count() > 1).subquery())).one()
        # Which answer form each stored answer came from (all from the one form; "none": not recorded).
        forms = dict(s.exec(select(Judgment.answer_form, func.count()).where(Judgment.judge_id.in_(ids),
                                                                            Judgment.judge_kind == "human")
                            .group_by(Judgment.answer_form)).all())
    lost = sum(max(0, tally.confirmed.get(uid, 0) - per_user.get(uid, 0)) for uid in ids)
    return {"stored": sum(per_user.values()), "confirmed": sum(tally.confirmed.values()), "lost": lost,
            "duplicates": int(twice) + int(two_transcripts),
            "answer_forms": {form or "none": n for form, n in forms.items()}}


# --- main ----------------------------------------------------------------------------------------------------

def summarise(tally: Tally, wall: float, cpu: float | None = None) -> dict:
    actions = {a: {"n": len(xs), "p50": round(pct(xs, 0.5), 3), "p95": round(pct(xs, 0.95), 3),
                   "max": round(max(xs), 3)} for a, xs in sorted(tally.times.items()) if xs}
    # CPU per participant-minute: the server's CPU seconds over the measured window, divided by the minutes the
    # people were in the session (each from opening the link to the last page); cores busy: CPU s / wall s.
    minutes = sum(end - start for start, end in tally.spans) / 60
    return {"actions": actions, "p95_s": max((a["p95"] for a in actions.values()), default=None),
            "answers_per_s": round(tally.answers / wall, 2) if wall else None, "wall_s": round(wall, 1),
            "server_cpu_s": None if cpu is None else round(cpu, 2),
            "server_cpu_s_per_participant_minute": round(cpu / minutes, 3) if cpu is not None and minutes else None,
            "server_cores_busy": round(cpu / wall, 3) if cpu is not None and wall else None}


RATIO_KEYS = ("server_cpu_s_per_participant_minute", "server_cores_busy")


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.python_version()}"


def run_app(args: argparse.Namespace, command: str) -> dict:
    """The session on the real app (`serve.py`, or --url), then the database check."""
    tmp = Path(tempfile.mkdtemp(prefix="oversight-load-"))
    port = free_port()
    url = args.url or f"http://127.0.0.1:{port}"
    database_url = args.database_url or f"sqlite:///{tmp / 'load.db'}"
    env = {**os.environ, "OVERSIGHT_DATABASE_URL": database_url, "OVERSIGHT_DATA_DIR": str(tmp),
           "OVERSIGHT_PUBLIC_URL": url, "HF_HUB_OFFLINE": "1"}
    os.environ.update({k: env[k] for k in ("OVERSIGHT_DATABASE_URL", "OVERSIGHT_DATA_DIR", "OVERSIGHT_PUBLIC_URL")})
    people, warm = setup(participants=args.participants, direct_items=args.direct_items,
                         debate_items=args.debate_items, only=args.only)
    server = None if args.url else start_server(env, port, tmp / "server.log")
    try:
        wait_ready(url)
        tally, wall, cpu = asyncio.run(session(url, people, warm, think=args.think, staff=args.staff,
                                               ramp=args.ramp, server_pid=server.pid if server else None))
    finally:
        if server is not None:
            stop_server(server)
    return finish(args, command, tmp, tally, wall, cpu, database=database_url.split(":", 1)[0].split("+")[0],
                  stored=check_database(people, tally))


def run_floor(args: argparse.Namespace, command: str) -> dict:
    """The same people, think times and timings on the floor (`bench/floor_app.py`): no database, so nothing
    to check afterwards (`lost` and `duplicates` are null); no staff pages."""
    tmp = Path(tempfile.mkdtemp(prefix="oversight-floor-"))
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    people, warm = floor_people(participants=args.participants, direct_items=args.direct_items,
                                debate_items=args.debate_items, only=args.only)
    server = start_server(dict(os.environ), port, tmp / "server.log", script="bench/floor_app.py")
    try:
        tally, wall, cpu = asyncio.run(session(url, people, warm, think=args.think, staff=0, ramp=args.ramp,
                                               server_pid=server.pid))
    finally:
        stop_server(server)
    return finish(args, command, tmp, tally, wall, cpu, database=None, stored=None)


def finish(args: argparse.Namespace, command: str, tmp: Path, tally: Tally, wall: float, cpu: float | None, *,
           database: str | None, stored: dict | None) -> dict:
    """One session's result (`stored`: the database check; None on the floor, which has no database)."""
    stored = stored or {"lost": None, "duplicates": None}
    result = {
        "participants": args.participants, "database": database,
        "clients": "websocket (bench/wsclient.py)", "think_s": args.think,
        **summarise(tally, wall, cpu), "errors": len(tally.errors), "lost": stored["lost"],
        "duplicates": stored["duplicates"], "answers": tally.answers, "finished": tally.finished,
        **{k: stored[k] for k in ("stored", "confirmed", "answer_forms") if k in stored},
        "first_errors": tally.errors[:5], "command": command,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"), "machine": machine(),
    }
    if args.keep:
        result["kept"] = str(tmp)
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return result


def ratios(app: dict, floor: dict) -> dict:
    """App / floor, measured in the same invocation: p95 per action, and the server CPU figures."""
    out = {f"{a}_p95": round(app["actions"][a]["p95"] / f["p95"], 2)
           for a, f in floor["actions"].items() if a in app["actions"] and f["p95"]}
    for key in RATIO_KEYS:
        if app.get(key) and floor.get(key):
            out[key] = round(app[key] / floor[key], 2)
    return out


def print_result(result: dict, title: str = "") -> None:
    where = result["database"] or "the floor (no database)"
    print(f"{title}{result['participants']} participants on {where}, think {result['think_s']} s: "
          f"{result['answers']} answers in {result['wall_s']} s ({result['answers_per_s']}/s), "
          f"{result['finished']} finished; errors {result['errors']}, lost {result['lost']}, "
          f"duplicates {result['duplicates']}")
    for action, a in result["actions"].items():
        print(f"  {action:14s} n={a['n']:4d}  p50 {a['p50']:.3f}  p95 {a['p95']:.3f}  max {a['max']:.3f} s")
    if result.get("server_cpu_s") is not None:
        print(f"  server CPU {result['server_cpu_s']} s: {result['server_cpu_s_per_participant_minute']} s per "
              f"participant-minute, {result['server_cores_busy']} cores busy")
    for err in result["first_errors"]:
        print("  error:", err)


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--participants", type=int, default=20)
    ap.add_argument("--think", type=float, default=3.0, help="mean think time between actions, s (uniform 0.5–1.5×)")
    ap.add_argument("--ramp", type=float, default=3.0, help="people open their links spread over this many s")
    ap.add_argument("--direct-items", type=int, default=6, help="direct-QA tasks per person")
    ap.add_argument("--debate-items", type=int, default=3, help="debates per person (two rounds each)")
    ap.add_argument("--only", choices=(DIRECT, DEBATE), help="everyone does this kind of task (default: half each)")
    ap.add_argument("--staff", type=int, default=5, help="staff sign-ins measured after the session")
    ap.add_argument("--database-url", help="default: a fresh SQLite file in a temporary folder")
    ap.add_argument("--url", help="use this running server (on --database-url) instead of starting one")
    which = ap.add_mutually_exclusive_group()
    which.add_argument("--floor", action="store_true",
                       help="the same session on the floor (bench/floor_app.py: plain Streamlit, no database)")
    which.add_argument("--with-floor", action="store_true",
                       help="the app, then the floor, in one invocation: both tables and app/floor ratios")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--out", type=Path, help="also write the JSON result here")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder (database, server log)")
    args = ap.parse_args(argv)
    if args.url and not args.database_url:
        ap.error("--url needs --database-url (the bench sets up its studies there and checks what was stored)")
    if args.url and (args.floor or args.with_floor):
        ap.error("--floor and --with-floor start their own servers (the CPU is measured on them)")
    command = "python bench/load.py " + " ".join(sys.argv[1:] if argv is None else argv)

    if args.floor:
        result = run_floor(args, command)
    elif args.with_floor:
        app = run_app(args, command)
        floor = run_floor(args, command)
        result = {"app": app, "floor": floor, "ratios": ratios(app, floor)}
    else:
        result = run_app(args, command)
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")
    if args.json:
        print(json.dumps(result, indent=2))
    elif args.with_floor:
        print_result(result["app"], "app:   ")
        print_result(result["floor"], "floor: ")
        print("app / floor, same run: " + ", ".join(f"{k} {v}x" for k, v in result["ratios"].items()))
    else:
        print_result(result)
    return result


if __name__ == "__main__":
    main()
