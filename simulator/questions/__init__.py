"""The review questions the access-bit harvesting series left open, answered with numbers.

``scenarios/questions/*.toml`` hold one sweep per question (with a ``[question]`` table: title,
who asked, where, and the ``quick`` overrides for CI). :func:`run.run_questions` runs them,
:mod:`analyses` turns each ``sweep.csv`` into tables, a figure and generated sentences, and
:mod:`findings` writes ``findings.md``.
"""
