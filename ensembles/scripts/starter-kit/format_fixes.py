#!/usr/bin/env python3
"""fix-lint-violations, last step: check each proposed fix against the file and
present the fixes as a reviewable list with before/after lines.

Input: the fixer's gathered replies (a JSON array of JSON objects with ``path``,
``line``, ``original``, ``fixed``, ``explanation``).
"""

from __future__ import annotations

import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _kit


def as_obj(value):
    if isinstance(value, dict):
        return value
    if isinstance(value, str):
        text = _kit.strip_fences(value)
        start, end = text.find("{"), text.rfind("}")
        if start < 0 or end <= start:
            return None
        try:
            parsed = json.loads(text[start : end + 1])
        except ValueError:
            return None
        return parsed if isinstance(parsed, dict) else None
    return None


def main() -> None:
    req = _kit.read_request()
    raw = _kit.dependency(req)
    try:
        replies = json.loads(raw) if raw else []
    except ValueError:
        replies = [raw]
    if not isinstance(replies, list):
        replies = [replies]
    root = _kit.project_dir()
    fixes, lines = [], []
    for i, reply in enumerate(replies):
        fix = as_obj(reply)
        if fix is None:
            lines.append(f"[{i}] no usable fix (the model did not return the JSON object)")
            continue
        path, n = str(fix.get("path", "")), int(fix.get("line") or 0)
        original, fixed = str(fix.get("original", "")), str(fix.get("fixed", ""))
        status = "unverified"
        try:
            with open(os.path.join(root, path), encoding="utf-8", errors="replace") as fh:
                file_lines = fh.read().splitlines()
            if 1 <= n <= len(file_lines):
                status = (
                    "matches"
                    if file_lines[n - 1].strip() == original.strip()
                    else "original differs from the file"
                )
        except OSError:
            status = "file not readable"
        fixes.append({**fix, "check": status})
        head = f"{path}:{n}"
        if fix.get("explanation"):
            head += f" — {fix['explanation']}"
        if status != "matches":
            head += f" ({status}; check by hand)"
        lines += [head, f"- {original}", f"+ {fixed}" if fixed.strip() else "+ (delete this line)", ""]
    if not fixes:
        _kit.fail("no fix could be read from the model's replies")
    _kit.ok("\n".join(lines).rstrip() + "\n", fixes=fixes)


if __name__ == "__main__":
    main()
