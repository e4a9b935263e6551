"""The RLAIF lab's error for people: a bad labeller, label source or data selection (shown as-is)."""


class RlaifError(ValueError):
    pass
