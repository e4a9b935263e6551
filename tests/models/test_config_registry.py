"""Configuration file + environment overrides, and the shared-instance registry."""

from __future__ import annotations

import threading

import pytest

from oversight.models import (
    ExtractiveConfig, HFConfig, ModelConfigError, configure, get_model, load_config, model_for_role, model_infos,
)
from oversight.models.types import ROLES


@pytest.fixture(autouse=True)
def fresh_registry():
    configure(None)
    yield
    configure(None)


def test_default_is_extractive_for_every_role():
    cfg = _load_default({})
    assert list(cfg.models) == ["extractive"]
    assert cfg.models["extractive"].backend == "extractive"
    assert cfg.roles == {r: "extractive" for r in ROLES}


def _load_default(env):
    # No models_file setting at all: the built-in defaults (the settings object is read only in this case).
    import os

    old = os.environ.pop("OVERSIGHT_MODELS_FILE", None)
    from oversight.settings import reset_settings

    reset_settings()
    try:
        return load_config(None, env=env)
    finally:
        if old is not None:
            os.environ["OVERSIGHT_MODELS_FILE"] = old
        reset_settings()


def test_file_and_environment_overrides(tmp_path):
    f = tmp_path / "models.toml"
    f.write_text(
        """
[models.qwen-7b]
backend = "hf"
model = "Qwen/Qwen2.5-7B-Instruct"
max_batch_size = 16

[roles]
debater = "qwen-7b"
"""
    )
    env = {
        "OVERSIGHT_MODEL__QWEN_7B__MODEL": "/weights/qwen",
        "OVERSIGHT_MODEL__QWEN_7B__COMPILE": "true",
        "OVERSIGHT_MODEL__QWEN_7B__BATCH_BUCKETS": "[1, 8, 32]",
        "OVERSIGHT_MODEL__VLLM__BACKEND": "openai",
        "OVERSIGHT_MODEL__VLLM__BASE_URL": "http://gpu:8000/v1",
        "OVERSIGHT_ROLE__JUDGE": "vllm",
        "UNRELATED": "x",
    }
    cfg = load_config(f, env=env)
    q = cfg.models["qwen-7b"]
    assert (q.backend, q.model, q.max_batch_size, q.compile, q.batch_buckets) == ("hf", "/weights/qwen", 16, True, [1, 8, 32])
    assert cfg.models["vllm"].base_url == "http://gpu:8000/v1"
    assert cfg.roles["debater"] == "qwen-7b" and cfg.roles["judge"] == "vllm" and cfg.roles["assistant"] == "extractive"


def test_models_file_setting_is_used(tmp_path, monkeypatch):
    from oversight.settings import reset_settings

    f = tmp_path / "m.toml"
    f.write_text('[models.s]\nbackend = "scripted"\nresponses = ["hi"]\n[roles]\njudge = "s"\n')
    monkeypatch.setenv("OVERSIGHT_MODELS_FILE", str(f))
    reset_settings()
    try:
        assert model_for_role("judge").complete([_req()])[0].text == "hi"
        assert model_for_role("debater").config.backend == "extractive"
    finally:
        monkeypatch.delenv("OVERSIGHT_MODELS_FILE")
        reset_settings()


def _req():
    from oversight.models import Request

    return Request(messages=[])


@pytest.mark.parametrize(
    "text, env, needle",
    [
        ('[models.x]\nbackend = "gpu"\n', {}, "OVERSIGHT_MODEL__X__BACKEND"),
        ('[models.x]\nbackend = "hf"\nmax_batch = 3\n', {}, "[models.x]"),
        ('[models.x]\nbackend = "hf"\nmax_batch_size = "lots"\n', {}, "[models.x]"),
        ("", {"OVERSIGHT_ROLE__JUDGE": "missing"}, "OVERSIGHT_ROLE__JUDGE"),
        ("", {"OVERSIGHT_MODEL__X__COMPILE": "maybe"}, "OVERSIGHT_MODEL__X__COMPILE"),
        ('[roles]\nreferee = "extractive"\n', {}, "[roles]"),
    ],
)
def test_bad_configuration_names_the_setting(tmp_path, text, env, needle):
    f = tmp_path / "m.toml"
    f.write_text(text)
    with pytest.raises(ModelConfigError) as err:
        load_config(f, env=env)
    assert needle in err.value.setting


@pytest.mark.parametrize(
    "backend, field, value",
    [
        ("hf", "base_url", '"http://gpu:8000/v1"'),  # openai's
        ("hf", "responses", '["x"]'),  # scripted's
        ("openai", "compile", "true"),  # hf's
        ("openai", "encoder_path", '"/enc"'),  # extractive's
        ("extractive", "model", '"Qwen/Qwen2.5-7B-Instruct"'),  # hf's and openai's
        ("extractive", "timeout_s", "30"),
        ("scripted", "device", '"cpu"'),
        ("scripted", "max_concurrency", "4"),
    ],
)
def test_a_setting_of_another_backend_is_refused_naming_setting_and_backend(tmp_path, backend, field, value):
    f = tmp_path / "m.toml"
    f.write_text(f'[models.x]\nbackend = "{backend}"\n{field} = {value}\n')
    with pytest.raises(ModelConfigError) as err:
        load_config(f, env={})
    msg = str(err.value)
    assert f"{field!r}" in msg and f"backend {backend!r}" in msg and "[models.x]" in err.value.setting
    # The same setting by environment variable names the variable.
    var = f"OVERSIGHT_MODEL__X__{field.upper()}"
    (tmp_path / "empty.toml").write_text("")
    with pytest.raises(ModelConfigError) as err:
        load_config(tmp_path / "empty.toml", env={"OVERSIGHT_MODEL__X__BACKEND": backend, var: value})
    assert f"{field!r}" in str(err.value) and f"backend {backend!r}" in str(err.value) and err.value.setting == var


def test_each_backend_takes_its_own_settings(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text(
        '[models.h]\nbackend = "hf"\nmodel = "/w/h"\ndevice = "cpu"\ntimeout_s = 5\n'
        '[models.o]\nbackend = "openai"\nmodel = "m"\nbase_url = "http://x/v1"\nmax_concurrency = 2\n'
        '[models.e]\nbackend = "extractive"\nencoder_path = "/enc"\nwarmup = true\n'
        '[models.s]\nbackend = "scripted"\nresponses = ["a"]\nchoice_probs = [1, 3]\n'
    )
    m = load_config(f, env={}).models
    assert [type(m[n]).__name__ for n in "hoes"] == ["HFConfig", "OpenAIConfig", "ExtractiveConfig", "ScriptedConfig"]
    assert (m["h"].device, m["h"].timeout_s, m["o"].base_url, m["o"].max_concurrency) == ("cpu", 5.0, "http://x/v1", 2)
    assert (m["e"].encoder_path, m["e"].warmup, m["s"].choice_probs) == ("/enc", True, [1, 3])
    assert not hasattr(m["o"], "device") and not hasattr(m["h"], "base_url")


def test_an_environment_override_of_the_backend_checks_the_files_settings_against_it(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('[models.q]\nbackend = "hf"\nmodel = "/w/q"\ncompile = true\n')
    with pytest.raises(ModelConfigError) as err:
        load_config(f, env={"OVERSIGHT_MODEL__Q__BACKEND": "openai"})
    assert "'compile'" in str(err.value) and "backend 'openai'" in str(err.value)
    # Without the hf-only setting the switch works; a text setting keeps the variable's text as it is.
    f.write_text('[models.q]\nbackend = "hf"\nmodel = "/w/q"\n')
    q = load_config(f, env={"OVERSIGHT_MODEL__Q__BACKEND": "openai", "OVERSIGHT_MODEL__Q__MODEL": "7"}).models["q"]
    assert (q.backend, q.model) == ("openai", "7")


def test_configs_built_in_code_refuse_another_backends_field():
    from oversight.models import OpenAIConfig, ScriptedConfig, model_config

    assert model_config("h", "hf", model="/w", device="cpu") == HFConfig(name="h", model="/w", device="cpu")
    assert model_config("e") == ExtractiveConfig(name="e")
    with pytest.raises(ModelConfigError, match="'device' of model 'o'.*backend 'openai'"):
        model_config("o", "openai", device="cpu")
    with pytest.raises(ModelConfigError, match="unknown backend 'gpu'"):
        model_config("g", "gpu")
    with pytest.raises(ModelConfigError, match="max_batch_size must be a number"):
        model_config("h", "hf", max_batch_size="lots")

    with pytest.raises(TypeError, match="device"):
        OpenAIConfig(name="o", device="cpu")
    with pytest.raises(TypeError, match="backend"):
        ScriptedConfig(name="s", backend="hf")


def test_missing_models_file_names_the_setting(tmp_path):
    with pytest.raises(ModelConfigError) as err:
        load_config(tmp_path / "nope.toml", env={})
    assert "OVERSIGHT_MODELS_FILE" in err.value.setting


def test_registry_shares_one_instance_across_threads(tmp_path):
    f = tmp_path / "m.toml"
    f.write_text('[models.s]\nbackend = "scripted"\n')
    configure(load_config(f, env={}))
    got = []
    threads = [threading.Thread(target=lambda: got.append(get_model("s"))) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len({id(b) for b in got}) == 1
    with pytest.raises(ModelConfigError) as err:
        get_model("nope")
    assert "nope" in str(err.value)
    rows = {r["name"]: r for r in model_infos()}
    assert rows["s"]["loaded"] is False and rows["extractive"]["roles"] == ", ".join(ROLES)


def test_importing_models_loads_no_heavy_library():
    import subprocess
    import sys

    code = (
        "import sys, oversight.models, oversight.models.hf, oversight.models.extractive, oversight.models.openai_backend;"
        "bad = [m for m in ('torch', 'transformers', 'sentence_transformers', 'openai', 'streamlit') if m in sys.modules];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_a_model_that_fails_to_warm_up_is_reported_and_the_others_still_warm(tmp_path):
    from oversight.models import configure, get_model
    from oversight.models.config import ModelsConfig, ScriptedConfig
    from oversight.models.registry import warm_configured

    cfg = ModelsConfig(
        models={"missing": HFConfig(name="missing", model=str(tmp_path / "nowhere"), warmup=True),
                "ok": ScriptedConfig(name="ok", warmup=True)},
        roles={r: "ok" for r in ("debater", "consultant", "assistant", "judge", "feedback")})
    configure(cfg)
    try:
        warm_configured()
        assert get_model("ok").loaded
        assert any("warm-up failed" in e for e in get_model("missing").info()["recent_errors"])
    finally:
        configure(None)
