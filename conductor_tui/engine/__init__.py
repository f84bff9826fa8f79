"""Ensemble loading (llm-orc format), validation and the async executor. No Textual."""
