"""The `hf` backend's fast decode path: rows in a preallocated cache, requests joining and leaving at any step.

One `StaticCache` per batch bucket (1, 2, 4, ... rows) and `L` columns, so every decode step has the same shapes and
can be one compiled CUDA graph per bucket (compiled by `warm()`, never inside a request).

Layout. All rows write their next token's keys and values at one shared column `t` (the static cache writes one
column per step for the whole batch). A row's prompt therefore ends at the column where it joined: a request that
arrives while others decode is prefilled on its own (an ordinary eager forward, FIFO groups of at most
`prefill_chunk_tokens`), its first token is streamed at once, and its keys and values are copied into a free row
slot at columns [t - P, t). Its own mask row hides everything else; positions are per row, so where the columns sit
does not matter. When a prompt is longer than t, every row shifts right; when the columns run out, every row shifts
left past the columns no live row uses. A request that cannot fit waits (FIFO) for rows to finish; one that can never
fit (prompt + output > L) goes to the dynamic path. The batch moves to a larger bucket when requests join, and to a
smaller one when rows finish and nobody waits.

Pipelining. Token choice runs on the device (hf_sampling), and step k+1 is launched before the host reads step k's
tokens, so detokenising, stop strings and streaming overlap the GPU's work instead of leaving it idle. A row that
finished at step k is noticed one step late; that step's token for it is discarded.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass


@dataclass
class _Inflight:
    """A launched step whose tokens the host has not read yet."""

    host: object  # tokens, on the host once `event` has completed
    event: object  # torch.cuda.Event, or None on the CPU
    rows: list  # the slots' jobs when the step was launched


class SlotEngine:
    def __init__(self, backend):
        self.hf = backend
        self.L = backend._static_len
        self.bucket = 0
        self.cache = None
        self.slots: list = []
        self.start: list[int] = []  # first cache column of each slot's row
        self.end: list[int] = []  # columns reserved for it, exclusive
        self.t = 0  # the column the next step writes
        self.mask = self.pos = self.ids = None

    # ------------------------------------------------------------------------------------------------- main loop
    def run(self, jobs: list) -> list:
        """Serve `jobs` and every generation request that arrives meanwhile, until no row is left. Returns the
        requests that can never fit the static cache (for the dynamic path)."""
        hf = self.hf
        self._reset()
        queue, too_long = [], []
        for j in jobs:
            (queue if self._fits_alone(j) else too_long).append(j)
        inflight = None
        while True:
            if not too_long and hf._has_pending():
                new = hf._take(sys.maxsize, block=False)  # all of them: this loop keeps its own FIFO queue
                hf._run_side_jobs([j for j in new if j.kind != "gen"])
                for j in new:
                    if j.kind == "gen":
                        (queue if self._fits_alone(j) and not too_long else too_long).append(j)
            if queue and self._group(queue):
                inflight = self._drain(inflight)
                self._admit(queue)
            if not self._live():
                inflight = self._drain(inflight)
                if not self._live():
                    if queue and self._group(queue):
                        continue
                    return too_long + queue
            if self.t >= self.L:  # reservations make this unreachable; never write past the cache
                inflight = self._drain(inflight)
                self._compact_left()
                continue
            launched = self._launch()
            if inflight is not None:
                self._collect(inflight)
            inflight = launched
            if not queue and not hf._has_pending():
                inflight = self._maybe_shrink(inflight)

    def _reset(self) -> None:
        self.slots, self.start, self.end, self.bucket, self.cache = [], [], [], 0, None

    def _fits_alone(self, job) -> bool:
        return len(job.prompt_ids) + self.hf._max_new(job) + 1 <= self.L

    def _live(self) -> list[int]:
        return [i for i, j in enumerate(self.slots) if j is not None]

    # ------------------------------------------------------------------------------------------------- admission
    def _plan(self, group: list):
        """How to make room for `group`: (columns to shift left first, the column its prompts end at), or None."""
        P = max(len(j.prompt_ids) for j in group)
        L = self.L

        def room(tp: int) -> bool:
            return all(tp + self.hf._max_new(j) + 1 <= L for j in group)

        live = self._live()
        if not live:
            return (0, P) if room(P) else None
        for s in sorted({0, min(self.start[i] for i in live)}):
            t = self.t - s
            tp = max(t, P)
            if max(self.end[i] for i in live) - s + (tp - t) <= L and room(tp):
                return s, tp
        return None

    def _group(self, queue: list) -> list:
        """The next FIFO group to admit: free rows, room in the columns, padded tokens within the prefill chunk."""
        hf = self.hf
        free = max(hf._ready_buckets) - len(self._live())
        group: list = []
        for job in queue:
            cand = group + [job]
            if len(cand) > free or not hf._one_chunk(cand) or self._plan(cand) is None:
                break
            group = cand
        return group

    def _admit(self, queue: list) -> None:
        """Prefill waiting requests group by group (first tokens stream as each group is read) and seat them."""
        hf = self.hf
        while queue:
            queue[:] = hf._drop_expired(queue)
            group = self._group(queue)
            if not group:
                return
            del queue[: len(group)]
            shift_left, tp = self._plan(group)
            hf._start_rows(group)
            cache, mask, logits = hf._prefill(group)
            tokens, keep = hf._choose(group, logits)
            if not keep:
                continue
            live = self._live()
            need = len(live) + len(keep)
            if need > self.bucket:
                self._use_bucket(min(b for b in hf._ready_buckets if b >= need))
            if not self._live():
                self.mask.zero_()
                self._set_t(tp)
            else:
                if shift_left:
                    self._shift(-shift_left)
                if tp > self.t:
                    self._shift(tp - self.t)
            self._seat(group, cache, mask, tokens, keep)

    def _seat(self, group, cache, mask, tokens: list[int], keep: list[int]) -> None:
        """Copy the kept rows' prompt keys and values into free slots, ending at column t."""
        t, W = self.t, mask.shape[1]
        free = [i for i, j in enumerate(self.slots) if j is None]
        for row, slot in zip(keep, free):
            job, token = group[row], tokens[row]
            P = len(job.prompt_ids)
            for dst, src in zip(self.cache.layers, cache.layers):
                dst.keys[slot, :, t - P : t] = src.keys[row, :, W - P :]
                dst.values[slot, :, t - P : t] = src.values[row, :, W - P :]
            self.mask[slot] = 0
            self.mask[slot, t - P : t] = 1
            self.pos[slot] = P
            self.ids[slot] = token
            self.slots[slot], self.start[slot], self.end[slot] = job, t - P, t + self.hf._max_new(job) + 1

    # ------------------------------------------------------------------------------------------------ decoding
    def _launch(self) -> _Inflight:
        import torch

        hf = self.hf
        self.mask[:, self.t] = 1
        step = hf._compiled if (hf.config.compile and hf._compiled is not None) else hf._step_eager
        if step is not hf._step_eager and hf.device.type == "cuda":
            torch.compiler.cudagraph_mark_step_begin()
        logits = step(self.ids[:, None], self.mask, self.pos[:, None], self.cache, hf._cache_position(self.t, 1))
        self.t += 1
        self.pos += 1
        rows = list(self.slots)
        tokens = hf.sampler(logits, rows)
        self.ids.copy_(tokens)
        hf.stats.batch(sum(j is not None for j in rows))
        if hf.device.type == "cuda":
            host = torch.empty(tokens.shape, dtype=tokens.dtype, pin_memory=True)
            host.copy_(tokens, non_blocking=True)
            event = torch.cuda.Event()
            event.record()
            return _Inflight(host, event, rows)
        return _Inflight(tokens, None, rows)

    def _collect(self, done: _Inflight) -> None:
        """Read a launched step's tokens: record, stream, finish rows (freeing their slots)."""
        hf = self.hf
        if done.event is not None:
            done.event.synchronize()
        tokens = done.host.tolist()
        n = 0
        for slot, job in enumerate(done.rows):
            if job is None or job.finish:  # a free slot, or a row that finished a step earlier
                continue
            n += 1
            if hf._advance(job, tokens[slot]):
                hf._finish(job)
                if self.slots[slot] is job:
                    self.slots[slot] = None
        hf.stats.tokens(n)

    def _drain(self, inflight: _Inflight | None) -> None:
        if inflight is not None:
            self._collect(inflight)
        return None

    # ------------------------------------------------------------------------------------------ cache plumbing
    def _use_bucket(self, bucket: int) -> None:
        """Move the live rows into the cache of `bucket` rows (grow when requests join, shrink when they leave)."""
        import torch

        hf = self.hf
        live = self._live()
        cache = hf._static_cache(bucket)
        dev = hf.device
        mask = torch.zeros((bucket, self.L), dtype=torch.long, device=dev)
        pos = torch.zeros(bucket, dtype=torch.long, device=dev)
        ids = torch.full((bucket,), hf.pad_id, dtype=torch.long, device=dev)
        if live and self.cache is not None:
            idx = torch.tensor(live, device=dev)
            k = len(live)
            for dst, src in zip(cache.layers, self.cache.layers):
                dst.keys[:k] = src.keys.index_select(0, idx)
                dst.values[:k] = src.values.index_select(0, idx)
            mask[:k], pos[:k], ids[:k] = self.mask[idx], self.pos[idx], self.ids[idx]
        pad = bucket - len(live)
        self.slots = [self.slots[i] for i in live] + [None] * pad
        self.start = [self.start[i] for i in live] + [0] * pad
        self.end = [self.end[i] for i in live] + [0] * pad
        self.bucket, self.cache, self.mask, self.pos, self.ids = bucket, cache, mask, pos, ids
        self._set_t(self.t)

    def _maybe_shrink(self, inflight: _Inflight | None) -> _Inflight | None:
        n = len(self._live())
        smaller = [b for b in self.hf._ready_buckets if n <= b < self.bucket]
        if not n or not smaller:
            return inflight
        self._drain(inflight)
        if self._live():
            self._use_bucket(min(b for b in self.hf._ready_buckets if b >= len(self._live())))
        return None

    def _set_t(self, t: int) -> None:
        """The shared write column; the static cache layers keep their own copy of it (transformers >= 5.1x)."""
        self.t = t
        for layer in self.cache.layers:
            cl = getattr(layer, "cumulative_length", None)
            if cl is not None and hasattr(cl, "fill_"):
                cl.fill_(t)

    def _shift(self, d: int) -> None:
        """Move every row's columns by d (right when positive)."""
        if d == 0:
            return
        L = self.L
        for layer in self.cache.layers:
            for x in (layer.keys, layer.values):
                if d > 0:
                    x[:, :, d:] = x[:, :, : L - d].clone()
                else:
                    x[:, :, : L + d] = x[:, :, -d:].clone()
        if d > 0:
            self.mask[:, d:] = self.mask[:, : L - d].clone()
            self.mask[:, :d] = 0
        else:
            self.mask[:, : L + d] = self.mask[:, -d:].clone()
            self.mask[:, L + d :] = 0
        self.start = [s + d for s in self.start]
        self.end = [e + d for e in self.end]
        self._set_t(self.t + d)

    def _compact_left(self) -> None:
        live = self._live()
        if live:
            self._shift(-min(self.start[i] for i in live))
        if self.t >= self.L:  # cannot happen with honest reservations; end the rows rather than overflow
            for i in self._live():
                job = self.slots[i]
                job.finish = "length"
                self.hf._finish(job)
                self.slots[i] = None

    # ------------------------------------------------------------------------------------------------- warm-up
    def warm(self, bucket: int) -> None:
        """Compile and capture the decode step for `bucket` rows, exactly as requests will call it."""
        self._reset()
        self._use_bucket(bucket)
        self._set_t(0)
        for _ in range(3):  # cudagraph trees: warm-up run, recording, first replay
            self._collect(self._launch())
        self._reset()
