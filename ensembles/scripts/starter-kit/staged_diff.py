#!/usr/bin/env python3
"""write-commit-message, step 1: the staged diff and the repository's conventions.

Input: optional — a diff to describe instead of ``git diff --staged``. Output
``data``: ``diff`` (truncated), ``stat``, ``recent_subjects`` and ``convention``
(``conventional`` when most recent subjects look like ``type(scope): …``).
"""

from __future__ import annotations

import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _kit

CONVENTIONAL = re.compile(r"^(feat|fix|docs|style|refactor|perf|test|build|ci|chore|revert)(\([^)]*\))?!?: ")


def main() -> None:
    req = _kit.read_request()
    params = _kit.parameters(req)
    max_chars = int(params.get("max_diff_chars", 12000))
    text = _kit.input_text(req)
    subjects: list[str] = []
    stat = ""
    if "diff --git" in text:
        diff = text
    else:
        try:
            diff = _kit.git("diff", "--staged", "--no-color")
            stat = _kit.git("diff", "--staged", "--stat").strip()
        except RuntimeError as exc:
            _kit.fail(f"cannot read the staged diff: {exc}")
        if not diff.strip():
            _kit.fail("nothing is staged — run git add first")
    try:
        subjects = [
            s for s in _kit.git("log", "-n", "15", "--format=%s", check=False).splitlines() if s.strip()
        ]
    except RuntimeError:
        subjects = []
    conventional = sum(1 for s in subjects if CONVENTIONAL.match(s))
    _kit.ok(
        {
            "diff": diff[:max_chars],
            "truncated": len(diff) > max_chars,
            "stat": stat,
            "recent_subjects": subjects,
            "convention": "conventional" if subjects and conventional * 2 >= len(subjects) else "plain",
        }
    )


if __name__ == "__main__":
    main()
