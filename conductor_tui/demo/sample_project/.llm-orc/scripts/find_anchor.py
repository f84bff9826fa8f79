#!/usr/bin/env python3
"""Find the wiring anchor in the MCP server."""

import json
import sys
from pathlib import Path

SERVER = Path("/home/dev/src/llm-orc/src/llm_orc/mcp/server.py")
payload = json.load(sys.stdin)
text = SERVER.read_text()
anchor = text.index("_setup_invoke_handler")
print(json.dumps({"success": True, "data": text[anchor : anchor + 2000], "error": None}))
