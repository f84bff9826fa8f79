"""Ollama, Anthropic, GPU and system providers. No Textual."""
