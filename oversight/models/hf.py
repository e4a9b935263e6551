"""transformers causal LM in-process, one instance per model, requests from all threads batched together.

Why our own scheduler rather than transformers' `generate_batch` / ContinuousBatchingManager: that manager takes one
generation config for all requests (no per-request temperature, top_p or seed), has no stop strings or timeouts, and
on the lent H200 its CUDA-graph mode reached ~6x a compiled single stream at 32 requests (GPU-NOTES.md) where we need
10x. A small loop over the model's forward gives us all of that:

- A scheduler thread owns the model. Callers enqueue jobs and wait (or read a stream queue).
- New requests are prefilled in FIFO groups of at most `prefill_chunk_tokens` tokens, and each group's first tokens
  are streamed before the next group is read: in a burst, the first requests do not wait for the last.
- Dynamic path (default; CPU and GPU): rows live in a `DynamicCache`, left-padded with a 2-D attention mask and
  explicit position ids. New requests join the running batch at the next step, finished rows leave at once
  (continuous batching).
- Static path (`static_cache`, and `compile` on GPU; `hf_static.py`): rows sit in row slots of a preallocated
  `StaticCache` per batch bucket, so every decode step has the same shapes; with `compile` the step is
  `torch.compile(mode="reduce-overhead")` (CUDA graphs), each bucket compiled by `warm()` at start-up, never inside a
  request. Requests join and leave at any step there too, and token choice runs on the device so the next step is
  launched before the host has read the last one. Plain `generate` is launch-bound on the GPU box (a 0.5B model is no
  faster than 7B); graphs and pipelining remove that.
- Each request has its own sampling (greedy / temperature / top_p / seed, `hf_sampling.py`), stop strings, token
  limits and deadline; text is detokenised incrementally and streamed, holding back just enough characters that a
  stop string is never streamed and then retracted.
- Choice scoring sums the log-probabilities of each option's tokens after the prompt and normalises them.
"""

from __future__ import annotations

import logging

import inspect
import math
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from oversight.models.base import Backend, softmax
from oversight.models.config import HFConfig
from oversight.models.errors import ModelError, ModelNotFound, ModelTimeout
from oversight.models.types import Completion, Request, as_request

_DONE = object()  # end of a stream
GRACE_S = 10.0  # a caller waits this long past its deadline before giving up on a stuck scheduler


log = logging.getLogger(__name__)


@dataclass(eq=False)
class _Job:
    kind: str  # "gen" | "score" | "top"
    request: Request
    prompt_ids: list[int]
    deadline: float
    options: list[list[int]] = field(default_factory=list)  # score: token ids of each option
    k: int = 0  # top: how many next tokens
    stream: queue.Queue | None = None
    done: threading.Event = field(default_factory=threading.Event)
    result: object = None
    error: BaseException | None = None
    cancelled: bool = False
    t_submit: float = field(default_factory=time.perf_counter)
    # generation state
    gen_ids: list[int] = field(default_factory=list)
    text: str = ""
    emitted: int = 0
    prefix_off: int = 0
    read_off: int = 0
    finish: str = ""
    generator: object = None
    issued: int = 0  # tokens chosen on the device so far (the host may not have read the last one yet)
    started: bool = False  # counted in flight (stats)


class HFBackend(Backend):
    def __init__(self, config: HFConfig, *, model=None, tokenizer=None):
        """`model`/`tokenizer` may be given already built (benchmarks with random weights); else loaded from
        `config.model` on first use."""
        super().__init__(config)
        self.model = model
        self.tokenizer = tokenizer
        self.device = None
        self._cv = threading.Condition()
        self._pending: list[_Job] = []
        self._owned: set[_Job] = set()  # generation jobs taken by the scheduler and not yet ended
        self._thread: threading.Thread | None = None
        self._closing = False
        self._static_caches: dict[int, object] = {}
        self._ready_buckets: set[int] = set()
        self._compiled = None
        self._warm_lock = threading.Lock()

    # ---------------------------------------------------------------------------------------------------- loading
    def _load(self) -> None:
        import torch

        cfg = self.config
        if self.model is None:
            from transformers import AutoModelForCausalLM, AutoTokenizer

            if not cfg.model:
                raise ModelNotFound(f"Model {cfg.name!r} (hf) names no weights.", setting=cfg.setting("model"))
            local = Path(cfg.model).expanduser()
            if not local.exists() and cfg.model.startswith((".", "/", "~")):
                raise ModelNotFound(f"Model {cfg.name!r} (hf): no weights at {cfg.model}.", setting=cfg.setting("model"))
            src = str(local) if local.exists() else cfg.model
            try:
                self.tokenizer = AutoTokenizer.from_pretrained(
                    src, local_files_only=cfg.local_files_only, trust_remote_code=cfg.trust_remote_code
                )
                self.model = AutoModelForCausalLM.from_pretrained(
                    src,
                    dtype=self._dtype(torch),
                    local_files_only=cfg.local_files_only,
                    trust_remote_code=cfg.trust_remote_code,
                )
            except (OSError, ValueError) as e:
                hint = " (local_files_only is on: download it first, or set local_files_only = false)" if cfg.local_files_only else ""
                raise ModelNotFound(
                    f"Model {cfg.name!r} (hf): cannot load {cfg.model!r}{hint}: {e}", setting=cfg.setting("model")
                ) from e
        if self.tokenizer is None:
            raise ModelNotFound(f"Model {cfg.name!r} (hf) has no tokenizer.", setting=cfg.setting("model"))
        want = cfg.device if cfg.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
        self.device = torch.device(want)
        self.model.to(self.device)
        self.model.eval()
        if cfg.gqa_decode:
            from oversight.models.hf_attention import use_packed_gqa

            try:
                use_packed_gqa(self.model)
            except (ValueError, KeyError, AttributeError) as e:  # a model that refuses custom attention keeps its own
                log.warning("model %s: keeps its stock attention (%s)", cfg.name, e)
        params = inspect.signature(self.model.forward).parameters
        # transformers 5.2x renamed past_key_values -> cache; older 5.x static caches need cache_position.
        self._cache_kw = "cache" if "cache" in params else "past_key_values"
        self._pass_cache_position = "cache_position" in params
        gen = getattr(self.model, "generation_config", None)
        eos = getattr(gen, "eos_token_id", None) if gen is not None else None
        if eos is None:
            eos = self.tokenizer.eos_token_id
        self.eos_ids = set(eos if isinstance(eos, (list, tuple)) else ([eos] if eos is not None else []))
        pad = self.tokenizer.pad_token_id
        self.pad_id = pad if pad is not None else (min(self.eos_ids) if self.eos_ids else 0)
        from transformers import DynamicCache
        from transformers.cache_utils import DynamicLayer

        probe = DynamicCache(config=self.model.config)
        # Merging running batches edits the cache tensors directly; only plain full-attention layers allow it.
        self._can_merge = all(type(layer) is DynamicLayer for layer in getattr(probe, "layers", [])) and bool(
            getattr(probe, "layers", None)
        )
        from oversight.models.hf_sampling import Sampler
        from oversight.models.hf_static import SlotEngine

        vocab = self.model.get_output_embeddings().weight.shape[0]
        self.sampler = Sampler(self.device, max(vocab, len(self.tokenizer)), self.eos_ids)
        self._slots = SlotEngine(self)
        if (cfg.static_cache or cfg.compile) and not self._can_merge:
            log.warning("model %s: its cache layers (e.g. sliding windows) do not fit row slots; the static path and "
                        "compilation are off, requests take the dynamic path", cfg.name)
        elif cfg.static_cache and not cfg.compile:
            self._ready_buckets = {b for b in cfg.batch_buckets if b <= cfg.max_batch_size}
        self._thread = threading.Thread(target=self._loop, name=f"hf-scheduler-{cfg.name}", daemon=True)
        self._thread.start()

    @property
    def _static_len(self) -> int:
        return self.config.static_len or self.config.max_seq_len

    def _dtype(self, torch):
        if self.config.dtype != "auto":
            return getattr(torch, self.config.dtype)
        dev = self.config.device
        on_gpu = dev.startswith("cuda") or (dev == "auto" and torch.cuda.is_available())
        return torch.bfloat16 if on_gpu else torch.float32

    def warm(self) -> None:
        """Load; with `compile`, compile and capture every static batch bucket (tens of seconds per bucket on a
        GPU) so requests never wait for compilation."""
        self.load()
        cfg = self.config
        if not cfg.compile or not self._can_merge:
            return
        with self._warm_lock:
            import torch

            if self._compiled is None:
                for knob in ("cache_size_limit", "recompile_limit"):  # one compiled graph per batch bucket
                    if hasattr(torch._dynamo.config, knob):
                        setattr(torch._dynamo.config, knob, max(getattr(torch._dynamo.config, knob), 64))
                self._compiled = torch.compile(self._step_eager, mode="reduce-overhead", fullgraph=False, dynamic=False)
            for b in sorted(x for x in cfg.batch_buckets if x <= cfg.max_batch_size):
                if b in self._ready_buckets:
                    continue
                job = self._submit_warmup(b)
                job.done.wait()
                if job.error is not None:
                    raise job.error
                self._ready_buckets = self._ready_buckets | {b}  # a new set: the scheduler may be reading it

    def _submit_warmup(self, bucket: int) -> _Job:
        job = _Job("warm", Request(), [], math.inf, k=bucket)
        self.stats.enqueue()
        with self._cv:
            self._pending.append(job)
            self._cv.notify()
        return job

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=30)
        if self.config.compile and self._compiled is not None:
            # Compiled graphs and CUDA-graph trees outlive the model otherwise; on the H200 the next model's
            # warm-up then failed an assertion inside the CUDA-graph tree. Start the next model clean.
            import torch

            self._compiled = None
            torch.compiler.reset()

    # ------------------------------------------------------------------------------------------------ public API
    def render(self, request: Request) -> str:
        """The prompt text: the chat template (configured, else the tokenizer's, else a plain fallback)."""
        msgs = [{"role": m.role, "content": m.content} for m in request.chat()]
        tok = self.tokenizer
        template = self.config.chat_template or getattr(tok, "chat_template", None)
        if template:
            return tok.apply_chat_template(msgs, chat_template=template, add_generation_prompt=True, tokenize=False)
        return "".join(f"{m['role']}: {m['content']}\n" for m in msgs) + "assistant:"

    def encode_prompt(self, request: Request) -> list[int]:
        # A chat template writes its own special tokens; the plain fallback gets the tokenizer's (e.g. BOS).
        templated = bool(self.config.chat_template or getattr(self.tokenizer, "chat_template", None))
        return list(self.tokenizer(self.render(request), add_special_tokens=not templated)["input_ids"])

    def _new_job(self, kind: str, request: Request, **kw) -> _Job:
        self.load()
        ids = self.encode_prompt(request)
        timeout = request.timeout_s if request.timeout_s is not None else self.config.timeout_s
        if kind == "gen" and len(ids) + 1 > self.config.max_seq_len:
            raise ModelError(
                f"Prompt of {len(ids)} tokens does not fit max_seq_len={self.config.max_seq_len}.",
                setting=self.config.setting("max_seq_len"),
            )
        return _Job(kind, request, ids, time.perf_counter() + timeout, **kw)

    def _submit(self, jobs: Sequence[_Job]) -> None:
        if self._closing:
            raise ModelError(f"Model {self.name!r} has been closed.")
        self.stats.enqueue(len(jobs))
        with self._cv:
            self._pending.extend(jobs)
            self._cv.notify()

    def _wait(self, job: _Job):
        left = job.deadline - time.perf_counter() + GRACE_S
        if not job.done.wait(timeout=max(left, 0.0) if math.isfinite(left) else None):
            job.cancelled = True
            raise ModelTimeout(
                f"Model {self.name!r} did not answer within {job.deadline - job.t_submit:.1f}s.",
                setting=self.config.setting("timeout_s"),
            )
        if job.error is not None:
            raise job.error
        return job.result

    def complete(self, requests: Sequence[Request]) -> list[Completion]:
        jobs = [self._new_job("gen", r) for r in requests]
        self._submit(jobs)
        results, first_error = [], None
        for job in jobs:
            try:
                results.append(self._wait(job))
            except ModelError as e:
                first_error = first_error or e
        if first_error is not None:
            raise first_error
        return results

    def stream(self, request: Request) -> Iterator[str]:
        job = self._new_job("gen", request, stream=queue.Queue())
        self._submit([job])
        try:
            while True:
                left = job.deadline - time.perf_counter() + GRACE_S
                try:
                    item = job.stream.get(timeout=max(left, 0.01))
                except queue.Empty:
                    raise ModelTimeout(
                        f"Model {self.name!r} stopped streaming.", setting=self.config.setting("timeout_s")
                    ) from None
                if item is _DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            job.cancelled = True  # a consumer that stops reading frees the row at the next step

    def option_logprobs(self, prompt, options: Sequence[str]) -> list[float]:
        """Sum of log-probabilities of each option's tokens following the prompt."""
        request = as_request(prompt)
        if not options:
            raise ModelError("score_choices needs at least one option.")
        opt_ids = [self.tokenizer(o, add_special_tokens=False)["input_ids"] for o in options]
        if any(len(o) == 0 for o in opt_ids):
            raise ModelError("An answer option is empty.")
        job = self._new_job("score", request, options=opt_ids)
        self._submit([job])
        return self._wait(job)

    def score_choices(self, prompt, options: Sequence[str]) -> list[float]:
        return softmax(self.option_logprobs(prompt, options))

    def top_logprobs(self, prompt, k: int = 5) -> list[tuple[int, str, float]]:
        """The k likeliest next tokens after the prompt: (token id, text, log-probability)."""
        job = self._new_job("top", as_request(prompt), k=k)
        self._submit([job])
        return self._wait(job)

    def info(self) -> dict:
        info = super().info()
        info["device"] = str(self.device) if self.device is not None else self.config.device
        info["compiled_buckets"] = sorted(self._ready_buckets) if self.config.compile else []
        if self.model is not None:
            info["attention"] = getattr(self.model.config, "_attn_implementation", None) or ""
        if self.model is not None and self.loaded:
            import torch

            if self.device is not None and self.device.type == "cuda":
                info["memory_mb"] = round(torch.cuda.memory_allocated(self.device) / 2**20, 1)
            else:
                info["memory_mb"] = round(sum(p.numel() * p.element_size() for p in self.model.parameters()) / 2**20, 1)
        return info

    # ------------------------------------------------------------------------------------------------- scheduler
    def _take(self, limit: int, block: bool) -> list[_Job]:
        """Pop pending jobs (up to `limit` generation jobs; all scoring jobs). With `block`, wait for the first one
        and then for stragglers: requests sent together by many threads should start together."""
        wait_s = self.config.batch_wait_ms / 1000
        with self._cv:
            if block:
                while not self._pending and not self._closing:
                    self._cv.wait()
                if self._closing:
                    return []
                deadline = time.perf_counter() + 10 * wait_s
                while time.perf_counter() < deadline:
                    n = len(self._pending)
                    self._cv.wait(timeout=wait_s)
                    if len(self._pending) == n:
                        break
            out, keep, gens = [], [], 0
            for job in self._pending:
                if job.kind == "gen":
                    if gens < limit:
                        out.append(job)
                        gens += 1
                    else:
                        keep.append(job)
                else:
                    out.append(job)
            self._pending = keep
            self._owned.update(j for j in out if j.kind == "gen")
            return out

    def _loop(self) -> None:
        import torch

        if self.config.compile:
            _init_cudagraph_thread_state()
        while not self._closing:
            jobs = self._take(self.config.max_batch_size, block=True)
            if not jobs:
                continue
            try:
                # no_grad, not inference_mode: static caches made here are reused by compiled graphs later.
                with torch.no_grad():
                    self._run_side_jobs([j for j in jobs if j.kind != "gen"])
                    gens = [j for j in jobs if j.kind == "gen"]
                    if gens:
                        self._generate(gens)
            except Exception as e:  # a failed batch must not kill the scheduler
                log.exception("model %s: batch failed", self.name)
                err = e if isinstance(e, ModelError) else ModelError(f"Model {self.name!r} failed: {_describe(e)}")
                self.stats.error(str(err))
                # Every request the scheduler holds fails now, also those that joined the batch after it began:
                # their callers get the error at once instead of waiting for their timeout.
                for j in {*jobs, *self._owned}:
                    if not j.done.is_set():
                        if j.kind == "gen":
                            if not j.started:
                                self.stats.start()
                            self.stats.finish()
                        self._fail(j, err)
                self._owned.clear()

    def _run_side_jobs(self, jobs: list[_Job]) -> None:
        for job in jobs:
            self.stats.start()
            try:
                if job.kind == "warm":
                    self._warm_bucket(job.k)
                elif job.kind == "score":
                    job.result = self._score(job)
                elif job.kind == "top":
                    job.result = self._top(job)
            except Exception as e:
                log.exception("model %s: %s job failed", self.name, job.kind)
                job.error = e if isinstance(e, ModelError) else ModelError(f"Model {self.name!r} failed: {_describe(e)}")
                self.stats.error(str(job.error))
            finally:
                self.stats.finish()
                job.done.set()

    def _fail(self, job: _Job, err: BaseException) -> None:
        self._owned.discard(job)
        job.error = err
        if job.stream is not None:
            job.stream.put(err)
        job.done.set()

    # -------------------------------------------------------------------------------------------- model plumbing
    def _cache_position(self, start: int, n: int):
        """Older transformers 5.x static caches need explicit cache positions; newer ones track them. A tensor,
        never a Python int, so a compiled step is not re-specialised at every position."""
        import torch

        if not self._pass_cache_position:
            return None
        return torch.arange(start, start + n, device=self.device)

    def _forward(self, ids, mask, pos, cache, cache_position=None):
        kw = {self._cache_kw: cache}
        if cache_position is not None:
            kw["cache_position"] = cache_position
        out = self.model(input_ids=ids, attention_mask=mask, position_ids=pos, use_cache=True, logits_to_keep=1, **kw)
        return out.logits[:, -1, :].float()

    def _step_eager(self, ids, mask, pos, cache, cache_position=None):
        return self._forward(ids, mask, pos, cache, cache_position)

    def _left_pad(self, seqs: list[list[int]], width: int | None = None):
        import torch

        width = width or max(len(s) for s in seqs)
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, width - len(s):] = torch.tensor(s, dtype=torch.long)
            mask[i, width - len(s):] = 1
        pos = (mask.cumsum(1) - 1).clamp(min=0)
        return ids.to(self.device), mask.to(self.device), pos.to(self.device)

    def _score(self, job: _Job) -> list[float]:
        import torch

        seqs = [job.prompt_ids + o for o in job.options]
        width = max(len(s) for s in seqs)
        # Right padding here: no cache, and each option's tokens sit at known positions.
        ids = torch.full((len(seqs), width), self.pad_id, dtype=torch.long)
        mask = torch.zeros((len(seqs), width), dtype=torch.long)
        for i, s in enumerate(seqs):
            ids[i, : len(s)] = torch.tensor(s)
            mask[i, : len(s)] = 1
        ids, mask = ids.to(self.device), mask.to(self.device)
        logp = torch.log_softmax(self.model(input_ids=ids, attention_mask=mask).logits.float(), dim=-1)
        p = len(job.prompt_ids)
        out = []
        for i, o in enumerate(job.options):
            targets = torch.tensor(o, device=self.device)
            out.append(float(logp[i, p - 1 : p - 1 + len(o)].gather(1, targets[:, None]).sum()))
        return out

    def _top(self, job: _Job) -> list[tuple[int, str, float]]:
        import torch

        ids, mask, pos = self._left_pad([job.prompt_ids])
        logits = self.model(input_ids=ids, attention_mask=mask).logits[0, -1].float()
        vals, idx = torch.log_softmax(logits, -1).topk(job.k)
        return [(int(i), self.tokenizer.decode([int(i)]), float(v)) for v, i in zip(vals, idx)]

    # ---------------------------------------------------------------------------------------------- generation
    def _generate(self, jobs: list[_Job]) -> None:
        if self._ready_buckets:
            jobs = self._slots.run(jobs)  # returns the requests too long for the static cache
        if jobs:
            self._run_dynamic(jobs)

    def _max_new(self, job: _Job) -> int:
        return min(job.request.sampling.max_new_tokens, self.config.max_seq_len - len(job.prompt_ids))

    def _start_rows(self, jobs: list[_Job]) -> None:
        import torch

        self.stats.start(len(jobs))
        for j in jobs:
            j.started = True
            j.read_off = j.prefix_off = 0
            seed = j.request.sampling.seed
            if seed is not None and j.request.sampling.temperature > 0:
                j.generator = torch.Generator(device=self.device).manual_seed(seed)

    def _drop_expired(self, jobs: list[_Job]) -> list[_Job]:
        """Requests whose caller gave up or whose deadline passed while they waited are ended, not prefilled."""
        now, keep = time.perf_counter(), []
        for j in jobs:
            if j.cancelled or now > j.deadline:
                j.finish = "cancelled" if j.cancelled else "timeout"
                self.stats.start()
                self._finish(j)
            else:
                keep.append(j)
        return keep

    def _groups(self, jobs: list[_Job]) -> Iterator[list[_Job]]:
        """FIFO prefill groups of at most `prefill_chunk_tokens` padded tokens (a longer prompt goes alone), so the
        first requests of a burst get their first token while later ones are still being read."""
        if not self._can_merge:  # rows of separate prefills cannot be merged: one group
            yield jobs
            return
        group: list[_Job] = []
        for job in jobs:
            if group and not self._one_chunk(group + [job]):
                yield group
                group = []
            group.append(job)
        if group:
            yield group

    def _one_chunk(self, group: list[_Job]) -> bool:
        """Whether these prompts, left-padded together, stay within one prefill chunk (one prompt always does)."""
        return len(group) == 1 or max(len(j.prompt_ids) for j in group) * len(group) <= self.config.prefill_chunk_tokens

    def _prefill(self, group: list[_Job]):
        """One eager forward over the group's prompts (left-padded): (DynamicCache, mask, last logits)."""
        from transformers import DynamicCache

        ids, mask, pos = self._left_pad([j.prompt_ids for j in group])
        cache = DynamicCache(config=self.model.config)
        logits = self._forward(ids, mask, pos, cache, self._cache_position(0, ids.shape[1]))
        return cache, mask, logits

    def _choose(self, rows: list[_Job], logits) -> tuple[list[int], list[int]]:
        """Choose, record and stream one token per row now: (the tokens, the indices of the rows still going)."""
        tokens = self.sampler(logits, rows).tolist()
        self.stats.tokens(len(rows))
        keep = []
        for i, (job, tok) in enumerate(zip(rows, tokens)):
            if self._advance(job, tok):
                self._finish(job)
            else:
                keep.append(i)
        return tokens, keep

    def _advance(self, job: _Job, token: int) -> bool:
        """Record one token; stream text; return True when the row is finished."""
        s = job.request.sampling
        if job.cancelled:
            job.finish = "cancelled"
            return True
        if time.perf_counter() > job.deadline:
            job.finish = "timeout"
            return True
        if token in self.eos_ids and len(job.gen_ids) >= s.min_new_tokens:
            job.finish = "stop"
            return True
        job.gen_ids.append(token)
        self._detok(job, final=False)
        for stop in s.stop:
            if stop and stop in job.text[max(0, job.emitted - len(stop)):]:
                job.text = job.text[: job.text.index(stop)]
                job.finish = "stop"
                return True
        if len(job.gen_ids) >= self._max_new(job):
            job.finish = "length"
            return True
        hold = max((len(x) for x in s.stop), default=1) - 1
        upto = len(job.text) - hold
        if job.stream is not None and upto > job.emitted:
            job.stream.put(job.text[job.emitted:upto])
            job.emitted = upto
        return False

    def _detok(self, job: _Job, final: bool) -> None:
        # Decode a sliding window (vLLM-style): O(1) per step, and no partial UTF-8 characters.
        dec = self.tokenizer.decode
        prefix = dec(job.gen_ids[job.prefix_off : job.read_off], skip_special_tokens=True)
        full = dec(job.gen_ids[job.prefix_off :], skip_special_tokens=True)
        if len(full) > len(prefix) and (final or not full.endswith("\ufffd")):
            job.text += full[len(prefix):]
            job.prefix_off, job.read_off = job.read_off, len(job.gen_ids)

    def _finish(self, job: _Job) -> None:
        self._owned.discard(job)
        self.stats.finish()
        if job.finish == "timeout":
            self._fail(job, ModelTimeout(
                f"Model {self.name!r} ran past the {job.deadline - job.t_submit:.1f}s timeout.",
                setting=self.config.setting("timeout_s"),
            ))
            self.stats.error("timeout")
            return
        if job.finish == "cancelled":
            self._fail(job, ModelError("cancelled"))
            return
        if job.finish == "length":
            self._detok(job, final=True)
        if job.stream is not None:
            if len(job.text) > job.emitted:
                job.stream.put(job.text[job.emitted:])
            job.stream.put(_DONE)
        job.result = Completion(
            text=job.text,
            tokens=len(job.gen_ids),
            latency_s=time.perf_counter() - job.t_submit,
            finish_reason="length" if job.finish == "length" else "stop",
            prompt_tokens=len(job.prompt_ids),
            model=self.name,
        )
        job.done.set()

    # ------------------------------------------------------------------------------------------- dynamic path
    def _admit_dynamic(self, batch: _DynBatch | None, jobs: list[_Job]) -> _DynBatch | None:
        """Prefill new requests group by group (each group's first tokens stream at once) and join the batch."""
        for group in self._groups(self._drop_expired(jobs)):
            self._start_rows(group)
            cache, mask, logits = self._prefill(group)
            tokens, keep = self._choose(group, logits)
            if keep:
                fresh = _DynBatch(list(group), cache, mask, mask.sum(1), tokens)
                fresh.select(keep)
                batch = fresh if batch is None or not batch.rows else batch.merge(fresh)
        return batch

    def _run_dynamic(self, jobs: list[_Job]) -> None:
        import torch

        batch = self._admit_dynamic(None, jobs)
        while batch is not None and batch.rows:
            self.stats.batch(len(batch.rows))
            ids = torch.tensor(batch.tokens, device=self.device)[:, None]
            batch.mask = torch.cat([batch.mask, torch.ones_like(batch.mask[:, :1])], 1)
            logits = self._forward(ids, batch.mask, batch.pos[:, None], batch.cache,
                                   self._cache_position(batch.mask.shape[1] - 1, 1))
            batch.pos = batch.pos + 1
            batch.tokens, keep = self._choose(batch.rows, logits)
            batch.select(keep)
            # Continuous batching: requests that arrived meanwhile join at this step.
            if self._can_merge and len(batch.rows) < self.config.max_batch_size and self._has_pending():
                new = self._take(self.config.max_batch_size - len(batch.rows), block=False)
                self._run_side_jobs([j for j in new if j.kind != "gen"])
                batch = self._admit_dynamic(batch, [j for j in new if j.kind == "gen"])

    def _has_pending(self) -> bool:
        with self._cv:
            return bool(self._pending)

    # ------------------------------------------------------------------------------------------------ static path
    def _static_cache(self, bucket: int):
        cache = self._static_caches.get(bucket)
        if cache is None:
            from transformers import StaticCache

            cfg = self.model.config.get_text_config(decoder=True)
            cache = StaticCache(config=self.model.config, max_cache_len=self._static_len)
            heads = cfg.num_key_value_heads or cfg.num_attention_heads
            head_dim = getattr(cfg, "head_dim", None) or cfg.hidden_size // cfg.num_attention_heads
            cache.early_initialization(bucket, heads, head_dim, self.model.dtype, self.device)
            self._static_caches[bucket] = cache
        return cache

    def _warm_bucket(self, bucket: int) -> None:
        """Compile and capture the decode step for `bucket` rows (through the same code requests use)."""
        from oversight.models.hf_static import SlotEngine

        SlotEngine(self).warm(bucket)  # its own engine: the serving one may be mid-batch in another bucket
        self.stats.requests -= 1  # warm-up is not traffic


@dataclass(eq=False)
class _DynBatch:
    """Rows decoding together in a DynamicCache, left-padded; `tokens` are the inputs of their next step."""

    rows: list[_Job]
    cache: object
    mask: object
    pos: object
    tokens: list[int]

    def select(self, keep: list[int]) -> None:
        """Keep rows `keep` (indices into the current rows) and drop columns that are padding for all of them."""
        import torch

        if len(keep) < len(self.rows):
            self.rows = [self.rows[i] for i in keep]
            self.tokens = [self.tokens[i] for i in keep]
            if not keep:
                return
            idx = torch.tensor(keep, device=self.mask.device, dtype=torch.long)
            for layer in self.cache.layers:
                layer.batch_select_indices(idx)
            self.mask, self.pos = self.mask[idx], self.pos[idx]
        first = int(self.mask.any(0).nonzero()[0])
        if first > 0:
            self.mask = self.mask[:, first:]
            for layer in self.cache.layers:
                layer.keys, layer.values = layer.keys[:, :, first:], layer.values[:, :, first:]

    def merge(self, other: _DynBatch) -> _DynBatch:
        """Concatenate along the batch, left-padding the narrower one's columns."""
        import torch
        import torch.nn.functional as F

        sa, sb = self.mask.shape[1], other.mask.shape[1]
        width = max(sa, sb)
        for la, lb in zip(self.cache.layers, other.cache.layers):
            for attr in ("keys", "values"):
                x = F.pad(getattr(la, attr), (0, 0, width - sa, 0))
                y = F.pad(getattr(lb, attr), (0, 0, width - sb, 0))
                setattr(la, attr, torch.cat([x, y], 0))
        self.mask = torch.cat([F.pad(self.mask, (width - sa, 0)), F.pad(other.mask, (width - sb, 0))], 0)
        self.pos = torch.cat([self.pos, other.pos])
        self.rows += other.rows
        self.tokens += other.tokens
        return self


def _init_cudagraph_thread_state() -> None:
    """Let this thread run compiled CUDA-graph steps. torch before 2.12 keeps the CUDA-graph trees' state in the
    thread-local storage of the thread that first imported inductor and fails an assertion in any other thread; each
    model's scheduler is its own thread, so on the H200 (torch 2.11) every compiled model after the first failed."""
    import torch

    try:
        from torch._inductor import cudagraph_trees as trees
    except ImportError:
        return
    key = "tree_manager_containers"
    if hasattr(trees.local, key) or torch._C._is_key_in_tls(key):
        return
    if hasattr(trees, "_initialize_tls"):
        trees._initialize_tls(trees.local)
        return
    from collections import defaultdict

    trees.local.tree_manager_containers = {}
    trees.local.tree_manager_locks = defaultdict(threading.Lock)
    torch._C._stash_obj_in_tls("tree_manager_containers", trees.local.tree_manager_containers)
    torch._C._stash_obj_in_tls("tree_manager_locks", trees.local.tree_manager_locks)


def _describe(exc: BaseException) -> str:
    """An exception as a person can act on it: some (AssertionError, CUDA errors) have an empty message."""
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
