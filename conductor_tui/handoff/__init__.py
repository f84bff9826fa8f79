"""The protocol with the coding session (files + CLI verbs). No Textual."""
