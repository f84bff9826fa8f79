#!/usr/bin/env python3
"""write-changelog, step 1: collect what changed and how the changelog looks.

Input: a unified diff (used as is), a git revision range such as ``v1.2.0..HEAD``,
or nothing (from the latest tag, else the last 20 commits). Output ``data``:
``range``, ``commits``, ``stat``, ``diff`` (truncated) and ``changelog_format``
(the top of CHANGELOG.md, if any).
"""

from __future__ import annotations

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _kit

CHANGELOGS = ("CHANGELOG.md", "CHANGES.md", "HISTORY.md", "CHANGELOG.rst", "CHANGELOG")


def changelog_head(root: str, n: int = 40) -> str | None:
    for name in CHANGELOGS:
        path = os.path.join(root, name)
        if os.path.isfile(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                return "".join(fh.readlines()[:n])
    return None


def main() -> None:
    req = _kit.read_request()
    params = _kit.parameters(req)
    max_chars = int(params.get("max_diff_chars", 12000))
    text = _kit.input_text(req).strip()
    root = _kit.project_dir()
    out = {"range": None, "commits": [], "stat": "", "diff": "", "changelog_format": changelog_head(root)}
    if "diff --git" in text or text.startswith(("--- ", "+++ ")):
        out["diff"] = text[:max_chars]
        out["truncated"] = len(text) > max_chars
        _kit.ok(out)
    try:
        rng = text
        if not rng:
            tag = _kit.git("describe", "--tags", "--abbrev=0", check=False).strip()
            if tag:
                rng = f"{tag}..HEAD"
            else:
                count = int(_kit.git("rev-list", "--count", "HEAD").strip() or 0)
                rng = f"HEAD~{min(20, count - 1)}..HEAD" if count > 1 else "HEAD"
        if " " in rng:
            _kit.fail("input is neither a diff nor a git revision range (e.g. v1.2.0..HEAD)")
        out["range"] = rng
        out["commits"] = [
            c for c in _kit.git("log", "--no-merges", "--format=%s", rng).splitlines() if c.strip()
        ]
        out["stat"] = (
            _kit.git("diff", "--stat", rng).strip()
            if ".." in rng
            else _kit.git("show", "--stat", "--format=", rng).strip()
        )
        diff = _kit.git("diff", rng) if ".." in rng else _kit.git("show", "--format=", rng)
    except RuntimeError as exc:
        _kit.fail(str(exc))
    out["diff"] = diff[:max_chars]
    out["truncated"] = len(diff) > max_chars
    if not out["commits"] and not diff.strip():
        _kit.fail(f"no changes in {rng}")
    _kit.ok(out)


if __name__ == "__main__":
    main()
