"""core imports neither Textual nor Rich (checked in a fresh interpreter)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_core_does_not_import_textual_or_rich() -> None:
    code = (
        "import sys, json\n"
        "import conductor_tui.core.records, conductor_tui.core.store, conductor_tui.core.rules\n"
        "import conductor_tui.core.aggregate, conductor_tui.core.locations\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert json.loads(out.stdout) == []


def test_report_json_does_not_import_textual() -> None:
    code = (
        "import sys, json, contextlib, io\n"
        "from conductor_tui.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['report', '--project', sys.argv[1], '--json'])\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] == 'textual')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(ROOT)], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
