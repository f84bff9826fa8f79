"""A counts block is counted at once only when it holds one object per line, as a
line-by-line read sees it (``review_counts._one_per_line``): the quick framing test (every
line ``{`` … ``}``) must never take a block with a blank line, an object over two lines or
two objects on one line for a clean one, whatever their mix — checked on hand-made blocks
and on many random ones against each line decoded on its own (the slower test may still
turn down a clean block, e.g. ``} {`` inside text: it is then read in halves)."""

from __future__ import annotations

import random

import msgspec
import pytest

from conductor_tui.core.review_counts import _framed_lines, _one_per_line

_DECODE = msgspec.json.Decoder(dict)


def _decoded(piece: bytes) -> int | None:
    try:
        return len(_DECODE.decode_lines(piece))
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _truly_one_per_line(piece: bytes) -> bool:
    """Every line (the text up to each newline) is one object alone."""
    for line in piece.split(b"\n")[:-1]:
        if not line.strip():
            return False
        try:
            _DECODE.decode(line)
        except (msgspec.DecodeError, msgspec.ValidationError):
            return False
    return True


@pytest.mark.parametrize(
    ("piece", "clean"),
    [
        (b'{"a":1}\n{"b":2}\n', True),
        (b'{"a":{"b":1}}\n{"c":[{"d":2}]}\n', True),
        (b'{"a":1}\r\n{"b":2}\r\n', True),  # the slower test takes it
        (b' {"a":1}\n{"b":2}\t\n', True),
        (b'{"a":1}{"b":2}\n{"c":\n3}\n', False),  # two on a line + one over two lines
        (b'{"a":1} {"b":2}\n\n', False),  # two on a line + a blank line
        (b'{"a":1}\t{"b":2}\n  \n', False),
        (b'{"a":{"b":1}\n}\n{"c":1}{"d":2}\n', False),
        (b'{"a":\n{"b":1}}\n{"c":1}{"d":2}\n', False),
        (b'{"a":"} {"}\n', True),  # braces inside text
    ],
)
def test_hand_made_blocks(piece: bytes, clean: bool) -> None:
    n = _decoded(piece)
    assert n is not None
    assert _truly_one_per_line(piece) is clean
    assert _one_per_line(piece, n) is clean


def test_clean_block_takes_the_quick_test() -> None:
    piece = b'{"a":1}\n{"b":{"c":2}}\n{"d":"x}\\n{"}\n'
    assert _framed_lines(piece) == 3
    assert _framed_lines(b'{"a":1}\n\n{"b":2}\n') == -1
    assert _framed_lines(b'{"a":1}\n {"b":2}\n') == -1
    assert _framed_lines(b"[1]\n") == -1


PARTS = [b'{"a":1}', b'{"b":{"c":[1,{"d":2}]}}', b"{", b"}", b'"x":', b'"y":2', b",", b" ", b"\t", b"\r",
         b'{"e":', b"[", b"]", b"1", b'"} {"', b""]  # fmt: skip


def test_random_blocks_never_mistaken_for_clean() -> None:
    rng = random.Random(7)
    decoded = clean_seen = 0
    for _ in range(40000):
        lines = [
            b"".join(rng.choice(PARTS) for _ in range(rng.randint(1, 4))) for _ in range(rng.randint(1, 4))
        ]
        piece = b"\n".join(lines) + b"\n"
        n = _decoded(piece)
        if n is None:
            continue
        decoded += 1
        truth = _truly_one_per_line(piece)
        got = _one_per_line(piece, n)
        assert truth or not got, piece  # never a false "clean"
        if truth and _framed_lines(piece) >= 0:
            assert got, piece  # and the framed clean blocks are all taken
        clean_seen += got
    assert decoded > 1000 and clean_seen > 100


def test_a_log_of_look_alike_lines_counts_what_the_per_record_loop_does(tmp_path, monkeypatch) -> None:
    """Blocks built to pass for one object per line — two objects with nothing between
    them, an object over two lines whose second line starts with ``{``, blank and
    whitespace lines, CRLF endings — count exactly what the pass's per-record loop counts
    when it is fed line by line."""
    import json
    from pathlib import Path

    from conductor_tui.core import review_read

    from .test_review_count_pieces import _pieces, _reference

    monkeypatch.setattr(review_read, "_BLOCK", 4096)
    rng = random.Random(5)
    odd = [
        '{"routed_to": "extract-a", "status": "completed", "id": "p"}{"routed_to": "extract-a", "id": "q"}',
        '{"routed_to": "extract-a", "dag": \n{"a": 1}, "id": "s"}',
        "",
        "   ",
        '{"routed_to": "scan-d", "status": "completed", "id": "crlf"}\r',
        '{"routed_to": "scan-d", "id": "t"} \t',
    ]
    lines = []
    for i in range(3000):
        if rng.random() < 0.05:
            lines.append(rng.choice(odd))
        else:
            rec = {"id": f"r{i}", "timestamp": f"2026-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z"}
            rec |= {"routed_to": rng.choice(["extract-a", "scan-d", "claude"]), "task_type": "extraction"}
            rec |= {"status": rng.choice(["completed", "failed"]), "delegability_category": "agent-delegable"}
            lines.append(json.dumps(rec, separators=(",", ":")))
    path = Path(tmp_path) / "routing-log.jsonl"
    path.write_text("\n".join(lines) + "\n")
    with monkeypatch.context() as m:  # the reference reads every line on its own
        m.setattr(review_read, "_feed_block", review_read._feed_per_line)
        ref = _reference(path, set())
    assert ref[0] > 0 and ref[3] > 1000  # corrupt lines skipped, runs counted
    for workers in ("1", "2"):
        assert _pieces(path, set(), monkeypatch, workers) == ref
