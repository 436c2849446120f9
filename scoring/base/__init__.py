"""The ground every other part stands on, knowing nothing of leads or scores.

It owns one-message errors (``errors``), YAML that means what was typed (``yamlsafe``),
output files written whole and only where safe (``files``), the named crash points of
the kill tests (``crash``), CSV formula escaping (``csv_safety``), the app process's
settings (``runtime``) and numbers rounded as a person writes them (``numbers``).

May import: nothing else in scoring.
"""
