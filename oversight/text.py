"""Text helpers shared by importers, quotes, the extractive model and every CSV the app writes.

`detokenize` rebuilds readable prose from PTB-style tokens (the NYU debate / QuALITY stories are stored as a token
list: `-LSB-`, `'s`, `n't`, ``` `` ```/`''` quote marks and `"\\n"` line tokens).
"""

from __future__ import annotations

import re

# PTB escapes for brackets.
_BRACKETS = {"-LRB-": "(", "-RRB-": ")", "-LSB-": "[", "-RSB-": "]", "-LCB-": "{", "-RCB-": "}"}
# Tokens that attach to the previous word (no space before them).
_NO_SPACE_BEFORE = {".", ",", ":", ";", "?", "!", "%", ")", "]", "}", "...", "''", "'", "n't", "?\"", "!\"", ".\""}
_CLITICS = re.compile(r"^'(s|d|ll|re|ve|m|em|S|D|LL|RE|VE|M)$")
# Tokens after which the next token attaches (no space after them).
_NO_SPACE_AFTER = {"(", "[", "{", "``", "`", "$", "#"}


def detokenize(tokens: list[str]) -> str:
    """Rebuild prose from PTB tokens.

    Line tokens (`"\\n"`) are kept: one `\\n` token becomes a line break, a run of two or more becomes one blank line
    (a paragraph). Opening ``` `` ``` / closing `''` become straight double quotes attached to the quoted words;
    clitics (`'s`, `n't`, ...) and punctuation attach to the previous word. Tokens that already carry their own spacing
    (a few stories contain multi-word tokens such as `" Where was he?"`) are kept as they are.
    """
    out: list[str] = []
    newlines = 0
    attach_next = True  # start of text / after an opening bracket or quote
    for raw in tokens:
        if raw == "\n" or (raw.strip() == "" and "\n" in raw):
            newlines += raw.count("\n")
            continue
        if raw.strip() == "":
            continue
        if newlines:
            while out and out[-1].endswith(" "):
                out[-1] = out[-1].rstrip(" ")
            out.append("\n\n" if newlines >= 2 else "\n")
            newlines = 0
            attach_next = True
        tok = _BRACKETS.get(raw, raw)
        if tok == "``":
            text, glue_before, glue_after = '"', False, True
        elif tok == "''":
            text, glue_before, glue_after = '"', True, False
        elif tok == "`":
            text, glue_before, glue_after = "'", False, True
        else:
            text = tok
            glue_before = tok in _NO_SPACE_BEFORE or bool(_CLITICS.match(tok))
            glue_after = tok in _NO_SPACE_AFTER
        if text.startswith(" "):  # multi-word token with its own leading space
            text = text.lstrip(" ")
            glue_before = False
        if out and not attach_next and not glue_before:
            out.append(" ")
        out.append(text)
        attach_next = glue_after
    return "".join(out).strip()


# --- typography for display (the stored text is never changed) ------------------------------------------------------

# Imported datasets carry typesetting conventions that read as noise on a page: BoolQ and the PTB-tokenised sets
# write ``LaTeX quotes'', `single ones', "--" and "---" for dashes, and web text brings invisible characters.
_DISPLAY_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile("``"), "\u201c"),  # `` -> “
    (re.compile("''"), "\u201d"),  # '' -> ”
    # `single quotes' (a backquote opening a word, closed by ' in the same line) -> ‘single quotes’; then a lone
    # opening backquote (`tis) -> ‘. A backquote elsewhere (code) is left alone.
    (re.compile(r"(?<![\w`])`(?=\w)([^`'\n]{0,300}?)'(?!\w)"), "\u2018\\1\u2019"),
    (re.compile(r"(?<![\w`])`(?=\w)"), "\u2018"),
    # Dashes: only between words or spaced out, so "--help", "<!--" and "x--" stay as written.
    (re.compile(r"(?<=\w)---(?=\w)|(?<= )---(?= )"), "\u2014"),
    (re.compile(r"(?<=\d)--(?=\d)"), "\u2013"),  # a range: 1990--1995 -> 1990–1995
    (re.compile(r"(?<=\w)--(?=\w)"), "\u2014"),
    (re.compile(r"(?<= )--(?= )"), "\u2013"),
    # Zero-width spaces, soft hyphens and byte-order marks: invisible, but they break search and copy.
    (re.compile("[\u200b\u00ad\ufeff]"), ""),
    # Non-breaking and other odd spaces (figure, thin, narrow) as plain spaces: Markdown and st.text keep them as
    # they are, and some fonts show them as gaps of the wrong width.
    (re.compile("[\u00a0\u2007\u2009\u202f]"), " "),
]


def display_text(text: str) -> str:
    """Text from an imported item (question, options, passage, explanation) as people should read it: LaTeX-style
    quotes as typographic quotes, "--"/"---" between words as dashes, invisible and odd spaces removed or made plain.
    For display only: the stored text is what quotes are checked against and what exports write. It returns plain
    text, so on a Markdown surface it composes with `web.ui.escape_markdown` as `escape_markdown(display_text(t))`
    (normalise first, then escape: no rule here produces a Markdown character)."""
    for pattern, replacement in _DISPLAY_RULES:
        text = pattern.sub(replacement, text)
    return text


# --- normalisation used to compare quotes with sources ---------------------------------------------------------------

_TRANSLATE = str.maketrans(
    {
        "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "`": "'", "\u00b4": "'",
        "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u00ab": '"', "\u00bb": '"',
        "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
        "\u00a0": " ", "\u2026": "...",
    }
)
_PTB = [(re.escape(k), v) for k, v in _BRACKETS.items()] + [("``", '"'), ("''", '"')]
# Characters around which spacing is ignored (PTB text rebuilt into prose differs mostly there).
_PUNCT = "\"'.,;:!?()[]{}-"


def normalise_with_map(text: str) -> tuple[str, list[int]]:
    """Normalise `text` for matching and return, for each output character, its index in `text`.

    Lower case; curly quotes and dashes made plain; PTB bracket escapes undone; runs of whitespace collapsed to
    nothing next to punctuation and to one space elsewhere; a run of dashes counts as one dash.
    """
    for pat, rep in _PTB:
        # Pad the replacement with NULs (skipped below) so indices into `text` stay valid.
        text = re.sub(pat, lambda m, r=rep: r + "\0" * (len(m.group(0)) - len(r)), text)
    chars: list[str] = []
    index: list[int] = []
    pending_space = -1
    for i, ch in enumerate(text):
        if ch == "\0":
            continue
        ch = ch.translate(_TRANSLATE).lower()
        if len(ch) != 1:  # "..." from an ellipsis character
            for c in ch:
                chars.append(c)
                index.append(i)
            pending_space = -1
            continue
        if ch.isspace():
            if chars and pending_space < 0:
                pending_space = i
            continue
        if ch == "-" and chars and chars[-1] == "-" and pending_space < 0:
            continue  # "--" and "—" compare equal
        if pending_space >= 0:
            # PTB splits "don't" as "do n't": a space before "n't" is spacing, not a word break.
            clitic = ch == "n" and text[i + 1 : i + 3].translate(_TRANSLATE).lower() == "'t"
            if chars and chars[-1] not in _PUNCT and ch not in _PUNCT and not clitic:
                chars.append(" ")
                index.append(pending_space)
            pending_space = -1
        chars.append(ch)
        index.append(i)
    return "".join(chars), index


def normalise(text: str) -> str:
    """Normalised form of `text` (see `normalise_with_map`)."""
    return normalise_with_map(text)[0]


# --- CSV cells a spreadsheet would run as a formula ------------------------------------------------------------------

# A spreadsheet (Excel, LibreOffice, Google Sheets) reads a cell starting with one of these as a formula or a DDE
# call (OWASP "CSV injection"); a tab or carriage return in front hides the formula from a first look.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell that a spreadsheet shows as text: a string starting like a formula gets a leading `'`.

    Only strings: the numbers we write (a negative score, -0.32) stay numbers, since the csv module writes them as
    `-0.32`, which a spreadsheet reads as a number and runs nothing. A string that merely looks numeric (an item id
    "-5") is text from outside and is neutralised like any other."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


def spreadsheet_safe_row(row: dict[str, object]) -> dict[str, object]:
    """Every cell of a CSV row through `spreadsheet_safe`: what every CSV writer of the app writes."""
    return {key: spreadsheet_safe(value) for key, value in row.items()}
