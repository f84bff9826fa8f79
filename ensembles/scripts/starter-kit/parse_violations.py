#!/usr/bin/env python3
"""fix-lint-violations, step 1: parse linter output into one item per violation.

Input: linter output — ``path:line:col: RULE message`` (ruff, flake8, pylint
parseable, eslint unix), ``path:line: message``, or ruff/eslint JSON. Each item
carries the source line and numbered context read from the file (for fan-out).
"""

from __future__ import annotations

import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _kit

LINE = re.compile(r"^(?P<path>[^\s:][^:]*?):(?P<line>\d+):(?:(?P<col>\d+):?)?\s*(?P<rest>.+)$")
RULE_FIRST = re.compile(r"^(?P<rule>[A-Z]+[0-9]+|[a-z][\w-]*/[\w-]+)\s*:?\s+(?P<msg>.+)$")
RULE_LAST = re.compile(r"^(?P<msg>.+?)\s+\[(?P<rule>[^\]]+)\]$")


def from_json(text: str) -> list[dict] | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    out = []
    if isinstance(data, list):
        for v in data:
            if not isinstance(v, dict):
                continue
            if "filename" in v and "location" in v:  # ruff
                out.append(
                    {
                        "path": v["filename"],
                        "line": v["location"].get("row"),
                        "col": v["location"].get("column"),
                        "rule": v.get("code") or "",
                        "message": v.get("message", ""),
                    }
                )
            elif "filePath" in v and "messages" in v:  # eslint
                for m in v["messages"]:
                    out.append(
                        {
                            "path": v["filePath"],
                            "line": m.get("line"),
                            "col": m.get("column"),
                            "rule": m.get("ruleId") or "",
                            "message": m.get("message", ""),
                        }
                    )
    return out


def from_text(text: str) -> list[dict]:
    out = []
    for raw in text.splitlines():
        m = LINE.match(raw.strip())
        if not m:
            continue
        rest = m.group("rest").strip()
        rule, msg = "", rest
        if (r := RULE_FIRST.match(rest)) is not None:
            rule, msg = r.group("rule"), r.group("msg")
        elif (r := RULE_LAST.match(rest)) is not None:
            rule, msg = r.group("rule"), r.group("msg")
        out.append(
            {
                "path": m.group("path"),
                "line": int(m.group("line")),
                "col": int(m.group("col")) if m.group("col") else None,
                "rule": rule,
                "message": msg,
            }
        )
    return out


def main() -> None:
    req = _kit.read_request()
    params = _kit.parameters(req)
    radius = int(params.get("context_lines", 3))
    limit = int(params.get("max_violations", 30))
    text = _kit.input_text(req)
    items = from_json(text)
    if items is None:
        items = from_text(text)
    if not items:
        _kit.fail("no lint violations found in the input; expected lines like path:line:col: RULE message")
    root = _kit.project_dir()
    out = []
    for v in items[:limit]:
        path = v["path"] if os.path.isabs(v["path"]) else os.path.join(root, v["path"])
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except OSError as exc:
            v["error"] = f"cannot read {v['path']}: {exc.strerror}"
            lines = []
        n = int(v.get("line") or 0)
        if lines and 1 <= n <= len(lines):
            v["source_line"] = lines[n - 1]
            lo, hi = max(1, n - radius), min(len(lines), n + radius)
            v["context"] = "\n".join(
                f"{i:>5}{'>' if i == n else ' '} {lines[i - 1]}" for i in range(lo, hi + 1)
            )
        out.append(v)
    _kit.ok(out, total=len(items), truncated=len(items) > limit)


if __name__ == "__main__":
    main()
