"""Quotes in model or debater text: `<quote>…</quote>` spans, verified against the source.

A quote is *verified* when, after normalisation (case, whitespace, curly quotes and dashes, PTB bracket escapes, and
spacing around punctuation — NYU stories are PTB tokens rebuilt into prose, so `don 't` / `don't` and `" Hi "` /
`"Hi"` must match), it occurs in the source. Verified quotes carry their character span in the source so a page can
highlight them; unverified ones are shown to the judge as such.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass

from oversight.text import normalise, normalise_with_map

QUOTE_RE = re.compile(r"<quote>(.*?)</quote>", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class Quote:
    text: str  # as written between the tags
    verified: bool
    source_start: int | None  # half-open character span in the source when verified
    source_end: int | None
    start: int  # span of the whole `<quote>…</quote>` in the text it came from
    end: int


_cache: OrderedDict[str, tuple[str, list[int]]] = OrderedDict()
_cache_lock = threading.Lock()


def _normalised_source(source: str) -> tuple[str, list[int]]:
    # A debate checks every speech against the same story; normalising a 30k-character story each time is wasteful.
    key = hashlib.sha1(source.encode("utf-8", "surrogatepass")).hexdigest()
    with _cache_lock:
        hit = _cache.get(key)
        if hit is not None:
            _cache.move_to_end(key)
            return hit
    value = normalise_with_map(source)
    with _cache_lock:
        _cache[key] = value
        while len(_cache) > 64:
            _cache.popitem(last=False)
    return value


def extract_quotes(text: str) -> list[tuple[str, int, int]]:
    """Each `<quote>…</quote>` in `text` as (inner text, start, end) of the whole tagged span."""
    return [(m.group(1), m.start(), m.end()) for m in QUOTE_RE.finditer(text)]


def locate(quote: str, source: str) -> tuple[int, int] | None:
    """Character span of `quote` in `source` after normalisation, or None when it does not occur."""
    needle = normalise(quote)
    if not needle:
        return None
    hay, index = _normalised_source(source)
    pos = hay.find(needle)
    if pos < 0:
        return None
    return index[pos], index[pos + len(needle) - 1] + 1


def check_quotes(text: str, source: str) -> list[Quote]:
    """Every quote in `text`, verified against `source`."""
    out = []
    for inner, start, end in extract_quotes(text):
        span = locate(inner, source)
        out.append(
            Quote(
                text=inner,
                verified=span is not None,
                source_start=span[0] if span else None,
                source_end=span[1] if span else None,
                start=start,
                end=end,
            )
        )
    return out


def quoted_length(text: str) -> int:
    """Characters inside quote tags (rules limit quoted characters per speech)."""
    return sum(len(inner) for inner, _, _ in extract_quotes(text))
