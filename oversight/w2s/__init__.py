"""Weak-to-strong generalisation lab (Burns et al. 2023): a strong student trained on a weak supervisor's labels,
the supervisor being a model or the non-expert participants of a study; PGR against ground truth.

Modules: `config` (the experiment record), `data` (items as examples), `losses`, `students` (classifiers),
`train` (the loop), `pgr` (figures and bootstrap), `runner` (three trainings per seed, stored as a run),
`experiments` (versioned records), `simulated_people` (planted participants for dry runs and tests).
"""
