"""The NYU human debate data set (Michael et al. 2023, "Debate Helps Supervise Unreliable Experts"):
`fmt="nyu-debate"`.

Input: the data set folder, holding `debates-metadata.jsonl` and `debates/<room>.json` (one room per
file; the `debates/` folder itself is accepted too). Every room must have a metadata line and every
metadata line a room file.

What lands:
- one `Item` per distinct (QuALITY story id, question): the two answers as options, in the order of
  the earliest room (by creation time, then name) that asked it; source text = the story rebuilt from
  its PTB tokens (`oversight.text.detokenize`); gold (in `ItemGold`) = the correct answer's index
  in that order; tags `["nyu", "quality"]`; external id `nyu/<story id>/<sha1 of the question, 12>`.
  Rooms that present the answers in another order are mapped into the item's order.
- one `Transcript` per room: origin "imported", setting "human debate" / "human consultancy" /
  "AI debate" / "AI consultancy" (from `setting.isHuman` / `setting.isDebate`), external id = the
  room name, status "complete" or "incomplete", tags `["nyu"]` plus `"paper"` when
  `includedInPaper`; `meta` holds the room's rules, scoring function, roles (who argued which
  option, honest or dishonest: `roles[debater_a|debater_b|consultant] = {name, argues, honest, role}`
  as in live transcripts), the room's answer order (`answer_order[i]`, also under `order` as live
  transcripts name it, = the item option index of the room's answer i), the post-debate survey, and
  the result details (final judgement in item order, judge reward, how the room ended).
- `Turn`s: every speech (role debater_a / debater_b in debates, consultant in consultancies; model
  "GPT-4" for AI speakers) with its text rebuilt from the segments, quotes written as
  `<quote>...</quote>` around the detokenised span, and `quotes` = the verified spans
  (`{"span": [start, end], "text", "start", "end", "verified": true}`, token and character offsets;
  every quote text is verbatim in the item's source text); and every judge feedback (role judge).
  `round` counts the speech rounds (a judge's feedback before any speech is round 0).
- `Judgment`s: every judge feedback distribution (judge_kind "human", the round, probabilities in
  the item's option order); the last one of a complete room is `is_final` and must equal the
  metadata's `finalJudgement`. Offline judgments are judge_kind "offline-human" with the offline
  judge's name; `round` is the step (0-based) and the last step is final when it ended the judging.
"""

from __future__ import annotations

import hashlib
import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oversight.importers.common import (
    ImportFailed,
    ParsedBatch,
    ParsedItem,
    ParsedJudgment,
    ParsedTranscript,
    ParsedTurn,
    ms_to_datetime,
)
from oversight.importers.bounds import load_json
from oversight.importers.generic import jsonl_records, read_text

METADATA = "debates-metadata.jsonl"
AI_SPEAKERS = {"GPT-4"}


@dataclass
class _Room:
    name: str
    meta: dict[str, Any]
    meta_line: int
    data: dict[str, Any]
    file: Path
    story_id: str
    question: str
    answers: list[str]
    correct: int
    tokens: list[str]


def parse(path: Path) -> ParsedBatch:
    from oversight.text import detokenize

    root = path
    if not (root / METADATA).is_file() and (root.parent / METADATA).is_file() and root.name == "debates":
        root = root.parent
    metadata_file = root / METADATA
    if not metadata_file.is_file():
        raise ImportFailed(path, None, None, f"not an NYU debate folder: {METADATA} not found")
    if not (root / "debates").is_dir():
        raise ImportFailed(path, None, None, "not an NYU debate folder: debates/ not found")

    rooms = _load_rooms(root, metadata_file)

    # Items: one per (story, question), options in the order of the earliest room.
    by_key: dict[tuple[str, str], list[_Room]] = defaultdict(list)
    for room in sorted(rooms, key=lambda r: (r.meta.get("creationTime") or 0, r.name)):
        by_key[(room.story_id, room.question)].append(room)
    stories = _stories(rooms, detokenize)
    items: list[ParsedItem] = []
    orders: dict[str, list[int]] = {}
    item_ids: dict[str, str] = {}
    for (story_id, question), group in by_key.items():
        first = group[0]
        options = list(first.answers)
        gold = first.correct
        ext = f"nyu/{story_id}/{hashlib.sha1(question.encode()).hexdigest()[:12]}"
        for room in group:
            if sorted(room.answers) != sorted(options):
                raise ImportFailed(
                    room.file, None, "setup.answers",
                    f"answers differ from room {first.name!r}, which asks the same question about the same story",
                )
            order = [options.index(a) for a in room.answers]
            if order[room.correct] != gold:
                raise ImportFailed(
                    room.file, None, "setup.correctAnswerIndex",
                    f"marks another answer correct than room {first.name!r} for the same question",
                )
            orders[room.name] = order
            item_ids[room.name] = ext
        items.append(
            ParsedItem(
                external_id=ext,
                question=question,
                options=options,
                gold_index=gold,
                source_title=first.data["setup"]["sourceMaterial"]["QuALITYSourceMaterial"].get("title"),
                source_text=stories[story_id].text,
                tags=["nyu", "quality"],
                meta={"dataset": "nyu_human_debate", "quality_article_id": story_id,
                      "rooms": [r.name for r in group], "story_tokens": len(stories[story_id].tokens)},
            )
        )

    transcripts = [
        _transcript(room, item_ids[room.name], orders[room.name], stories[room.story_id], detokenize)
        for room in sorted(rooms, key=lambda r: r.name)
    ]
    return ParsedBatch(format="nyu-debate", source=str(path), items=items, transcripts=transcripts)


class _Story:
    """One story's text, rebuilt from the tokens of its most recent room.

    A few stories come with two tokenisations (early rooms used coarser tokens); a quote from a room
    with other tokens is located in this text after normalisation (`oversight.text.normalise`, then
    spaces dropped and runs of dots shortened), and
    the quote text becomes the story's own characters there, so quotes are always verbatim.
    """

    def __init__(self, tokens: list[str], detokenize) -> None:
        self.tokens = tokens
        self.text = detokenize(tokens)
        self._normalised: tuple[str, list[int]] | None = None

    def normalised(self) -> tuple[str, list[int]]:
        if self._normalised is None:
            from oversight.text import normalise_with_map

            text, index = normalise_with_map(self.text)
            kept = _squash_positions(text)
            self._normalised = ("".join(text[k] for k in kept), [index[k] for k in kept])
        return self._normalised


def _squash_positions(text: str) -> list[int]:
    """Positions kept when spaces are dropped and runs of dots count as one ("...." = "...")."""
    return [k for k, ch in enumerate(text) if ch != " " and not (ch == "." and k and text[k - 1] == ".")]


def _squash(text: str) -> str:
    return "".join(text[k] for k in _squash_positions(text))


def _stories(rooms: list[_Room], detokenize) -> dict[str, _Story]:
    latest: dict[str, _Room] = {}
    for room in sorted(rooms, key=lambda r: (r.meta.get("creationTime") or 0, r.name)):
        latest[room.story_id] = room
    return {story_id: _Story(room.tokens, detokenize) for story_id, room in latest.items()}


def _load_rooms(root: Path, metadata_file: Path) -> list[_Room]:
    metas: dict[str, tuple[int, dict]] = {}
    for line_no, meta in jsonl_records(metadata_file):
        name = meta.get("name")
        if not isinstance(name, str) or not name:
            raise ImportFailed(metadata_file, line_no, "name", "is required")
        if name in metas:
            raise ImportFailed(metadata_file, line_no, "name", f"room {name!r} appears twice (first on line {metas[name][0]})")
        setting = meta.get("setting")
        if not isinstance(setting, dict) or not all(isinstance(setting.get(k), bool) for k in ("isHuman", "isDebate")):
            raise ImportFailed(metadata_file, line_no, "setting", "must hold booleans isHuman and isDebate")
        status = meta.get("status")
        if not isinstance(status, dict) or len(status) != 1:
            raise ImportFailed(metadata_file, line_no, "status", "must be an object with one key (Complete, InProgress, ...)")
        metas[name] = (line_no, meta)

    files = {p.stem: p for p in (root / "debates").glob("*.json")}
    for stem in sorted(set(files) - set(metas)):
        raise ImportFailed(files[stem], None, None, f"room has no line in {METADATA}")

    rooms = []
    for name, (line_no, meta) in metas.items():
        file = files.get(name)
        if file is None:
            raise ImportFailed(metadata_file, line_no, "name", f"no room file debates/{name}.json")
        try:
            data = load_json(read_text(file), file, None)
        except json.JSONDecodeError as exc:
            raise ImportFailed(file, exc.lineno, None, f"not valid JSON ({exc.msg})") from None
        rooms.append(_room(name, meta, line_no, data, file))
    if not rooms:
        raise ImportFailed(metadata_file, None, None, "no rooms found")
    return rooms


def _get(data: Any, dotted: str, file: Path, kind: type | tuple[type, ...]) -> Any:
    value = data
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ImportFailed(file, None, dotted, "is missing")
        value = value[part]
    if not isinstance(value, kind):
        raise ImportFailed(file, None, dotted, f"has the wrong type ({type(value).__name__})")
    return value


def _room(name: str, meta: dict, meta_line: int, data: dict, file: Path) -> _Room:
    if not isinstance(data, dict):
        raise ImportFailed(file, None, None, "must be a JSON object")
    material = "setup.sourceMaterial.QuALITYSourceMaterial"
    story_id = str(_get(data, f"{material}.articleId", file, (str, int)))
    tokens = _get(data, f"{material}.contents", file, list)
    question = _get(data, "setup.question", file, str)
    answers = _get(data, "setup.answers", file, list)
    if len(answers) != 2 or not all(isinstance(a, str) and a.strip() for a in answers):
        raise ImportFailed(file, None, "setup.answers", "must be two non-empty answers")
    if answers[0] == answers[1]:
        raise ImportFailed(file, None, "setup.answers", "the two answers are the same")
    correct = _get(data, "setup.correctAnswerIndex", file, int)
    if correct not in (0, 1):
        raise ImportFailed(file, None, "setup.correctAnswerIndex", "must be 0 or 1")
    _get(data, "setup.roles", file, dict)
    _get(data, "rounds", file, list)
    if not question.strip():
        raise ImportFailed(file, None, "setup.question", "must not be empty")
    return _Room(name, meta, meta_line, data, file, story_id, question, answers, correct, tokens)


def _setting(meta: dict) -> str:
    who = "human" if meta["setting"]["isHuman"] else "AI"
    what = "debate" if meta["setting"]["isDebate"] else "consultancy"
    return f"{who} {what}"


def _distribution(value: Any, file: Path, field: str, order: list[int]) -> list[float]:
    if (
        not isinstance(value, list)
        or len(value) != 2
        or not all(isinstance(p, (int, float)) and not isinstance(p, bool) and 0 <= p <= 1 for p in value)
    ):
        raise ImportFailed(file, None, field, "must be two probabilities in [0, 1]")
    probabilities = [0.0, 0.0]
    for room_index, p in enumerate(value):
        probabilities[order[room_index]] = float(p)
    return probabilities


def _transcript(room: _Room, item_ext: str, order: list[int], story: _Story, detokenize) -> ParsedTranscript:
    file, meta, setup = room.file, room.meta, room.data["setup"]
    own_tokens = room.tokens is story.tokens or room.tokens == story.tokens
    is_debate = meta["setting"]["isDebate"]
    (status_kind, status_value), = meta["status"].items()
    complete = status_kind == "Complete"
    roles_raw = setup["roles"]

    roles: dict[str, Any] = {}
    for key, role in (("Debater A", "debater_a"), ("Debater B", "debater_b")):
        if key in roles_raw:
            room_answer = 0 if key == "Debater A" else 1
            roles[role if is_debate else "consultant"] = {
                "name": roles_raw[key],
                "room_answer": room_answer,
                "argues": order[room_answer],
                "honest": room_answer == room.correct,
                "role": "honest" if room_answer == room.correct else "dishonest",
            }
    if "Judge" in roles_raw:
        roles["judge"] = {"name": roles_raw["Judge"]}

    turns: list[ParsedTurn] = []
    judgments: list[ParsedJudgment] = []
    offline_modes: dict[str, str] = {}
    negotiate_end: list[dict] = []
    speech_round = 0
    for position, entry in enumerate(room.data["rounds"]):
        where = f"rounds[{position}]"
        if not isinstance(entry, dict) or len(entry) != 1:
            raise ImportFailed(file, None, where, "must be an object with one key")
        (kind, value), = entry.items()
        if not isinstance(value, dict):
            raise ImportFailed(file, None, f"{where}.{kind}", "must be an object")
        if kind in ("SimultaneousSpeeches", "SequentialSpeeches"):
            speech_round += 1
            speeches = value.get("speeches")
            if not isinstance(speeches, dict):
                raise ImportFailed(file, None, f"{where}.{kind}.speeches", "must be an object")
            ordered = sorted(speeches.items(), key=lambda kv: (kv[1].get("timestamp") or 0, kv[0]))
            for debater, speech in ordered:
                field = f"{where}.{kind}.speeches.{debater}"
                if debater not in ("0", "1") or not isinstance(speech, dict):
                    raise ImportFailed(file, None, field, "speeches are keyed by debater index 0 or 1")
                text, quotes = _speech_text(speech.get("content"), room.tokens, story, own_tokens, file, f"{field}.content", detokenize)
                speaker = str(speech.get("speaker") or "")
                turns.append(
                    ParsedTurn(
                        round=speech_round,
                        role=("debater_a" if debater == "0" else "debater_b") if is_debate else "consultant",
                        speaker=speaker,
                        text=text,
                        quotes=quotes,
                        model=speaker if speaker in AI_SPEAKERS else None,
                        created_at=ms_to_datetime(speech.get("timestamp")),
                    )
                )
        elif kind == "JudgeFeedback":
            field = f"{where}.JudgeFeedback"
            feedback = value.get("feedback") or {}
            text, _ = _speech_text(feedback.get("content", []), room.tokens, story, own_tokens, file, f"{field}.feedback.content", detokenize)
            speaker = str(feedback.get("speaker") or roles_raw.get("Judge") or "")
            at = ms_to_datetime(feedback.get("timestamp"))
            turns.append(ParsedTurn(round=speech_round, role="judge", speaker=speaker, text=text, created_at=at))
            judgments.append(
                ParsedJudgment(
                    judge_kind="human",
                    judge_name=speaker,
                    round=speech_round,
                    probabilities=_distribution(value.get("distribution"), file, f"{field}.distribution", order),
                    rationale=text,
                    created_at=at,
                )
            )
        elif kind == "OfflineJudgments":
            per_judge = value.get("judgments")
            if not isinstance(per_judge, dict):
                raise ImportFailed(file, None, f"{where}.OfflineJudgments.judgments", "must be an object")
            for judge, record in per_judge.items():
                field = f"{where}.OfflineJudgments.judgments.{judge}"
                steps = record.get("judgments") if isinstance(record, dict) else None
                if not isinstance(steps, list):
                    raise ImportFailed(file, None, field, "must hold a list of judgments")
                offline_modes[judge] = record.get("mode", "")
                for step, judged in enumerate(steps):
                    feedback = judged.get("feedback") or {}
                    text, _ = _speech_text(
                        feedback.get("content", []), room.tokens, story, own_tokens, file, f"{field}.judgments[{step}]", detokenize
                    )
                    judgments.append(
                        ParsedJudgment(
                            judge_kind="offline-human",
                            judge_name=judge,
                            round=step,
                            probabilities=_distribution(
                                judged.get("distribution"), file, f"{field}.judgments[{step}].distribution", order
                            ),
                            rationale=text,
                            is_final=step == len(steps) - 1 and bool(judged.get("endDebate")),
                            created_at=ms_to_datetime(feedback.get("timestamp")),
                        )
                    )
        elif kind == "NegotiateEnd":
            negotiate_end.append({"round": speech_round, "votes": value.get("votes", value)})
        else:
            raise ImportFailed(file, None, where, f"unknown round kind {kind!r}")

    result = status_value.get("result", {}) if complete and isinstance(status_value, dict) else {}
    judging = result.get("judgingInfo") if isinstance(result, dict) else None
    final_judgement = None
    if judging:
        field = "status.Complete.result.judgingInfo.finalJudgement"
        final_judgement = _distribution(judging.get("finalJudgement"), Path(METADATA), field, order)
        live = [j for j in judgments if j.judge_kind == "human"]
        if not live:
            raise ImportFailed(METADATA, room.meta_line, field, f"room {room.name!r} has a final judgement but no judge feedback")
        last = live[-1]
        if any(abs(a - b) > 1e-9 for a, b in zip(last.probabilities, final_judgement)):
            raise ImportFailed(
                METADATA, room.meta_line, field,
                f"{final_judgement} differs from the last judge feedback {last.probabilities} of room {room.name!r}",
            )
        last.is_final = True
        if result.get("correctAnswerIndex", room.correct) != room.correct:
            raise ImportFailed(METADATA, room.meta_line, "status.Complete.result.correctAnswerIndex",
                               f"differs from the room file's setup.correctAnswerIndex ({room.correct})")

    rules = setup.get("rules") or {}
    transcript_meta = {
        "dataset": "nyu_human_debate",
        "room": room.name,
        "story_id": room.story_id,
        "story_title": meta.get("storyTitle"),
        "included_in_paper": bool(meta.get("includedInPaper")),
        "rules": rules,
        "scoring_function": rules.get("scoringFunction"),
        "roles": roles,
        "room_roles": roles_raw,
        "ultimate_roles": meta.get("ultimateRoles"),
        "answer_order": order,
        "order": order,  # the live protocols' name for the same thing (position i shows item option order[i])
        "room_answers": room.answers,
        "room_correct_index": room.correct,
        "status_detail": status_kind,
        "ended_by": next(iter(result.get("endedBy") or {}), None) if isinstance(result, dict) else None,
        "final_judgement": final_judgement,
        "judge_reward": judging.get("judgeReward") if judging else None,
        "num_continues": judging.get("numContinues") if judging else None,
        "offline_judges": offline_modes or meta.get("offlineJudges") or {},
        "negotiate_end": negotiate_end,
        "survey": room.data.get("feedback") or {},
        "creation_time_ms": setup.get("creationTime"),
        "latest_update_time_ms": meta.get("latestUpdateTime"),
    }
    return ParsedTranscript(
        item_external_id=item_ext,
        external_id=room.name,
        setting=_setting(meta),
        status="complete" if complete else "incomplete",
        tags=["nyu", "paper"] if meta.get("includedInPaper") else ["nyu"],
        meta=transcript_meta,
        turns=turns,
        judgments=judgments,
        created_at=ms_to_datetime(setup.get("creationTime")),
    )


def _speech_text(
    content: Any, tokens: list[str], story: _Story, own_tokens: bool, file: Path, field: str, detokenize
) -> tuple[str, list[dict]]:
    """Text from segments; quotes become `<quote>...</quote>` and verified spans with char offsets."""
    if not isinstance(content, list):
        raise ImportFailed(file, None, field, "must be a list of segments")
    parts: list[str] = []
    quotes: list[dict] = []
    for i, segment in enumerate(content):
        if isinstance(segment, dict) and "Text" in segment:
            parts.append(str((segment["Text"] or {}).get("text", "")))
        elif isinstance(segment, dict) and "Quote" in segment:
            span = (segment["Quote"] or {}).get("span")
            if not (isinstance(span, list) and len(span) == 2 and all(isinstance(x, int) for x in span)
                    and 0 <= span[0] <= span[1]):
                raise ImportFailed(file, None, f"{field}[{i}].Quote.span", "must be [start, end] token indices")
            start, end = span
            clipped = end > len(tokens)  # one room quotes past the story's last token
            text = detokenize(tokens[start:min(end, len(tokens))])
            fraction = start / max(len(tokens), 1)
            at = _locate(story.text, text, fraction) if own_tokens else -1
            quote: dict[str, Any] = {"span": [start, end]}
            if at >= 0:
                quote.update(text=text, source_start=at, source_end=at + len(text), verified=True)
            else:
                located = _locate_normalised(story, text, fraction)
                if located is None:
                    raise ImportFailed(file, None, f"{field}[{i}].Quote.span", "the quoted text is not found in the story")
                at, stop = located
                quote.update(text=story.text[at:stop], source_start=at, source_end=stop, verified=True,
                             room_tokens=True)
            if clipped:
                quote["clipped_to"] = len(tokens)
            # The same shape live turns store (oversight.protocols.quotes.Quote): start/end of the tagged span in the speech.
            tagged = f"<quote>{quote['text']}</quote>"
            quote["start"] = sum(len(p) for p in parts)
            quote["end"] = quote["start"] + len(tagged)
            quotes.append(quote)
            parts.append(tagged)
        else:
            raise ImportFailed(file, None, f"{field}[{i}]", "must be a Text or Quote segment")
    return "".join(parts), quotes


def _locate(story: str, text: str, fraction: float) -> int:
    """Character offset of `text` in `story`, the occurrence nearest the token position; -1 if absent."""
    if not text:
        return min(int(fraction * len(story)), len(story))
    expected = int(fraction * len(story))
    best = -1
    at = story.find(text)
    while at >= 0:
        if best < 0 or abs(at - expected) < abs(best - expected):
            best = at
        at = story.find(text, at + 1)
    return best


def _locate_normalised(story: _Story, text: str, fraction: float) -> tuple[int, int] | None:
    """[start, end) character offsets in the story of `text` compared after normalisation, spaces
    and repeated dots ignored (the tokenisations differ, e.g. "cannot" / "can not", "...." / "...")."""
    from oversight.text import normalise

    needle = _squash(normalise(text))
    normalised, index = story.normalised()
    if not needle:
        at = min(int(fraction * len(story.text)), len(story.text))
        return at, at
    k = _locate(normalised, needle, fraction)
    if k < 0:
        return None
    return index[k], index[k + len(needle) - 1] + 1
