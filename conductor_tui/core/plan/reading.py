"""Plans from a file (JSON or YAML: a WorkflowPlan or a bare list of subtasks) or from text
(one subtask per line, optionally ``description → handler (category)``). Errors name the
file and line."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from conductor_tui.core.plan.rows import Clock, PlanError, _utcnow, normalise_handler
from conductor_tui.core.records import (
    Delegability,
    PlanRow,
    WorkflowPlan,
    enum_normaliser,
)
from conductor_tui.core.store import loads_bounded

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
