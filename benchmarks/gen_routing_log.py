"""Generate a realistic, deterministic ``routing-log.jsonl`` (default 1,000,000 lines, ~350 MB)
plus a matching ``evaluations.jsonl`` for the report benchmarks.

    python benchmarks/gen_routing_log.py [--lines N] [--evaluations N] [--out DIR] [--seed S]

Output goes to ``benchmarks/.data/project/.llm-orc/evaluations/`` (gitignored) so that
``conductor-tui report --project benchmarks/.data/project --json`` runs on it directly.

The mix mirrors what the conductor writes: mostly local ensemble decisions with token
savings (Invariant 7), Claude-only decisions, interim Claude (delegable, no ensemble),
ensemble-prepared Claude (ADR-014), standing-auth routes, occasional config-change
events, hand-written spellings (``"phase"``-style near misses, ``"Agent Delegable"``),
and a handful of corrupt lines (truncated JSON, not JSON, a JSON array, a blank line).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / ".data" / "project" / ".llm-orc" / "evaluations"

AGENT_TYPES = {
    "extraction": ["extract-code-patterns", "extract-endpoints"],
    "classification": ["classify-issues"],
    "summarization": ["write-changelog", "write-commit-message", "summarize-docs"],
    "template-fill": ["generate-test-cases"],
    "mechanical-transform": ["fix-lint-violations"],
    "boilerplate-generation": ["scaffold-handlers"],
}
ENSEMBLE_TYPES = {
    "cross-file-analysis": ["cross-file-deps"],
    "evidence-gathering": ["gather-evidence"],
    "tool-based-scanning": ["scan-security"],
}
CLAUDE_TYPES = ["holistic-judgment", "aesthetic-judgment", "interacting-constraints", "novel-insight"]
SUMMARIES = [
    "Extract API endpoints from server.py",
    "Summarize the diff for the changelog",
    "Classify open issues by component",
    "Generate test cases for PromotionHandler",
    "Fix lint violations in core/store.py",
    "Write the commit message for the refactor",
    "Map imports across the auth module",
    "Name the new handler class",
    "Decide the API shape for the plugin hooks",
    "Résumé des changements — überprüfen 検証",
]


def _line(rng: random.Random, i: int, ts: datetime, session: str) -> dict:
    roll = rng.random()
    base = {
        "id": f"rd-{i:012x}",
        "timestamp": ts.isoformat().replace("+00:00", "Z"),
        "task_summary": rng.choice(SUMMARIES),
    }
    if i % 4 == 0:
        base["session"] = session
    if roll < 0.62:  # local, agent-delegable
        tt = rng.choice(list(AGENT_TYPES))
        ens = rng.choice(AGENT_TYPES[tt])
        local = rng.randint(200, 4000)
        est = round(local / 1.2)
        std = rng.random() < 0.3
        base.update(
            task_type=tt,
            delegability_category="agent-delegable" if rng.random() > 0.01 else "Agent Delegable",
            routed_to=ens,
            reason="standing-auth" if std else rng.choice(["task-profile", "user-confirmed"]),
            standing_auth=std,
            total_tokens_local=local,
            estimated_claude_tokens=est,
            tokens_saved=est,
            ensemble=ens,
        )
        if i % 5 == 0:
            base["evaluation_summary"] = f"{rng.randint(3, 9)}/10 good"
    elif roll < 0.74:  # local, ensemble-delegable
        tt = rng.choice(list(ENSEMBLE_TYPES))
        ens = rng.choice(ENSEMBLE_TYPES[tt])
        local = rng.randint(2000, 12000)
        est = round(local / 1.2)
        base.update(
            task_type=tt,
            delegability_category="ensemble-delegable",
            dag_test_result={"dag": True, "script": True, "fanout": True, "synthesis": True},
            routed_to=ens,
            reason="task-profile",
            standing_auth=False,
            total_tokens_local=local,
            estimated_claude_tokens=est,
            tokens_saved=est,
            ensemble=ens,
            status="completed",
        )
    elif roll < 0.86:  # Claude-only
        tt = rng.choice(CLAUDE_TYPES)
        base.update(
            task_type=tt,
            delegability_category="claude-only",
            dag_test_result={"dag": False, "script": True, "fanout": False, "synthesis": False},
            routed_to="claude",
            reason="competence-boundary",
            standing_auth=False,
            claude_tokens=rng.randint(500, 6000),
        )
    elif roll < 0.95:  # interim Claude (delegable, no ensemble yet)
        tt = rng.choice(["boilerplate-generation", "classification", "evidence-gathering"])
        base.update(
            task_type=tt,
            delegability_category="agent-delegable" if tt != "evidence-gathering" else "ensemble-delegable",
            dag_test_result=None,
            routed_to="claude",
            reason="no-ensemble",
            standing_auth=False,
            claude_tokens=rng.randint(300, 3000),
        )
    elif roll < 0.999:  # ensemble-prepared Claude
        prep = rng.randint(1000, 8000)
        full = rng.randint(3000, 9000)
        judg = rng.randint(400, 1500)
        base.update(
            task_type="holistic-judgment",
            delegability_category="claude-only",
            routed_to="claude",
            reason="competence-boundary",
            standing_auth=False,
            preparation_tokens_local=prep,
            judgment_tokens_claude=judg,
            estimated_full_claude_tokens=full,
            preparation_savings=full - judg,
        )
    else:  # config change event
        base.update(
            event="config-change", reason="user tuned the sampling rate", config_version=rng.randint(2, 9)
        )
    return base


def generate(out: Path, lines: int, evaluations: int, seed: int) -> tuple[Path, Path]:
    rng = random.Random(seed)
    out.mkdir(parents=True, exist_ok=True)
    routing = out / "routing-log.jsonl"
    evals = out / "evaluations.jsonl"
    start = datetime(2025, 1, 1, tzinfo=UTC)
    step = timedelta(seconds=(365 * 86400) / max(lines, 1))
    corrupt_at = {rng.randrange(lines) for _ in range(8)}
    buf: list[str] = []
    session = "s-0"
    with open(routing, "w", encoding="utf-8", newline="\n") as fh:
        for i in range(lines):
            if i % 40 == 0:
                session = f"s-{i // 40:06d}"
            if i in corrupt_at:
                kind = len(buf) % 4
                bad = [
                    '{"timestamp": "2025-03-01T10:00:00Z", "task_type": "extr',
                    "not json at all",
                    "[1, 2, 3]",
                    "",
                ]
                buf.append(bad[(i + kind) % 4])
                continue
            rec = _line(rng, i, start + step * i, session)
            buf.append(json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
            if len(buf) >= 20000:
                fh.write("\n".join(buf) + "\n")
                buf.clear()
        if buf:
            fh.write("\n".join(buf) + "\n")
    ensembles = [e for v in (*AGENT_TYPES.values(), *ENSEMBLE_TYPES.values()) for e in v]
    with open(evals, "w", encoding="utf-8", newline="\n") as fh:
        counters: dict[str, int] = {}
        rows = []
        for i in range(evaluations):
            ens = rng.choice(ensembles)
            counters[ens] = counters.get(ens, 0) + 1
            n = counters[ens]
            score = rng.choices(["good", "acceptable", "poor"], weights=[7, 2, 1])[0]
            rows.append(
                json.dumps(
                    {
                        "id": f"ev-{i:012x}",
                        "timestamp": (start + timedelta(minutes=i)).isoformat(),
                        "routing_id": f"rd-{rng.randrange(lines):012x}",
                        "ensemble": ens,
                        "invocation_number": n,
                        "phase": "calibration" if n <= 5 else "establish",
                        "score": score,
                        "reasoning": "Captured the expected items; formatting as requested.",
                        "failure_mode": rng.choice(["incomplete", "hallucination"])
                        if score == "poor"
                        else None,
                        "input_summary": "Extract endpoints from server.py",
                        "output_length": rng.randint(100, 3000),
                        "user_feedback": None,
                    }
                )
            )
        fh.write("\n".join(rows) + ("\n" if rows else ""))
    return routing, evals


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--evaluations", type=int, default=20_000)
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT)
    ap.add_argument("--seed", type=int, default=20251121)
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    routing, evals = generate(args.out, args.lines, args.evaluations, args.seed)
    size = routing.stat().st_size
    print(
        f"wrote {routing} ({args.lines:,} lines, {size / 1e6:.0f} MB, {size / max(args.lines, 1):.0f} B/line) "
        f"and {evals} ({args.evaluations:,} lines) in {time.perf_counter() - t0:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
