"""Sandwiching (Bowman et al. 2022; Cotra 2021): non-experts with a model against the model alone and experts, and
the two loops that improve the oversight strategy.

Owns the design (`conditions`, `dealing`: which condition and items each person gets, `allocation`: Thompson
sampling over strategy versions), expert review (`rubrics`, `reviews`, `agreement`), the analysis (`analysis`:
accuracy per condition, paired comparison, gap closed; `figures`: its plotly charts), the loops (`inner_loop`:
non-experts' proposals, `outer_loop`: experts' evaluations decide versions) and `simulate` (simulated people for
dry runs).
Imports: core, `protocols`, `results`, and from `study` the study's settings, places, eligibility and the
participant path (simulated people take the same path as real ones).
"""
