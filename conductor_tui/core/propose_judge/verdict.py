"""Reading a judge's verdict tolerantly: JSON in a fence or in prose, key and value synonyms,
"Proposal B" / "2" / an agent name for ``picked``."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any, Literal

VerdictKind = Literal["pick", "synthesis"]

# --------------------------------------------------------------------------- verdicts


@dataclass
class Verdict:
    verdict: VerdictKind | None
    picked: str | None
    reasoning: str
    result: str
    parsed: bool  # the judge's output held a JSON object
    raw: str = ""
    problems: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """``picked propose-llama`` / ``synthesised`` / ``no verdict`` for a heading."""
        if self.verdict == "pick" and self.picked:
            return f"picked {self.picked}"
        if self.verdict == "synthesis":
            return "synthesised from " + self.picked if self.picked else "synthesised"
        return "no clear verdict"


_VERDICT_KEYS = ("verdict", "decision", "choice", "mode", "action", "outcome")
_PICKED_KEYS = (
    "picked",
    "pick",
    "winner",
    "chosen",
    "selected",
    "selection",
    "best",
    "best_proposal",
    "proposal",
)
_REASON_KEYS = ("reasoning", "reason", "rationale", "why", "explanation", "justification")
_RESULT_KEYS = ("result", "final", "final_plan", "plan", "output", "answer", "synthesis", "content", "text")
_PICK_WORDS = {
    "pick",
    "picked",
    "select",
    "selected",
    "choose",
    "chose",
    "chosen",
    "winner",
    "best",
    "single",
}
_SYNTH_WORDS = {
    "synthesis",
    "synthesise",
    "synthesize",
    "synthesised",
    "synthesized",
    "synth",
    "merge",
    "merged",
    "combine",
    "combined",
    "combination",
    "blend",
    "hybrid",
}


def _json_objects(text: str) -> list[dict[str, Any]]:
    """Every top-level JSON object in ``text`` (code fences and prose around them allowed)."""
    out: list[dict[str, Any]] = []
    decoder = json.JSONDecoder()
    i = 0
    while True:
        start = text.find("{", i)
        if start < 0:
            break
        try:
            obj, end = decoder.raw_decode(text, start)
        except ValueError:
            i = start + 1
            continue
        if isinstance(obj, dict):
            out.append(obj)
        i = end
    return out


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    lowered = {str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in obj.items()}
    for key in keys:
        if key in lowered and lowered[key] not in (None, ""):
            return lowered[key]
    return None


def _as_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False, indent=2)


def _verdict_word(value: Any) -> VerdictKind | None:
    if not isinstance(value, str):
        return None
    words = set(re.findall(r"[a-z]+", value.lower()))
    if words & _SYNTH_WORDS:
        return "synthesis"
    if words & _PICK_WORDS:
        return "pick"
    return None


def match_proposer(value: Any, proposers: list[str] | None) -> str | None:
    """Map "Proposal B", "2", "propose_llama", "Agent propose-llama (…)" onto a proposer."""
    if value is None:
        return None
    if isinstance(value, list):
        value = value[0] if value else None
        if value is None:
            return None
    text = str(value).strip()
    if not proposers:
        return text or None
    norm = {re.sub(r"[\s_]+", "-", p.lower()): p for p in proposers}
    key = re.sub(r"[\s_]+", "-", text.lower()).strip("\"'`.")
    if key in norm:
        return norm[key]
    for k, p in sorted(norm.items(), key=lambda kv: -len(kv[0])):
        if k in key:
            return p
    m = re.fullmatch(r"(?:proposal|option|plan|agent|candidate)?[-\s#]*([a-z]|\d+)", key)
    if m:
        token = m.group(1)
        index = int(token) - 1 if token.isdigit() else ord(token) - ord("a")
        if 0 <= index < len(proposers):
            return proposers[index]
    return text or None


def parse_verdict(text: str | None, proposers: list[str] | None = None) -> Verdict:
    """The judge's verdict from its output, however it was wrapped."""
    raw = text or ""
    problems: list[str] = []
    for obj in reversed(_json_objects(raw)):
        verdict_value = _first(obj, _VERDICT_KEYS)
        picked_value = _first(obj, _PICKED_KEYS)
        reasoning = _as_text(_first(obj, _REASON_KEYS))
        result = _as_text(_first(obj, _RESULT_KEYS))
        if verdict_value is None and picked_value is None and not result:
            continue
        kind = _verdict_word(verdict_value)
        picked = match_proposer(picked_value, proposers)
        if kind is None:
            kind = "pick" if picked and (not proposers or picked in proposers) else None
            if verdict_value is not None:
                problems.append(f'verdict "{verdict_value}" is neither pick nor synthesis')
        if kind == "pick" and proposers and picked not in proposers:
            problems.append(f'picked "{picked_value}" is not one of the proposers ({", ".join(proposers)})')
        if not result:
            problems.append("the judge gave no result")
        return Verdict(kind, picked, reasoning, result, True, raw, problems)
    # No JSON: read the prose.
    kind = _verdict_word(" ".join(raw.split()[:40]))
    picked = None
    if proposers:
        m = re.search(r"\b(?:pick|picked|choose|chose|select|selected|winner)\b[:\s]*([^\n.,;]+)", raw, re.I)
        if m:
            picked = match_proposer(m.group(1), proposers)
            picked = picked if picked in proposers else None
    problems.append("the judge's output is not JSON; showing it as the result")
    return Verdict(kind, picked, "", raw.strip(), False, raw, problems)
