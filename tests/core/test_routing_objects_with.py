"""``routing_objects_with`` (one search of the whole log for a few ids) yields what the
line-by-line ``routing_objects`` with a byte test yields, line for line."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from conductor_tui.core.loop.state import routing_objects, routing_objects_with


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_the_search_yields_what_the_line_walk_yields(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    lines = []
    for i in range(2000):
        kind = rng.random()
        if kind < 0.03:
            lines.append('{"id": "rd-1", "broken"')
        elif kind < 0.05:
            lines.append(rng.choice(["", "   ", "[1]", '"rd-12"']))
        else:
            rec = {"id": f"rd-{rng.randint(0, 300)}", "artifact": rng.choice([None, f"a{i}.md"])}
            if rng.random() < 0.2:  # two ids on one line
                rec["note"] = f"see rd-{rng.randint(0, 300)} and rd-{rng.randint(0, 300)}"
            lines.append(json.dumps(rec))
    path = tmp_path / "routing-log.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join(lines).encode() + rng.choice([b"", b"\n"]))
    keys = [f"rd-{rng.randint(0, 300)}".encode() for _ in range(8)] + [b"rd-1", b"rd-12", b"a\nb"]
    expected = list(routing_objects(path, lambda raw: any(k in raw for k in keys)))
    got = list(routing_objects_with(path, keys))
    assert got == expected and len(expected) > 20


def test_nothing_for_no_keys_an_empty_or_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "routing-log.jsonl"
    assert list(routing_objects_with(path, [b"rd-1"])) == []
    path.write_bytes(b"")
    assert list(routing_objects_with(path, [b"rd-1"])) == []
    path.write_bytes(b'{"id": "rd-1"}\n')
    assert list(routing_objects_with(path, [])) == []
    assert list(routing_objects_with(path, [b"rd-1"])) == [{"id": "rd-1"}]
