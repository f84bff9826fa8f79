#!/usr/bin/env python3
"""extract-code-patterns, step 1: read the named files and outline them.

Input: file paths, directories or globs (whitespace/comma separated), relative to
the project. Output ``data``: one item per file (for fan-out) with ``path``,
``language``, a parser-made ``outline`` (Python: imports, decorators, classes,
signatures via ``ast``) and the start of the file.
"""

from __future__ import annotations

import ast
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import _kit

LANGS = {
    ".py": "python",
    ".js": "javascript",
    ".ts": "typescript",
    ".tsx": "typescript",
    ".jsx": "javascript",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
    ".rb": "ruby",
    ".c": "c",
    ".h": "c",
    ".cpp": "cpp",
    ".cs": "csharp",
    ".kt": "kotlin",
    ".swift": "swift",
    ".php": "php",
    ".sh": "shell",
}
DECL = re.compile(
    r"^\s*(export\s+)?(pub\s+)?(async\s+)?(def|class|function|func|fn|interface|struct|enum|trait|impl|type|const|import|from|use|#include|package)\b"
)


def python_outline(source: str) -> dict:
    tree = ast.parse(source)
    imports, items = [], []
    for node in tree.body:
        if isinstance(node, ast.Import):
            imports += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            imports.append(f"{node.module or '.'}: {', '.join(a.name for a in node.names)}")

    def sig(fn: ast.FunctionDef | ast.AsyncFunctionDef, prefix: str = "") -> str:
        ret = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
        kw = "async def" if isinstance(fn, ast.AsyncFunctionDef) else "def"
        decos = "".join(f"@{ast.unparse(d)} " for d in fn.decorator_list)
        return f"{decos}{kw} {prefix}{fn.name}({ast.unparse(fn.args)}){ret}"

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            items.append(sig(node))
        elif isinstance(node, ast.ClassDef):
            bases = ", ".join(ast.unparse(b) for b in node.bases)
            decos = "".join(f"@{ast.unparse(d)} " for d in node.decorator_list)
            items.append(f"{decos}class {node.name}({bases})")
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    items.append("    " + sig(sub, f"{node.name}."))
    return {"imports": imports, "definitions": items}


def generic_outline(source: str) -> dict:
    lines = [ln.rstrip() for ln in source.splitlines() if DECL.match(ln)]
    return {"imports": [], "definitions": lines[:80]}


def expand(spec: str, root: str, limit: int) -> list[str]:
    out: list[str] = []
    path = os.path.join(root, spec)
    if os.path.isdir(path):
        for base, dirs, files in os.walk(path):
            dirs[:] = sorted(
                d
                for d in dirs
                if not d.startswith(".") and d not in ("node_modules", "__pycache__", "venv", ".venv")
            )
            out += [os.path.join(base, f) for f in sorted(files) if os.path.splitext(f)[1] in LANGS]
    elif any(ch in spec for ch in "*?["):
        out += sorted(p for p in glob.glob(path, recursive=True) if os.path.isfile(p))
    elif os.path.isfile(path):
        out.append(path)
    return out[:limit]


def main() -> None:
    req = _kit.read_request()
    params = _kit.parameters(req)
    max_files = int(params.get("max_files", 20))
    max_chars = int(params.get("max_chars", 4000))
    root = _kit.project_dir()
    specs = [s for s in re.split(r"[\s,]+", _kit.input_text(req).strip()) if s]
    if not specs:
        _kit.fail("no input: give file paths, directories or globs (relative to the project)")
    files: list[str] = []
    missing: list[str] = []
    for spec in specs:
        found = expand(spec, root, max_files)
        if not found:
            missing.append(spec)
        files += [f for f in found if f not in files]
    if not files:
        _kit.fail(f"no readable source files matched: {', '.join(missing)}")
    items = []
    for path in files[:max_files]:
        try:
            with open(path, encoding="utf-8", errors="replace") as fh:
                source = fh.read()
        except OSError as exc:
            missing.append(f"{path} ({exc.strerror})")
            continue
        lang = LANGS.get(os.path.splitext(path)[1], "text")
        try:
            outline = python_outline(source) if lang == "python" else generic_outline(source)
        except SyntaxError as exc:
            outline = {"parse_error": f"line {exc.lineno}: {exc.msg}", **generic_outline(source)}
        items.append(
            {
                "path": os.path.relpath(path, root),
                "language": lang,
                "lines": source.count("\n") + 1,
                "outline": outline,
                "head": source[:max_chars],
            }
        )
    _kit.ok(items, skipped=missing)


if __name__ == "__main__":
    main()
