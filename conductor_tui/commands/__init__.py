"""Implementations of the ``conductor-tui`` subcommands (one module each; no Textual
except ``demo``, which opens the cockpit)."""
