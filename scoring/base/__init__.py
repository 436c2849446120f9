"""The ground every other part stands on, knowing nothing of leads or scores.

It owns one-message errors (``errors``), YAML that means what was typed (``yamlsafe``),
output files written whole and only where safe (``files``), the named crash points of
the kill tests (``crash``), CSV formula escaping (``csv_safety``) and the app process's
settings (``runtime``).

May import: nothing else in scoring.
"""
