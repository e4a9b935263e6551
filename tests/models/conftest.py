"""Fixtures for the model tests: a tiny random causal LM with a locally trained tokenizer, saved to disk so the hf
backend loads it by path exactly as it would real weights (local_files_only, no network)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

SENTENCES = [
    "The debate judge reads both arguments and picks the answer that the quotes support.",
    "Alice argues that the ship left the harbour at dawn, and Bob says it left at night.",
    "A consultant may be honest or dishonest; the judge cannot see the story.",
    "Quotes from the story are verified against the source text before the judge sees them.",
    "The weather was cold and the air froze into a white blanket over the city.",
    "Pa sent me out to get an extra pail of air, and I saw a glowing face in the dark.",
    "Yes. No. Maybe. The answer is A. The answer is B. Option A is correct. Option B is correct.",
] * 4

CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def build_tiny_model(path, *, chat_template: str | None = CHAT_TEMPLATE, seed: int = 0):
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=["<|endoftext|>", "<|pad|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator(SENTENCES, trainer)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|pad|>")
    if chat_template:
        fast.chat_template = chat_template
    torch.manual_seed(seed)
    cfg = Qwen2Config(
        vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=1024, eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id, tie_word_embeddings=True, initializer_range=0.3,
    )
    model = Qwen2ForCausalLM(cfg)
    model.generation_config.eos_token_id = fast.eos_token_id
    model.save_pretrained(path)
    fast.save_pretrained(path)
    return path


@pytest.fixture(scope="session")
def tiny_model_path(tmp_path_factory):
    return build_tiny_model(tmp_path_factory.mktemp("tiny-qwen"))


@pytest.fixture(scope="session")
def hf_model(tiny_model_path):
    """One shared hf backend on the tiny model (CPU, dynamic path)."""
    from oversight.models.config import HFConfig
    from oversight.models.hf import HFBackend

    backend = HFBackend(
        HFConfig(name="tiny", model=str(tiny_model_path), device="cpu", max_seq_len=1024, batch_wait_ms=5)
    )
    backend.load()
    yield backend
    backend.close()


@pytest.fixture(scope="session")
def extractive():
    from oversight.models.config import ExtractiveConfig
    from oversight.models.extractive import ExtractiveBackend

    backend = ExtractiveBackend(ExtractiveConfig(name="extractive"))
    backend.load()
    return backend


@pytest.fixture(scope="session")
def nyu_debates():
    """Paths of the NYU debate rooms (settings.datasets_dir); skips when the licensed data is absent."""
    from oversight.settings import get_settings

    folder = get_settings().datasets_dir / "nyu_human_debate" / "debates"
    files = sorted(folder.glob("*.json")) if folder.is_dir() else []
    if not files:
        pytest.skip(f"NYU debate data not found under {folder}")
    return files
