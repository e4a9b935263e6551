"""One error family for every backend. Messages name the setting to change, so pages can show them as they are."""

from __future__ import annotations


class ModelError(RuntimeError):
    """A model could not serve a request. `setting` names the configuration key that fixes it, when there is one."""

    def __init__(self, message: str, *, setting: str | None = None, detail: str | None = None):
        super().__init__(message)
        self.setting = setting
        # For staff and logs only (e.g. the server's address): participants see the message, never this.
        self.detail = detail


class ModelConfigError(ModelError):
    """The model configuration is wrong (unknown backend, bad value, unknown role or model name)."""


class ModelNotFound(ModelError):
    """Weights are missing, or the server is unreachable."""


class ModelTimeout(ModelError):
    """A request ran past its timeout. The model stays usable."""
