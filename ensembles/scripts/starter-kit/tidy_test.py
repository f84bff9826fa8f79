#!/usr/bin/env python3
"""generate-test-cases, last step: keep only the code and check that it parses.

Input: the test writer's reply (a dependency). Output ``data``: the code; Python
that does not parse is returned with a leading comment saying why (a quality
problem for the reviewer, not a script failure).
"""

from __future__ import annotations

import ast
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _kit


def main() -> None:
    req = _kit.read_request()
    reply = _kit.dependency(req) or _kit.input_text(req)
    if not reply.strip():
        _kit.fail("the test writer returned nothing")
    code = _kit.strip_fences(reply)
    looks_python = "def test" in code or "import pytest" in code or "unittest" in code
    valid, error = True, None
    if looks_python:
        try:
            ast.parse(code)
        except SyntaxError as exc:
            valid, error = False, f"line {exc.lineno}: {exc.msg}"
            code = f"# conductor-tui: this test does not parse ({error}); fix before use\n{code}"
    _kit.ok(code, valid=valid, parse_error=error, language="python" if looks_python else None)


if __name__ == "__main__":
    main()
