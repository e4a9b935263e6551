"""Detokenising PTB story tokens, and verifying <quote> spans against a source."""

from __future__ import annotations

from oversight.protocols.quotes import check_quotes, locate, quoted_length
from oversight.text import detokenize


def test_detokenize_rebuilds_prose():
    tokens = ["-LSB-", "Transcriber", "'s", "Note", ":", "done", ".", "-RSB-", "He", "said", ",", "``", "I", "do",
              "n't", "know", "!", "''", "\n", "\n", "Then", "-LRB-", "quietly", "-RRB-", "--", "he", "left", "..."]
    assert detokenize(tokens) == "[Transcriber's Note: done.] He said, \"I don't know!\"\n\nThen (quietly) -- he left..."


def test_detokenize_single_newline_and_multiword_tokens():
    assert detokenize(["line", "one", "\n", "line", "two"]) == "line one\nline two"
    assert detokenize(["He", "asked", ".", " Where was he?", "Nobody", "knew", "."]) == "He asked. Where was he? Nobody knew."


SOURCE = 'He said, "I don\'t know!"\n\nThen (quietly) -- he left the room at dawn.'


def test_quotes_verified_with_spans_and_tolerant_normalisation():
    text = (
        "Look: <quote>I do n't know !</quote> and <quote>then (QUIETLY) — he left</quote> "
        "but also <quote>he stayed all night</quote>."
    )
    q = check_quotes(text, SOURCE)
    assert [x.verified for x in q] == [True, True, False]
    assert SOURCE[q[0].source_start : q[0].source_end] == "I don't know!"
    assert SOURCE[q[1].source_start : q[1].source_end] == "Then (quietly) -- he left"
    assert q[2].source_start is None
    assert text[q[0].start : q[0].end] == "<quote>I do n't know !</quote>"


def test_curly_quotes_ptb_escapes_and_whitespace():
    src = "The \u201cgreat\u201d ship\u2019s  hull\nwas -LSB- sic -RSB- rusty."
    assert locate('"great" ship\'s hull was [sic] rusty', src) == (4, len(src) - 1)
    assert locate("great ships hull", src) is None  # letters must match; only punctuation spacing is forgiven
    assert locate("", src) is None


def test_quoted_length_counts_quoted_characters():
    assert quoted_length("a <quote>abc</quote> b <quote>de</quote>") == 5
