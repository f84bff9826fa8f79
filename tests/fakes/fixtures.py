"""Pytest fixtures around the protocol-faithful fake servers (registered in conftest)."""
