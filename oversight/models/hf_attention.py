"""Decode attention for grouped-query models without copying keys and values once per query head.

With a padding mask, transformers' SDPA path cannot use PyTorch's native grouped-query attention on CUDA, so it
expands keys and values to every query head (`repeat_kv`): for Qwen2.5-7B (28 query heads, 4 key/value heads) that
is 7x the cache traffic of each decode step, and decode steps over long debate prompts are bound by that traffic.
(transformers 5.2x packs the heads for q_len 1, but not under torch.compile, which is where our decode runs.)

For one query token the query heads that share a key/value head can instead be laid along the query-length axis:
q (B, Hkv * G, 1, D) -> (B, Hkv, G, D). That is an ordinary attention with Hkv heads and G query rows over the
unexpanded cache; the (B, 1, 1, L) padding mask broadcasts over both. Exact, not an approximation. Everything else
(prefill, models without grouped heads, masks with a head dimension) goes to transformers' own SDPA function.
"""

from __future__ import annotations

NAME = "oversight_gqa_sdpa"


def packed_gqa_sdpa(module, query, key, value, attention_mask, dropout: float = 0.0, scaling=None, is_causal=None,
                    **kwargs):
    import torch.nn.functional as F
    from transformers.integrations.sdpa_attention import sdpa_attention_forward

    groups = getattr(module, "num_key_value_groups", 1)
    b, hq, q_len, d = query.shape
    plain = (
        groups > 1
        and q_len == 1
        and attention_mask is not None
        and attention_mask.dim() == 4
        and attention_mask.shape[1] == 1
        and attention_mask.shape[2] == 1
        and kwargs.get("position_bias") is None
        and kwargs.get("softcap") is None
        and not (module.training and dropout)
    )
    if not plain:
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    # repeat_kv maps key/value head k to query heads k*G .. k*G+G-1, so the packing is a plain reshape.
    q = query.reshape(b, key.shape[1], groups, d)
    out = F.scaled_dot_product_attention(q, key, value, attn_mask=attention_mask, scale=scaling)
    return out.reshape(b, hq, 1, d).transpose(1, 2).contiguous(), None


def use_packed_gqa(model) -> bool:
    """Switch `model` to the packed decode attention when it uses SDPA and grouped heads; True if switched."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    cfg = model.config
    text = cfg.get_text_config(decoder=True)
    heads, kv = getattr(text, "num_attention_heads", 0), getattr(text, "num_key_value_heads", None)
    if getattr(cfg, "_attn_implementation", None) != "sdpa" or not kv or kv == heads:
        return False
    AttentionInterface.register(NAME, packed_gqa_sdpa)
    AttentionMaskInterface.register(NAME, ALL_MASK_ATTENTION_FUNCTIONS["sdpa"])  # the same masks as SDPA
    model.set_attn_implementation(NAME)
    return getattr(model.config, "_attn_implementation", None) == NAME
