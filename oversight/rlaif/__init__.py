"""RLAIF lab: AI feedback on preference pairs, its agreement with people and data set labels, its biases,
reward models trained on it, and policies improved with it (best-of-N, DPO, critique-revision).

Modules: `pairs` (HH-RLHF pairs), `config` (labeller versions), `labeller` (both-order labelling, biases),
`agreement` (percent agreement, kappa, Krippendorff's alpha), `store` (the database side), `reward_model`
(Bradley-Terry), `best_of_n`, `dpo`, `critique`, `policy` (improvement jobs and their evaluation), `lab`
(what the CLI and page run). Importing this package loads nothing heavy.
"""
