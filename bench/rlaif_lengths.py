"""How many HH-RLHF pairs the reward model and DPO truncate, filter or drop, before and after issue 19's fix.

Tokenizer: a byte-level BPE (8,000 tokens) trained here on the pairs themselves, as bench/rlaif_dpo_gpu.py does
(no tokenizer is downloaded; a general tokenizer such as GPT-2's or Qwen's gives somewhat more tokens per text,
so the counts here are a lower bound on how often the limits bite).

Reward model (plain text, `max_length`): TRL 1.16's RewardTrainer appends eos and *drops* a pair when either
text is longer; the old scorer right-truncated without eos, so two responses to a long conversation could be
scored from identical ids. Now every pair is kept and left-truncated (`reward_model.reward_inputs`).

DPO (chat template, `max_length`): the old rows kept the whole prompt and TRL's collator cut the end of the
completion (keep_start); TRL dropped a row only when its prompt alone filled max_length. Now `dpo.fit_prompts`
drops the earliest turns, or the pair.

    python bench/rlaif_lengths.py [--data FILE] [--rm-max-length 512] [--dpo-max-length 1024]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=None)
    ap.add_argument("--rm-max-length", type=int, default=512)
    ap.add_argument("--dpo-max-length", type=int, nargs="+", default=[1024, 512])
    args = ap.parse_args()

    from bench.rlaif_dpo_gpu import random_model
    from transformers import AutoTokenizer
    from trl.data_utils import _tokenize

    from oversight.rlaif.dpo import dpo_rows, fit_prompts, sequence_length
    from oversight.rlaif.pairs import read_pairs
    from oversight.rlaif.reward_model import HFRewardModel, reward_inputs
    from oversight.settings import get_settings

    data = args.data or get_settings().datasets_dir / "hh_rlhf_harmless" / "harmless_base_test_shared.jsonl"
    pairs = read_pairs(data, skip_invalid=True).pairs
    path = random_model("tiny", [p.conversation + " " + " ".join(p.responses) for p in pairs],
                        Path(tempfile.mkdtemp()) / "tok", cpu=True)
    tok = AutoTokenizer.from_pretrained(path)
    out: dict = {"data": str(data), "pairs": len(pairs), "tokenizer": "byte-level BPE, 8000, trained on the pairs"}

    m = args.rm_max_length
    trl_filtered = identical_old = truncated_now = identical_now = 0
    for p in pairs:
        texts = [HFRewardModel.text(p.conversation, r) for r in p.responses]
        full = [len(_tokenize(tok, t + tok.eos_token)["input_ids"]) for t in texts]
        trl_filtered += max(full) > m
        old = [tok(t, truncation=True, max_length=m)["input_ids"] for t in texts]
        identical_old += old[0] == old[1]
        new = [reward_inputs(tok, p.conversation, r, m) for r in p.responses]
        truncated_now += new[0][1] or new[1][1]
        identical_now += new[0][0] == new[1][0]
    out["reward_model"] = {"max_length": m, "old_dropped_by_trl_filter": trl_filtered,
                           "old_scored_from_identical_inputs": identical_old,
                           "now_left_truncated_and_kept": truncated_now, "now_identical_inputs": identical_now}

    targets = {p.key: float(p.preferred == 0) for p in pairs}
    for dm in args.dpo_max_length:
        rows = dpo_rows(pairs, targets, chat=True)
        old_cut = old_dropped = 0
        for row in rows:
            prompt_len = len(_tokenize(tok, row["prompt"], add_generation_prompt=True)["input_ids"])
            if prompt_len >= dm:
                old_dropped += 1
            elif max(sequence_length(tok, row["prompt"], row["chosen"]),
                     sequence_length(tok, row["prompt"], row["rejected"])) > dm:
                old_cut += 1
        kept, counts = fit_prompts(rows, tok, dm)
        out[f"dpo_max_length_{dm}"] = {"rows": len(rows), "old_completion_cut": old_cut,
                                       "old_dropped_by_trl": old_dropped, "now_kept": len(kept), **counts}
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
