#!/usr/bin/env python3
"""Read the files named in the input and pass their text on (llm-orc script agent)."""

import json
import sys
from pathlib import Path

payload = json.load(sys.stdin)
limit = payload.get("parameters", {}).get("max_bytes", 60000)
names = [n for n in str(payload.get("input", "")).split() if Path(n).is_file()]
files = {n: Path(n).read_text(errors="replace")[:limit] for n in names}
print(json.dumps({"success": True, "data": files, "error": None}))
