"""Workflow plans: decisions, summary, loading (see the glossary: meta-task).

Every operation is a pure function: it takes a :class:`WorkflowPlan` and returns a
NEW revision (``revision + 1``, a ``change`` text, ``decided_at`` on the rows it
touched).  The caller persists it (``store.append_plan``) before showing it.

Plans come from ``workflow-plans.jsonl`` (the coding session), from a file (JSON or
YAML, a WorkflowPlan or a bare list of subtasks) or from text the person types
(one subtask per line, optionally in the spec's ``description → handler (category)``
form).  Errors name the file and line.

This module never imports Textual.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from conductor_tui.core.records import (
    Delegability,
    PlanRow,
    RowStatus,
    WorkflowPlan,
    enum_normaliser,
)
from conductor_tui.core.store import loads_bounded

Clock = Callable[[], datetime]

CLAUDE = "claude"
CREATE_ENSEMBLE = "create-ensemble"
#: Local models spend more tokens than Claude for the same output (see the glossary: token savings).
DEFAULT_LOCAL_TO_CLAUDE_RATIO = 1.2
_DECIDED = {RowStatus.APPROVED, RowStatus.REJECTED, RowStatus.RUNNING, RowStatus.DONE, RowStatus.FAILED}


def _utcnow() -> datetime:
    return datetime.now(UTC)


class PlanError(ValueError):
    """A plan operation or a plan file that cannot be used; the message says why (and where)."""


# --------------------------------------------------------------------------- handlers


def handler_kind(handler: str | None) -> str:
    """``"claude"``, ``"create"`` or ``"ensemble"`` for a handler string."""
    text = (handler or "").strip().lower()
    if not text:
        return "create"
    if text.startswith("claude"):
        return "claude"
    squashed = re.sub(r"[\s_]+", "-", text).strip('"')
    if squashed in {"create-ensemble", "create", "request-new-ensemble", "new-ensemble", "design"}:
        return "create"
    return "ensemble"


def normalise_handler(handler: str) -> str:
    """``"Claude"`` → ``claude``, ``"create ensemble"`` → ``create-ensemble``, names kept."""
    kind = handler_kind(handler)
    return {"claude": CLAUDE, "create": CREATE_ENSEMBLE}.get(kind, handler.strip().strip('"'))


def effective_handler(row: PlanRow) -> str:
    """The row's handler, defaulting by category: Claude-only → claude, else create-ensemble."""
    if row.handler and row.handler.strip():
        kind = handler_kind(row.handler)
        return {"claude": CLAUDE, "create": CREATE_ENSEMBLE}.get(kind, row.handler.strip())
    if row.delegability_category == Delegability.CLAUDE:
        return CLAUDE
    return CREATE_ENSEMBLE


def handler_label(row: PlanRow) -> str:
    """The handler as the spec writes it: ensemble name, ``create ensemble`` or ``Claude``."""
    handler = effective_handler(row)
    if handler == CLAUDE:
        if row.preparation_ensemble:
            return f"Claude ← {row.preparation_ensemble}"
        return "Claude"
    if handler == CREATE_ENSEMBLE:
        return "create ensemble"
    return handler


def is_local(row: PlanRow) -> bool:
    """Work done by a local ensemble (existing or to be created)."""
    return handler_kind(effective_handler(row)) != "claude"


def is_decided(row: PlanRow) -> bool:
    return row.status in _DECIDED


# A row that ran (or is running) keeps its decision: approving, rejecting or undoing it
# would rewrite history the session and the logs already hold.
FINAL_STATUSES = frozenset({RowStatus.RUNNING, RowStatus.DONE, RowStatus.FAILED})


def is_final(row: PlanRow) -> bool:
    """True when the row ran or is running: its decision can no longer change."""
    return row.status in FINAL_STATUSES


# --------------------------------------------------------------------------- revisions


def _find(plan: WorkflowPlan, row_id: str) -> int:
    for index, row in enumerate(plan.subtasks):
        if row.id == row_id:
            return index
    raise PlanError(f"plan {plan.id} has no row {row_id!r}")


def row_number(plan: WorkflowPlan, row_id: str) -> int:
    """1-based position of a row (what the table's # column shows)."""
    return _find(plan, row_id) + 1


def next_revision(
    plan: WorkflowPlan, rows: list[PlanRow], change: str, clock: Clock = _utcnow
) -> WorkflowPlan:
    """A new revision of ``plan`` with ``rows``; status follows the rows' decisions."""
    new = plan.model_copy(deep=True)
    new.subtasks = [r.model_copy(deep=True) for r in rows]
    new.revision = plan.revision + 1
    new.timestamp = clock()
    new.change = change
    if plan.status in {"proposed", "decided"}:
        new.status = "decided" if rows and all(is_decided(r) for r in rows) else "proposed"
    return new


def _update_rows(
    plan: WorkflowPlan,
    row_ids: Iterable[str],
    change: str,
    clock: Clock,
    mutate: Callable[[PlanRow], None],
) -> WorkflowPlan:
    wanted = list(row_ids)
    indexes = {_find(plan, rid) for rid in wanted}
    if not indexes:
        raise PlanError("no rows to change")
    now = clock()
    rows = []
    for index, row in enumerate(plan.subtasks):
        row = row.model_copy(deep=True)
        if index in indexes:
            mutate(row)
            row.decided_at = now
        rows.append(row)
    return next_revision(plan, rows, change, lambda: now)


def decide(
    plan: WorkflowPlan,
    row_ids: Iterable[str],
    status: RowStatus,
    clock: Clock = _utcnow,
    *,
    change: str | None = None,
) -> WorkflowPlan:
    """Set the decision (approved / rejected / pending) of the given rows."""
    ids = list(row_ids)
    status = RowStatus(status)
    for rid in ids:
        row = plan.subtasks[_find(plan, rid)]
        if is_final(row):
            raise PlanError(
                f"#{row_number(plan, rid)} is {RowStatus(row.status).value}: its decision is final "
                f"(approve, reject and undo only change rows that have not run)"
            )

    def mutate(row: PlanRow) -> None:
        row.status = status

    if change is None:
        numbers = ", ".join(f"#{row_number(plan, rid)}" for rid in ids)
        change = f"{status.value} {numbers}"
    return _update_rows(plan, ids, change, clock, mutate)


def approve(plan: WorkflowPlan, row_id: str, clock: Clock = _utcnow) -> WorkflowPlan:
    return decide(plan, [row_id], RowStatus.APPROVED, clock)


def reject(plan: WorkflowPlan, row_id: str, clock: Clock = _utcnow) -> WorkflowPlan:
    return decide(plan, [row_id], RowStatus.REJECTED, clock)


def bulk_decide(
    plan: WorkflowPlan,
    status: RowStatus,
    clock: Clock = _utcnow,
    row_ids: Iterable[str] | None = None,
) -> WorkflowPlan:
    """Decide many rows at once: ``row_ids``, or every still-pending row."""
    if row_ids is None:
        ids = [r.id for r in plan.subtasks if r.status == RowStatus.PENDING]
    else:
        ids = list(row_ids)
    if not ids:
        raise PlanError("no pending rows to decide")
    status = RowStatus(status)
    return decide(plan, ids, status, clock, change=f"{status.value} {len(ids)} rows (bulk)")


def override_handler(plan: WorkflowPlan, row_id: str, handler: str, clock: Clock = _utcnow) -> WorkflowPlan:
    """Route a row elsewhere (an ensemble name, ``claude`` or ``create-ensemble``).

    The proposed handler is kept in ``original_handler`` (first override only)."""
    handler = handler.strip()
    if not handler:
        raise PlanError("a handler is required")
    new_handler = normalise_handler(handler)
    index = _find(plan, row_id)
    old = effective_handler(plan.subtasks[index])

    def mutate(row: PlanRow) -> None:
        if row.original_handler is None:
            row.original_handler = old
        row.handler = new_handler

    return _update_rows(plan, [row_id], f"override #{index + 1}: {old} → {new_handler}", clock, mutate)


def send_to_claude_for_capacity(
    plan: WorkflowPlan, row_id: str, reason: str, clock: Clock = _utcnow
) -> WorkflowPlan:
    """The person sends a row whose ensemble would spill or queue to Claude: handler
    ``claude``, the proposed handler kept in ``original_handler``, ``route_reason:
    "capacity: <reason>"`` (``record claude-task`` for the row then logs reason ``capacity``)."""
    index = _find(plan, row_id)
    old = effective_handler(plan.subtasks[index])
    if handler_kind(old) != "ensemble":
        raise PlanError(f"row #{index + 1} is not routed to an ensemble ({old})")

    def mutate(row: PlanRow) -> None:
        if row.original_handler is None:
            row.original_handler = old
        row.handler = "claude"
        row.route_reason = f"capacity: {reason}"
        (row.__pydantic_extra__ or {}).pop("capacity", None)

    return _update_rows(plan, [row_id], f"capacity #{index + 1}: {old} → claude", clock, mutate)


def edit_description(plan: WorkflowPlan, row_id: str, text: str, clock: Clock = _utcnow) -> WorkflowPlan:
    text = " ".join(text.split())
    if not text:
        raise PlanError("a subtask needs a description")
    index = _find(plan, row_id)
    if plan.subtasks[index].description == text:
        raise PlanError("unchanged")

    def mutate(row: PlanRow) -> None:
        row.description = text

    return _update_rows(plan, [row_id], f"edit #{index + 1}", clock, mutate)


def attach_note(plan: WorkflowPlan, row_id: str, note: str, clock: Clock = _utcnow) -> WorkflowPlan:
    note = note.strip()
    index = _find(plan, row_id)

    def mutate(row: PlanRow) -> None:
        row.note = note or None

    verb = "note" if note else "clear note"
    return _update_rows(plan, [row_id], f"{verb} #{index + 1}", clock, mutate)


def set_row_status(
    plan: WorkflowPlan,
    row_id: str,
    status: RowStatus,
    clock: Clock = _utcnow,
    *,
    routing_id: str | None = None,
) -> WorkflowPlan:
    """Record a row's execution state (running / done / failed) and the run it produced."""
    index = _find(plan, row_id)
    status = RowStatus(status)

    def mutate(row: PlanRow) -> None:
        row.status = status
        if routing_id is not None:
            row.routing_id = routing_id

    return _update_rows(plan, [row_id], f"{status.value} #{index + 1}", clock, mutate)


# --------------------------------------------------------------------------- summary


@dataclass
class PlanSummary:
    """The numbers of the spec's summary line."""

    agent: int = 0
    ensemble: int = 0
    claude: int = 0
    prepared: int = 0
    unclassified: int = 0
    local: int = 0
    total: int = 0
    rejected: int = 0
    pending: int = 0
    approved: int = 0
    to_create: list[str] = field(default_factory=list)
    create_uses: dict[str, int] = field(default_factory=dict)
    estimated_savings: int = 0

    @property
    def local_percent(self) -> int:
        return round(100 * self.local / self.total) if self.total else 0

    def line(self) -> str:
        text = (
            f"{self.agent} agent-delegable, {self.ensemble} ensemble-delegable, "
            f"{self.claude} Claude-only ({self.prepared} ensemble-prepared) ({self.local_percent}% local)"
        )
        if self.unclassified:
            text += f", {self.unclassified} unclassified"
        return text

    def create_line(self) -> str:
        if not self.to_create:
            return "Ensembles to create: none"
        parts = []
        for name in self.to_create:
            uses = self.create_uses.get(name) or 0
            parts.append(f"{name} ({uses} uses)" if uses else name)
        return "Ensembles to create: " + ", ".join(parts)

    def savings_line(self) -> str:
        return f"Estimated token savings: ~{self.estimated_savings:,} tokens"

    def decisions_line(self) -> str:
        return f"{self.approved} approved · {self.rejected} rejected · {self.pending} pending"


def local_to_claude_ratio(thresholds: Any = None) -> float:
    """The local→Claude token ratio from the routing config's thresholds (default 1.2)."""
    value = getattr(thresholds, "local_to_claude_token_ratio", None)
    if value is None:
        try:
            from conductor_tui.core.records import RoutingThresholds

            value = getattr(RoutingThresholds(), "local_to_claude_token_ratio", None)
        except Exception:  # pragma: no cover - defensive
            value = None
    return float(value) if isinstance(value, int | float) and value > 0 else DEFAULT_LOCAL_TO_CLAUDE_RATIO


def worth_planning(plan: WorkflowPlan, thresholds: Any = None) -> tuple[bool, str]:
    """The complexity floor (fewer than ~5 subtasks or 3 delegable → handle directly)."""
    rows = [r for r in plan.subtasks if r.status != RowStatus.REJECTED]
    delegable = sum(1 for r in rows if r.delegability_category in (Delegability.AGENT, Delegability.ENSEMBLE))
    try:
        from conductor_tui.core.records import RoutingThresholds
        from conductor_tui.core.rules import complexity_floor

        decision = complexity_floor(len(rows), delegable, thresholds or RoutingThresholds())
        return decision.plan, decision.reason
    except Exception:  # pragma: no cover - rules are part of the package
        ok = len(rows) >= 5 and delegable >= 3
        return ok, f"{len(rows)} subtasks, {delegable} delegable"


def estimated_claude_tokens(row: PlanRow, ratio: float | None = None) -> int | None:
    """What Claude would spend on the row: given, or local tokens / ratio."""
    if row.estimated_claude_tokens is not None:
        return row.estimated_claude_tokens
    if row.estimated_local_tokens is not None:
        return round(row.estimated_local_tokens / (ratio or local_to_claude_ratio()))
    return None


def summarize(plan: WorkflowPlan, ratio: float | None = None) -> PlanSummary:
    """Counts over the rows that are not rejected."""
    ratio = ratio or local_to_claude_ratio()
    out = PlanSummary()
    create: dict[str, int] = {}  # task type → expected uses (the design priority)
    for row in plan.subtasks:
        if row.status == RowStatus.REJECTED:
            out.rejected += 1
            continue
        if row.status == RowStatus.PENDING:
            out.pending += 1
        else:
            out.approved += 1
        out.total += 1
        category = row.delegability_category
        if category == Delegability.AGENT:
            out.agent += 1
        elif category == Delegability.ENSEMBLE:
            out.ensemble += 1
        elif category == Delegability.CLAUDE:
            out.claude += 1
        else:
            out.unclassified += 1
        handler = effective_handler(row)
        if handler == CLAUDE:
            if row.preparation_ensemble:
                out.prepared += 1
            continue
        out.local += 1
        if handler == CREATE_ENSEMBLE:
            key = row.task_type or row.description[:40]
            create[key] = create.get(key, 0) + (row.expected_repetitions or 0)
        saved = estimated_claude_tokens(row, ratio)
        if saved:
            out.estimated_savings += saved
    # Sequence ensemble requests by expected repetitions (higher first).
    out.to_create = sorted(create, key=lambda k: -create[k])
    out.create_uses = dict(create)
    return out


# --------------------------------------------------------------------------- loading

_DESCRIPTION_KEYS = ("description", "subtask", "task", "title", "summary", "task_summary", "name")
_HANDLER_KEYS = ("handler", "ensemble", "routed_to", "route", "assigned_to")
_CATEGORY_KEYS = ("delegability_category", "delegability", "category")
_NUMBER_KEYS = {
    "expected_repetitions": ("expected_repetitions", "repetitions", "reps", "expected_reps"),
    "estimated_local_tokens": ("estimated_local_tokens", "local_tokens", "est_local_tokens"),
    "estimated_claude_tokens": ("estimated_claude_tokens", "claude_tokens", "est_claude_tokens"),
}
_category = enum_normaliser(Delegability)


def _first(data: dict[str, Any], keys: Iterable[str]) -> Any:
    for key in keys:
        if key in data and data[key] not in (None, ""):
            return data[key]
    return None


def _row_from_any(item: Any) -> dict[str, Any]:
    if isinstance(item, str):
        return parse_plan_line(item) or {"description": item.strip()}
    if not isinstance(item, dict):
        raise PlanError(f"a subtask must be a mapping or a string, got {type(item).__name__}")
    data = dict(item)
    if "description" not in data:
        value = _first(data, _DESCRIPTION_KEYS)
        if value is not None:
            data["description"] = str(value)
    if "handler" not in data:
        value = _first(data, _HANDLER_KEYS)
        if value is not None:
            data["handler"] = str(value)
    if data.get("handler"):
        data["handler"] = normalise_handler(str(data["handler"]))
    if "delegability_category" not in data:
        value = _first(data, _CATEGORY_KEYS)
        if value is not None:
            data["delegability_category"] = value
    for target, keys in _NUMBER_KEYS.items():
        if target not in data:
            value = _first(data, keys)
            if value is not None:
                data[target] = value
    if "depends_on" in data and isinstance(data["depends_on"], str | int):
        data["depends_on"] = [str(data["depends_on"])]
    if isinstance(data.get("depends_on"), list):
        data["depends_on"] = [str(d) for d in data["depends_on"]]
    if not str(data.get("description") or "").strip():
        raise PlanError("a subtask has no description")
    return data


def plan_from_data(data: Any, *, source: str = "file", clock: Clock = _utcnow) -> WorkflowPlan:
    """A WorkflowPlan from parsed JSON/YAML: a plan mapping or a list of subtasks.

    Raises :class:`PlanError` (message without location) or pydantic's ValidationError."""
    if isinstance(data, dict) and isinstance(data.get("plan"), dict):
        data = data["plan"]
    if isinstance(data, list):
        data = {"subtasks": data}
    if not isinstance(data, dict):
        raise PlanError("expected a plan (a mapping with 'subtasks') or a list of subtasks")
    rows_data = data.get("subtasks", data.get("rows", data.get("steps")))
    if not isinstance(rows_data, list) or not rows_data:
        raise PlanError("the plan has no subtasks (expected a non-empty 'subtasks' list)")
    rows: list[PlanRow] = []
    for index, item in enumerate(rows_data):
        try:
            rows.append(PlanRow.model_validate(_row_from_any(item)))
        except PlanError as exc:
            raise PlanError(f"subtask {index + 1}: {exc}") from exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise PlanError(f"subtask {index + 1}: {where}: {first.get('msg')}") from exc
    body = {k: v for k, v in data.items() if k not in ("subtasks", "rows", "steps")}
    body.setdefault("meta_task", body.pop("meta-task", None) or body.pop("task", None) or "")
    body.setdefault("source", source)
    body.setdefault("timestamp", clock())
    try:
        plan = WorkflowPlan.model_validate({**body, "subtasks": []})
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise PlanError(f"{where}: {first.get('msg')}") from exc
    plan.subtasks = rows
    plan.meta_task = str(plan.meta_task or "")
    return plan


def _yaml_line(text: str, index: int | None) -> int | None:
    """Line (1-based) of subtask ``index`` in YAML/JSON text, when it can be found."""
    if index is None:
        return None
    try:
        import yaml

        from conductor_tui.core import safeyaml

        node = safeyaml.compose(text)
    except Exception:
        return None
    if node is None:
        return None
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if getattr(key, "value", None) == "plan" and isinstance(value, yaml.MappingNode):
                node = value
                break
        for key, value in node.value:
            if getattr(key, "value", None) in ("subtasks", "rows", "steps"):
                node = value
                break
    if isinstance(node, yaml.SequenceNode) and 0 <= index < len(node.value):
        return node.value[index].start_mark.line + 1
    return None


def load_plan_file(path: str | Path, *, clock: Clock = _utcnow) -> WorkflowPlan:
    """Load a plan from a JSON, YAML or JSONL file (the last line of a JSONL file).

    Raises :class:`PlanError` whose message starts with ``file:line:`` where known."""
    path = Path(path).expanduser()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError as exc:
        raise PlanError(f"{path}: no such file") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise PlanError(f"{path}: cannot read: {exc}") from exc
    if not text.strip():
        raise PlanError(f"{path}: the file is empty")
    suffix = path.suffix.lower()
    line_offset = 0
    if suffix == ".jsonl":
        lines = text.splitlines()
        for number in range(len(lines), 0, -1):
            if lines[number - 1].strip():
                text, line_offset = lines[number - 1], number - 1
                break
    data: Any
    if suffix in (".json", ".jsonl") or (suffix not in (".yaml", ".yml") and text.lstrip()[:1] in "[{"):
        try:
            data = loads_bounded(text)
        except json.JSONDecodeError as exc:
            raise PlanError(f"{path}:{exc.lineno + line_offset}: invalid JSON: {exc.msg}") from exc
        except ValueError as exc:
            raise PlanError(f"{path}:{1 + line_offset}: invalid JSON: {exc}") from exc
    else:
        import yaml

        from conductor_tui.core import safeyaml

        try:
            data = safeyaml.load(text)
        except safeyaml.YamlLimitError as exc:
            raise PlanError(f"{path}:{exc.line or 1}: invalid YAML: {exc.message}") from exc
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = (mark.line + 1) if mark is not None else 1
            raise PlanError(f"{path}:{line}: invalid YAML: {exc.problem or exc}") from exc
        except yaml.YAMLError as exc:
            raise PlanError(f"{path}: invalid YAML: {exc}") from exc
    try:
        plan = plan_from_data(data, source="file", clock=clock)
    except PlanError as exc:
        match = re.match(r"subtask (\d+):", str(exc))
        row_line = _yaml_line(text, int(match.group(1)) - 1 if match else None)
        where = f"{path}:{row_line + line_offset}" if row_line else str(path)
        raise PlanError(f"{where}: {exc}") from exc
    if not plan.meta_task:
        plan.meta_task = path.stem
    return plan


_LINE_NUMBER = re.compile(r"^\s*(?:[-*•]|\d+[.)]|\[[ xX]\])\s+")
_ARROW = re.compile(r"\s*(?:→|->|=>)\s*")
_TRAILING_CATEGORY = re.compile(r"\(([^()]*)\)\s*$")
_HEADER = re.compile(r'^\s*workflow plan for:\s*"?(.*?)"?\s*$', re.IGNORECASE)
_SKIP = re.compile(r"^\s*(subtasks:|summary:|ensembles to create:|estimated token savings:|proceed\??)", re.I)


def parse_plan_line(line: str) -> dict[str, Any] | None:
    """One subtask from a typed line: ``[1. ] description [→ handler] [(category)]``."""
    text = _LINE_NUMBER.sub("", line).strip()
    if not text:
        return None
    row: dict[str, Any] = {}
    parts = _ARROW.split(text, maxsplit=1)
    description = parts[0].strip()
    if len(parts) == 2:
        target = parts[1].strip()
        match = _TRAILING_CATEGORY.search(target)
        if match:
            category = _category(match.group(1))
            if isinstance(category, Delegability):
                row["delegability_category"] = category
            target = target[: match.start()].strip()
        target = target.strip('"')
        if target:
            row["handler"] = normalise_handler(target)
    else:
        match = _TRAILING_CATEGORY.search(description)
        if match:
            category = _category(match.group(1))
            if isinstance(category, Delegability):
                row["delegability_category"] = category
                description = description[: match.start()].strip()
    if not description:
        return None
    row["description"] = description
    return row


def plan_from_text(
    text: str,
    *,
    meta_task: str | None = None,
    clock: Clock = _utcnow,
    source: str = "cockpit",
) -> WorkflowPlan:
    """A plan from typed text: one subtask per line (blank lines and the spec's
    ``Summary:``/``Proceed?`` lines ignored; ``Workflow plan for: "…"`` sets the meta-task)."""
    rows: list[PlanRow] = []
    title = meta_task
    for line in text.splitlines():
        if not line.strip() or _SKIP.match(line):
            continue
        header = _HEADER.match(line)
        if header:
            title = title or header.group(1)
            continue
        parsed = parse_plan_line(line)
        if parsed:
            rows.append(PlanRow.model_validate(parsed))
    if not rows:
        raise PlanError("type at least one subtask (one per line)")
    return WorkflowPlan(
        meta_task=(title or rows[0].description)[:200],
        source=source,
        timestamp=clock(),
        subtasks=rows,
        change="created in the cockpit",
    )
