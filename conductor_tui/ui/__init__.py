"""The Textual cockpit: presents state and asks; owns no rules."""
