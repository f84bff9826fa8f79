"""conductor-tui: a terminal cockpit for local-first LLM work."""

__version__ = "0.1.0"
