"""Errors that carry every problem found, so a user fixes them all in one go.

One problem reads as one line (``bad.yaml: thresholds: mql (70) must be below sql (60)``);
several are listed under a line that counts them.
"""

from __future__ import annotations


class ProblemsError(ValueError):
    """A failure with one message per problem; ``source`` names the file or database."""

    topic = "in the input"

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        if len(problems) == 1:
            super().__init__(f"{source}: {problems[0]}")
            return
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) {self.topic}:\n{lines}")
