"""Context strategies: what a subtask receives from the subtasks it depends on.

* ``full`` — the task, every dependency's output (as given, in order) and the named files.
  The default and the baseline every other strategy is measured against.
* ``scoped`` — the task, the explicit inputs and only the named files (read from the
  project, each capped at :data:`MAX_FILE_CHARS`).
* ``distilled`` — the task and a *summary* of the dependency outputs (explicit inputs
  included; nothing raw) made by a local summarising ensemble (:data:`DEFAULT_DISTILL_ENSEMBLE`). Building it is
  two steps: :func:`build_context` returns a :class:`DistillRequest` (ensemble + input);
  the caller runs it with the executor and calls :func:`build_context` again with
  ``summary=`` the deliverable.
* ``fresh`` — the task and the explicit inputs only.

"Explicit inputs" are the dependencies a row or phase names in ``inputs`` (a subset of
its ``depends_on``).

Token counts are an estimate, :func:`estimate_tokens` = ``ceil(characters / 4)`` (the
usual rule of thumb for English and code with BPE tokenisers); the engine reports real
counts only after a model has read the text, so "saved vs full" is estimated the same way
on both sides and is comparable.

Per row or per phase: a row's own ``context_strategy`` / ``context_files`` / ``inputs``
(unknown :class:`PlanRow` fields, kept by the store) win over its phase's; see
:func:`context_spec_for`.

No Textual here.
"""

from __future__ import annotations

import glob
import math
import os
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

MAX_FILE_CHARS = 20_000
MAX_FILES = 40
DEFAULT_DISTILL_ENSEMBLE = "distill-context"


class ContextStrategy(StrEnum):
    FULL = "full"
    SCOPED = "scoped"
    DISTILLED = "distilled"
    FRESH = "fresh"


_STRATEGY_ALIASES = {
    "all": "full",
    "default": "full",
    "scope": "scoped",
    "files": "scoped",
    "distill": "distilled",
    "summary": "distilled",
    "summarised": "distilled",
    "summarized": "distilled",
    "clean": "fresh",
    "explicit": "fresh",
}


def parse_strategy(value: Any) -> ContextStrategy | None:
    """``"Distill"`` → distilled; ``None`` for anything that is not a strategy."""
    if isinstance(value, ContextStrategy):
        return value
    if not isinstance(value, str):
        return None
    key = value.strip().lower()
    key = _STRATEGY_ALIASES.get(key, key)
    try:
        return ContextStrategy(key)
    except ValueError:
        return None


def estimate_tokens(text: str) -> int:
    """Estimated tokens of ``text``: ``ceil(len / 4)`` (0 for empty text)."""
    return math.ceil(len(text) / 4) if text else 0


@dataclass
class DependencyOutput:
    """The output of one earlier row/phase, as the caller has it."""

    name: str  # row id or phase name
    text: str
    label: str | None = None  # e.g. the row's description, for the heading


@dataclass
class ContextPart:
    kind: str  # task | input | dependency | file | summary
    name: str
    tokens: int
    included: bool
    note: str | None = None


@dataclass
class DistillRequest:
    """Run ``ensemble`` on ``input_text``; give its deliverable back as ``summary=``."""

    ensemble: str
    input_text: str
    sources: list[str]
    input_tokens: int


@dataclass
class ContextResult:
    strategy: ContextStrategy
    text: str
    tokens: int
    full_tokens: int
    parts: list[ContextPart] = field(default_factory=list)
    distill: DistillRequest | None = None  # set when a summary is still needed
    problems: list[str] = field(default_factory=list)
    summary_tokens_spent: int | None = None  # tokens the summariser used (local), when known

    @property
    def ready(self) -> bool:
        return self.distill is None

    @property
    def saved_tokens(self) -> int:
        return max(0, self.full_tokens - self.tokens)

    @property
    def saved_percent(self) -> int:
        return round(100 * self.saved_tokens / self.full_tokens) if self.full_tokens else 0

    def label(self) -> str:
        """``scoped · ~1,240 tok (saves ~3,410 vs full, 73%)`` for the run view."""
        head = f"{self.strategy.value} · ~{self.tokens:,} tok"
        if self.strategy == ContextStrategy.FULL:
            return head
        if self.distill is not None:
            return f"{self.strategy.value} · summary pending (~{self.full_tokens:,} tok in full)"
        return f"{head} (saves ~{self.saved_tokens:,} vs full, {self.saved_percent}%)"

    def to_json(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy.value,
            "tokens": self.tokens,
            "full_tokens": self.full_tokens,
            "saved_tokens": self.saved_tokens,
            "saved_percent": self.saved_percent,
            "summary_tokens_spent": self.summary_tokens_spent,
            "estimate": "chars/4",
            "parts": [p.__dict__ for p in self.parts],
            "problems": list(self.problems),
        }


# --------------------------------------------------------------------------- files


def read_scoped_files(
    patterns: list[str], project: str | os.PathLike[str] | None
) -> tuple[list[tuple[str, str]], list[str]]:
    """(relative path, text) of the files the patterns name (globs allowed), and problems.

    Paths are relative to the project; a path that leaves the project is refused; a
    missing file is a problem, not an error. Each file is capped at :data:`MAX_FILE_CHARS`.
    """
    root = Path(project).resolve() if project is not None else Path.cwd().resolve()
    files: list[tuple[str, str]] = []
    problems: list[str] = []
    seen: set[Path] = set()
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(Path(p) for p in glob.glob(str(root / pattern), recursive=True))
            matches = [m for m in matches if m.is_file()]
            if not matches:
                problems.append(f"scoped files: nothing matches {pattern}")
        else:
            matches = [root / pattern]
        for m in matches:
            path = m.resolve()
            if path in seen:
                continue
            seen.add(path)
            try:
                rel = path.relative_to(root)
            except ValueError:
                problems.append(f"scoped files: {pattern} is outside the project")
                continue
            if not path.is_file():
                problems.append(f"scoped files: {rel} not found")
                continue
            if len(files) >= MAX_FILES:
                problems.append(f"scoped files: more than {MAX_FILES} files; the rest left out")
                break
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError as exc:
                problems.append(f"scoped files: cannot read {rel}: {exc.strerror}")
                continue
            if len(text) > MAX_FILE_CHARS:
                text = text[:MAX_FILE_CHARS] + f"\n… ({len(text) - MAX_FILE_CHARS} more characters cut)"
            files.append((str(rel), text))
    return files, problems


# --------------------------------------------------------------------------- building


def _dep_block(dep: DependencyOutput) -> str:
    head = f"## Output of {dep.name}" + (f" ({dep.label})" if dep.label else "")
    return f"{head}\n{dep.text.strip()}"


def _file_block(path: str, text: str) -> str:
    return f"## File {path}\n```\n{text}\n```"


def _assemble(task: str, blocks: list[str]) -> str:
    text = task.strip()
    if blocks:
        text += "\n\n# Context\n\n" + "\n\n".join(blocks)
    return text


def distill_input(deps: list[DependencyOutput], task: str) -> str:
    """What the summarising ensemble reads: the next task, then the outputs to distil."""
    return (
        "Distil the outputs below for the next step. Keep the key decisions, constraints, "
        "interfaces, file names and risks; drop everything else.\n\n"
        f"# Next step\n{task.strip()}\n\n# Outputs\n\n" + "\n\n".join(_dep_block(d) for d in deps)
    )


def build_context(
    task: str,
    deps: list[DependencyOutput],
    strategy: ContextStrategy | str = ContextStrategy.FULL,
    *,
    inputs: list[str] | None = None,
    files: list[str] | None = None,
    project: str | os.PathLike[str] | None = None,
    summary: str | None = None,
    distill_ensemble: str = DEFAULT_DISTILL_ENSEMBLE,
    summary_tokens_spent: int | None = None,
) -> ContextResult:
    """The input text of a row under ``strategy``, with its token accounting.

    ``deps``: the outputs of the row's dependencies (for "full" pass every ancestor you
    want accumulated). ``inputs``: names in ``deps`` the row asks for explicitly.
    ``files``: paths/globs for scoped (and included by full). ``summary``: the distilled
    text, once the :class:`DistillRequest` has been run.
    """
    strat = parse_strategy(strategy)
    if strat is None:
        raise ValueError(f'unknown context strategy "{strategy}" (full, scoped, distilled, fresh)')
    problems: list[str] = []
    names = [d.name for d in deps]
    wanted = list(inputs or [])
    for name in wanted:
        if name not in names:
            problems.append(f'input "{name}" is not among the dependencies ({", ".join(names) or "none"})')
    file_texts: list[tuple[str, str]] = []
    if files:
        file_texts, file_problems = read_scoped_files(list(files), project)
        if strat in (ContextStrategy.FULL, ContextStrategy.SCOPED):
            problems.extend(file_problems)

    dep_blocks = {d.name: _dep_block(d) for d in deps}
    file_blocks = [(p, _file_block(p, t)) for p, t in file_texts]
    full_text = _assemble(task, [*dep_blocks.values(), *(b for _, b in file_blocks)])
    full_tokens = estimate_tokens(full_text)

    parts = [ContextPart("task", "task", estimate_tokens(task.strip()), True)]
    blocks: list[str] = []
    _add_dependencies(strat, deps, wanted, dep_blocks, blocks, parts)
    distill: DistillRequest | None = None
    if strat == ContextStrategy.DISTILLED and deps:
        distill = _add_summary(task, deps, summary, distill_ensemble, blocks, parts)
    _add_files(strat, file_blocks, blocks, parts)
    if strat == ContextStrategy.SCOPED and not files:
        problems.append("scoped context without files: only the task and explicit inputs are given")
    text = _assemble(task, blocks)
    return ContextResult(
        strategy=strat,
        text=text,
        tokens=estimate_tokens(text),
        full_tokens=full_tokens,
        parts=parts,
        distill=distill,
        problems=problems,
        summary_tokens_spent=summary_tokens_spent,
    )


def _add_dependencies(
    strat: ContextStrategy,
    deps: list[DependencyOutput],
    wanted: list[str],
    dep_blocks: dict[str, str],
    blocks: list[str],
    parts: list[ContextPart],
) -> None:
    """Explicit inputs always; other dependencies under full only; distilled summarises them all."""
    if strat == ContextStrategy.DISTILLED:
        # every dependency (explicit inputs too) is replaced by one summary
        for d in deps:
            parts.append(
                ContextPart("dependency", d.name, estimate_tokens(dep_blocks[d.name]), False, "summarised")
            )
        return
    for d in (d for d in deps if d.name in wanted):
        blocks.append(dep_blocks[d.name])
        parts.append(ContextPart("input", d.name, estimate_tokens(dep_blocks[d.name]), True))
    for d in (d for d in deps if d.name not in wanted):
        if strat == ContextStrategy.FULL:
            blocks.append(dep_blocks[d.name])
            parts.append(ContextPart("dependency", d.name, estimate_tokens(dep_blocks[d.name]), True))
        else:
            note = "not in scope" if strat == ContextStrategy.SCOPED else "not an explicit input"
            parts.append(ContextPart("dependency", d.name, estimate_tokens(dep_blocks[d.name]), False, note))


def _add_summary(
    task: str,
    deps: list[DependencyOutput],
    summary: str | None,
    distill_ensemble: str,
    blocks: list[str],
    parts: list[ContextPart],
) -> DistillRequest | None:
    """Distilled: the summary once it exists, else the request to make it."""
    if summary is None:
        text_in = distill_input(deps, task)
        return DistillRequest(
            ensemble=distill_ensemble,
            input_text=text_in,
            sources=[d.name for d in deps],
            input_tokens=estimate_tokens(text_in),
        )
    block = "## Summary of earlier steps\n" + summary.strip()
    blocks.append(block)
    parts.append(ContextPart("summary", distill_ensemble, estimate_tokens(block), True))
    return None


def _add_files(
    strat: ContextStrategy, file_blocks: list[tuple[str, str]], blocks: list[str], parts: list[ContextPart]
) -> None:
    """Files are given under full and scoped; listed as unused otherwise."""
    if strat in (ContextStrategy.FULL, ContextStrategy.SCOPED):
        for p, b in file_blocks:
            blocks.append(b)
            parts.append(ContextPart("file", p, estimate_tokens(b), True))
    else:
        for p, b in file_blocks:
            parts.append(ContextPart("file", p, estimate_tokens(b), False, f"not used by {strat.value}"))


# --------------------------------------------------------------------------- per row / phase


@dataclass
class ContextSpec:
    strategy: ContextStrategy = ContextStrategy.FULL
    files: list[str] = field(default_factory=list)
    inputs: list[str] = field(default_factory=list)
    distill_with: str = DEFAULT_DISTILL_ENSEMBLE


def _str_list(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [str(v) for v in value if v is not None]
    return []


def context_spec_for(row: Any, phase: Any = None) -> ContextSpec:
    """The strategy for a plan row: the row's own fields win, then its phase's, then full.

    ``row``: a :class:`PlanRow` (fields ``context_strategy``, ``context_files``,
    ``inputs``, ``distill_with``; a hand-written ``context`` or ``files`` is read from its
    unknown fields) or a mapping; ``phase``: a
    ``workflows.PhaseTemplate`` or a mapping with the same names (``context``, ``files``,
    ``inputs``, ``distill_with``).
    """

    def get(obj: Any, *keys: str) -> Any:
        if obj is None:
            return None
        for key in keys:
            if isinstance(obj, dict):
                value = obj.get(key)
            else:
                value = getattr(obj, key, None)
                if value is None:
                    extra = getattr(obj, "__pydantic_extra__", None) or {}
                    value = extra.get(key)
            if value not in (None, "", []):
                return value
        return None

    strategy = parse_strategy(get(row, "context_strategy", "context")) or parse_strategy(
        get(phase, "context", "context_strategy")
    )
    files = _str_list(get(row, "context_files", "files")) or _str_list(get(phase, "files", "context_files"))
    inputs = _str_list(get(row, "inputs")) or _str_list(get(phase, "input_rows"))
    distill_with = get(row, "distill_with") or get(phase, "distill_with") or DEFAULT_DISTILL_ENSEMBLE
    return ContextSpec(
        strategy=strategy or ContextStrategy.FULL,
        files=files,
        inputs=inputs,
        distill_with=str(distill_with),
    )


def ancestors(plan: Any, row_id: str) -> list[str]:
    """Every row ``row_id`` depends on, directly or not, in plan order."""
    by_id = {r.id: r for r in plan.subtasks}
    seen: set[str] = set()
    stack = list(by_id[row_id].depends_on) if row_id in by_id else []
    while stack:
        rid = stack.pop()
        if rid in seen or rid not in by_id:
            continue
        seen.add(rid)
        stack.extend(by_id[rid].depends_on)
    return [r.id for r in plan.subtasks if r.id in seen]


def row_context(
    plan: Any,
    row_id: str,
    outputs: dict[str, str],
    *,
    project: str | os.PathLike[str] | None = None,
    summary: str | None = None,
    summary_tokens_spent: int | None = None,
    phase: Any = None,
) -> ContextResult:
    """The input of plan row ``row_id`` under its strategy, from the finished rows' ``outputs``.

    "full" accumulates every ancestor's output; the other strategies start from the row's
    direct dependencies. Rows without an output (not run, rejected) are left out.
    """
    by_id = {r.id: r for r in plan.subtasks}
    row = by_id[row_id]
    spec = context_spec_for(row, phase)
    source_ids = ancestors(plan, row_id) if spec.strategy == ContextStrategy.FULL else list(row.depends_on)
    deps = [
        DependencyOutput(rid, outputs[rid], by_id[rid].description if rid in by_id else None)
        for rid in source_ids
        if rid in outputs
    ]
    # "full" is measured over every ancestor whatever the strategy, so savings are honest
    full_deps = [
        DependencyOutput(rid, outputs[rid], by_id[rid].description if rid in by_id else None)
        for rid in ancestors(plan, row_id)
        if rid in outputs
    ]
    result = build_context(
        row.description,
        deps,
        spec.strategy,
        inputs=[i for i in spec.inputs if i in outputs],
        files=spec.files,
        project=project,
        summary=summary,
        distill_ensemble=spec.distill_with,
        summary_tokens_spent=summary_tokens_spent,
    )
    if spec.strategy != ContextStrategy.FULL:
        baseline = build_context(
            row.description, full_deps, ContextStrategy.FULL, files=spec.files, project=project
        )
        result.full_tokens = baseline.full_tokens
    return result
