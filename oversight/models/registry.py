"""Named models: one shared instance per configured model per process, created lazily and thread-safely."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from oversight.models.base import Backend
from oversight.models.config import ModelConfig, ModelsConfig, load_config
from oversight.models.errors import ModelConfigError

log = logging.getLogger(__name__)
_lock = threading.Lock()
_config: ModelsConfig | None = None
_instances: dict[str, Backend] = {}


def create_backend(config: ModelConfig) -> Backend:
    """A new backend for `config` (nothing is loaded until first use or `warm()`)."""
    # Imports are local so that importing oversight.models never pulls torch, openai or sentence-transformers.
    if config.backend == "hf":
        from oversight.models.hf import HFBackend

        return HFBackend(config)
    if config.backend == "openai":
        from oversight.models.openai_backend import OpenAIBackend

        return OpenAIBackend(config)
    if config.backend == "extractive":
        from oversight.models.extractive import ExtractiveBackend

        return ExtractiveBackend(config)
    if config.backend == "scripted":
        from oversight.models.scripted import ScriptedBackend

        return ScriptedBackend(config)
    raise ModelConfigError(f"Unknown backend {config.backend!r}.", setting=config.setting("backend"))


def get_config() -> ModelsConfig:
    global _config
    with _lock:
        if _config is None:
            _config = load_config()
        return _config


def configure(config: ModelsConfig | None) -> None:
    """Install a configuration (tests, CLI); None re-reads settings on next use. Closes existing instances."""
    global _config
    with _lock:
        old = list(_instances.values())
        _instances.clear()
        _config = config
    for backend in old:
        backend.close()


@contextmanager
def fresh_registry() -> Iterator[None]:
    """Within the block, the models as a new process would find them (configuration read from the settings on first
    use, no instance made yet); after it, the block's instances are closed and the earlier state is back. For a
    command run inside another process (the CLI tests)."""
    global _config
    with _lock:
        saved = _config, dict(_instances)
        _config = None
        _instances.clear()
    try:
        yield
    finally:
        with _lock:
            made = list(_instances.values())
            _instances.clear()
            _config = saved[0]
            _instances.update(saved[1])
        for backend in made:
            backend.close()


def get_model(name: str) -> Backend:
    """The shared instance of the model called `name`."""
    cfg = get_config()
    with _lock:
        backend = _instances.get(name)
        if backend is None:
            if name not in cfg.models:
                raise ModelConfigError(
                    f"No model named {name!r} is configured (have: {', '.join(sorted(cfg.models))}).",
                    setting=f"[models.{name}] in the models file (OVERSIGHT_MODELS_FILE)",
                )
            backend = _instances[name] = create_backend(cfg.models[name])
    return backend


def model_for_role(role: str) -> Backend:
    """The model that plays `role` (debater, consultant, assistant, judge, feedback)."""
    return get_model(get_config().for_role(role).name)


def limit_cpu_threads(threads: int) -> None:
    """Cap torch's intra-op CPU threads for this process (0: leave torch's default). Global in torch: every
    thread's later calls use it."""
    if threads > 0:
        import torch

        torch.set_num_threads(threads)


def warm_configured() -> None:
    """Load every model whose configuration asks for warm-up (call once at process start)."""
    for name, cfg in get_config().models.items():
        if cfg.warmup:
            backend = get_model(name)
            try:
                backend.warm()
            except Exception as exc:  # noqa: BLE001 - one model failing to warm must not stop the others
                log.exception("warm-up of model %s failed", name)
                backend.stats.error(f"warm-up failed: {exc}")


def model_infos() -> list[dict]:
    """One row per configured model for the admin page; models not yet created show as not loaded."""
    cfg = get_config()
    with _lock:
        live = dict(_instances)
    rows = []
    for name, mc in cfg.models.items():
        if name in live:
            row = live[name].info()
        else:
            row = {"name": name, "backend": mc.backend, "model": mc.label, "loaded": False}
        row["roles"] = ", ".join(r for r, n in cfg.roles.items() if n == name)
        rows.append(row)
    return rows
