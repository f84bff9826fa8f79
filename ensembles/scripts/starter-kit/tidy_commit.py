#!/usr/bin/env python3
"""write-commit-message, last step: make the model's reply a well-formed message.

Strips thinking, fences, quotes and "Commit message:" labels; subject on the
first line (≤ 72 characters, no trailing period); a blank line; the body wrapped
at 72 columns (lists and indented lines kept).
"""

from __future__ import annotations

import os
import re
import sys
import textwrap

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _kit


def tidy(reply: str) -> str:
    text = re.sub(r"<think>.*?</think>", "", reply, flags=re.S).strip()
    if "```" in text:
        text = _kit.strip_fences(text).strip()
    text = re.sub(r"^(commit message|message)\s*:\s*", "", text, flags=re.I).strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'`":
        text = text[1:-1].strip()
    lines = text.splitlines()
    if not lines:
        return ""
    subject = lines[0].strip().rstrip(".")
    subject = re.sub(r"^(subject|title)\s*:\s*", "", subject, flags=re.I)
    body_lines = lines[1:]
    while body_lines and not body_lines[0].strip():
        body_lines.pop(0)
    wrapped: list[str] = []
    para: list[str] = []

    def flush() -> None:
        if para:
            wrapped.extend(textwrap.wrap(" ".join(para), 72))
            para.clear()

    for line in body_lines:
        if re.sub(r"^(body)\s*:\s*", "", line, flags=re.I) != line and not wrapped and not para:
            line = re.sub(r"^(body)\s*:\s*", "", line, flags=re.I)
        if not line.strip():
            flush()
            wrapped.append("")
        elif re.match(r"^\s*([-*•]|\d+[.)])\s+", line) or line.startswith(("    ", "\t")):
            flush()
            item = textwrap.wrap(line.strip(), 72, subsequent_indent="  ")
            wrapped.extend(item or [line])
        else:
            para.append(line.strip())
    flush()
    while wrapped and not wrapped[-1]:
        wrapped.pop()
    return subject + ("\n\n" + "\n".join(wrapped) if wrapped else "") + "\n"


def main() -> None:
    req = _kit.read_request()
    reply = _kit.dependency(req) or _kit.input_text(req)
    message = tidy(reply)
    if not message.strip():
        _kit.fail("the model returned no commit message")
    subject = message.splitlines()[0]
    _kit.ok(message, subject_length=len(subject), subject_too_long=len(subject) > 72)


if __name__ == "__main__":
    main()
