"""The one sanitizer for untrusted text shown in a terminal (no Textual, no Rich).

Model output, file contents, ensemble/model/task names and plan rows come from outside:
printed raw, an ``ESC]0;…BEL`` retitles the terminal, ``ESC[2J`` wipes it, a C1 ``CSI``
(U+009B) does the same on terminals that honour 8-bit controls. :func:`safe_text` makes
such text inert: every C0 control except ``\\n`` and ``\\t``, DEL, every C1 control
(U+0080–U+009F) and the Unicode bidi overrides/isolates become a visible ``\\xNN`` /
``\\u{NNNN}`` escape. Everything else — accents, CJK, emoji — is kept as it is.

Rich markup is a separate matter: widgets show untrusted text as ``rich.text.Text`` (or
with ``markup=False``), so ``[bold]`` stays literal; this function does not touch brackets.
"""

from __future__ import annotations

import re
from typing import Any

# C0 controls except \t (09) and \n (0a); DEL; C1 controls; bidi embeddings/overrides
# (U+202A–U+202E) and isolates (U+2066–U+2069), which reorder what a reader sees.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
_UNSAFE_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{{{code:04x}}}"


def safe_text(text: Any) -> str:
    """``text`` (``str()`` of it when not a string) with every terminal control made
    visible and inert; ``\\n`` and ``\\t`` are kept. ``None`` → ``""``."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    return _UNSAFE.sub(_escape, text)


def safe_line(text: Any) -> str:
    """:func:`safe_text` for a one-line field (a name, a table cell): newlines and tabs
    are escaped too, so a name can never start a new line of output."""
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    return _UNSAFE_ONE_LINE.sub(_escape, text)


def has_unsafe(text: str) -> bool:
    """True when :func:`safe_text` would change ``text``."""
    return _UNSAFE.search(text) is not None
