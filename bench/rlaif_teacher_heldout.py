"""The extractive labeller's own agreement with the data set on the reward models' seeded train and held-out pairs
(the split `rlaif reward-model` uses by default), to set "RM trained on AI labels" beside its teacher.

    python bench/rlaif_teacher_heldout.py [PATH]
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from oversight.rlaif.lab import resolve_spec  # noqa: E402
from oversight.rlaif.labeller import bias_summary, label_pairs, make_labeller  # noqa: E402
from oversight.rlaif.pairs import read_pairs  # noqa: E402
from oversight.rlaif.reward_model import RewardConfig, split_pairs  # noqa: E402
from oversight.settings import get_settings  # noqa: E402

path = sys.argv[1] if len(sys.argv) > 1 else get_settings().datasets_dir / "hh_rlhf_harmless" / "harmless_base_test_shared.jsonl"
pairs = read_pairs(path, skip_invalid=True).pairs
train, test = split_pairs(pairs, RewardConfig().test_fraction, RewardConfig().seed)
labeller = make_labeller(resolve_spec())
print(json.dumps({name: bias_summary(part, label_pairs(labeller, part))["agreement"]
                  for name, part in (("train", train), ("held_out", test))}, indent=2))
