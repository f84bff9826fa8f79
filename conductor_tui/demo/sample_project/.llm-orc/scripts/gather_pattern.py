#!/usr/bin/env python3
"""Collect the first tests of a file as the pattern to follow."""

import json
import sys

payload = json.load(sys.stdin)
items = [line for line in str(payload.get("input", "")).splitlines() if line.strip()]
print(json.dumps({"success": True, "data": items, "error": None}))
