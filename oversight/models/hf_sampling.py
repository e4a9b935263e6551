"""Next-token choice for a batch of rows, on the model's device, without waiting for it.

The static decode loop launches step k+1 before the host has read step k's tokens, so choosing tokens must not
synchronise with the GPU: no `.item()`, no `.tolist()`, no boolean indexing, no blocking host-to-device copies.

- Greedy rows (temperature 0) take the argmax.
- Sampled rows apply temperature and top-p, then draw with the exponential race (argmax of p / Exp(1) noise), which
  draws from p exactly as multinomial does but needs no host sync. A row with a seed draws its noise from its own
  generator, so its text depends on the seed alone, not on which requests shared its batch.
- Rows that have not reached `min_new_tokens` cannot choose an end-of-sequence token.
"""

from __future__ import annotations

import math
from collections.abc import Sequence


class Sampler:
    def __init__(self, device, vocab_size: int, eos_ids: set[int]):
        import torch

        self.device = device
        self.eos_cols = None
        if eos_ids:
            cols = torch.zeros(vocab_size, dtype=torch.bool)
            cols[[i for i in eos_ids if i < vocab_size]] = True
            self.eos_cols = cols.to(device)
        self._flags_key: tuple | None = None
        self._flags = None

    def to_device(self, values: list, dtype):
        """A small host list on the device without blocking (pinned memory, asynchronous copy)."""
        import torch

        host = torch.tensor(values, dtype=dtype, pin_memory=self.device.type == "cuda")
        return host.to(self.device, non_blocking=True)

    def _suppress_eos(self, rows: Sequence) -> object | None:
        import torch

        key = tuple(j is not None and j.issued < j.request.sampling.min_new_tokens for j in rows)
        if self.eos_cols is None or not any(key):
            return None
        if key != self._flags_key:  # steady batches reuse the same device tensor
            self._flags_key, self._flags = key, self.to_device(list(key), torch.bool)
        return self._flags

    def __call__(self, logits, rows: Sequence):
        """Token per row (a device tensor of shape (rows,)); `rows[i]` is the row's job, or None for a free slot.
        Counts one more issued token for every job."""
        import torch

        flags = self._suppress_eos(rows)
        if flags is not None:
            logits = torch.where(flags[:, None] & self.eos_cols[None, : logits.shape[1]], -math.inf, logits)
        tokens = logits.argmax(-1)
        for i, job in enumerate(rows):
            if job is None:
                continue
            job.issued += 1
            s = job.request.sampling
            if s.temperature <= 0:
                continue
            row = logits[i].float() / s.temperature
            order = None
            if s.top_p < 1.0:
                row, order = row.sort(descending=True)
                probs = row.softmax(-1)
                row = row.masked_fill(probs.cumsum(-1) - probs > s.top_p, -math.inf)
            probs = row.softmax(-1)
            noise = torch.empty_like(probs).exponential_(generator=job.generator)
            pick = (probs / noise).argmax(-1, keepdim=True)  # shape (1,): a 0-d index would sync via .item()
            tokens[i : i + 1] = order.gather(0, pick) if order is not None else pick
        return tokens
