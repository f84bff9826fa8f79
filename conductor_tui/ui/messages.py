"""How the cockpit's parts talk: typed Textual messages and the app's signals.

*Messages* carry a worker's result back to the screen that started it: the worker
(a thread) calls ``self.post_message(PlansRead(result))`` — ``post_message`` is
thread-safe — and the screen handles it on the UI loop with ``@on(PlansRead)``.  No
worker calls a screen's method across threads.

*Signals* (``textual.signal.Signal``) carry app-wide events to every screen that
subscribed, in every mode: :class:`AppSignals` lists them; the app owns one of each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from textual.message import Message
from textual.signal import Signal

if TYPE_CHECKING:
    from textual.dom import DOMNode

    from conductor_tui.core.records import WorkflowPlan
    from conductor_tui.ui.catalog import Catalog


class AppSignals:
    """The app-wide events (one :class:`~textual.signal.Signal` each, owned by the app).

    * ``project_changed`` — files under ``.llm-orc/`` changed outside the screen that shows
      them (starter kit installed, an evaluation recorded): screens re-read what they show.
    * ``plan_revised`` — a new revision of a workflow plan was appended (routing, a row's
      run finished): the Plan screen shows it without re-reading the log.
    """

    def __init__(self, owner: DOMNode) -> None:
        self.project_changed: Signal[None] = Signal(owner, "project-changed")
        self.plan_revised: Signal[WorkflowPlan] = Signal(owner, "plan-revised")


# ---------------------------------------------------------------------- app workers


class CatalogLoaded(Message):
    """The ensembles were loaded and checked (``worker``: the thread that did it; a newer
    check cancels it, and a cancelled worker's result is dropped)."""

    def __init__(self, catalog: Catalog, worker: Any) -> None:
        super().__init__()
        self.catalog = catalog
        self.worker = worker


class StylesGathered(Message):
    """The screens' modules are imported: their widgets' CSS sources, to parse while idle."""

    def __init__(self, sources: list[Any]) -> None:
        super().__init__()
        self.sources = sources


class HandoffImported(Message):
    """The session link's modules are imported: the app can start the heartbeat."""


class StarterKitInstalled(Message):
    """The starter kit was written into the project (``text``: what to tell the person)."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.text = text


# ---------------------------------------------------------------------- plan screen workers


class PlansRead(Message):
    """The plan log read from the last offset (a ``core.store`` read result)."""

    def __init__(self, result: Any) -> None:
        super().__init__()
        self.result = result


class ProfilesRead(Message):
    """Task-type phases and the local-to-Claude token ratio (they refine the plan's display)."""

    def __init__(self, phases: dict[str, str], ratio: float | None) -> None:
        super().__init__()
        self.phases = phases
        self.ratio = ratio


class RoutingRead(Message):
    """What the plan's routing marks need: specs, roles, model sizes, config, capacity."""

    def __init__(
        self,
        engine_catalog: Any,
        roles: Any,
        choices: list[Any],
        sizes: dict[str, Any],
        config: Any,
        task_profiles: Any,
        capacity: dict[str, Any],
    ) -> None:
        super().__init__()
        self.engine_catalog = engine_catalog
        self.roles = roles
        self.choices = choices
        self.sizes = sizes
        self.config = config
        self.task_profiles = task_profiles
        self.capacity = capacity


class PlanRouted(Message):
    """The conductor loop routed a plan made here and appended the revision."""

    def __init__(self, plan: WorkflowPlan) -> None:
        super().__init__()
        self.plan = plan


class PlanningProgress(Message):
    """Claude's plan is streaming in (``chars`` received so far)."""

    def __init__(self, meta_task: str, chars: int) -> None:
        super().__init__()
        self.meta_task = meta_task
        self.chars = chars


class PlanningFailed(Message):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message


class PlanningDone(Message):
    """Claude planned the meta-task (``build``: ``handoff.planning.PlanBuild``)."""

    def __init__(self, build: Any) -> None:
        super().__init__()
        self.build = build


class TemplatesListed(Message):
    """The workflow templates (shipped and the project's), broken ones included."""

    def __init__(self, entries: list[Any]) -> None:
        super().__init__()
        self.entries = entries
