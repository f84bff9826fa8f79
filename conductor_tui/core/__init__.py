"""The conductor's core: records, store, rules, plans. Never imports Textual."""
