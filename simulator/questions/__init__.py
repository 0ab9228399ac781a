"""The review questions the access-bit harvesting series left open, answered with numbers.

``scenarios/questions/*.toml`` hold one sweep per question (with a ``[question]`` table: title,
who asked, where, and the ``quick`` overrides for CI). :func:`run.run_questions` runs them,
:mod:`analyses` (and :mod:`analyses_thp`, Q7) turn each ``sweep.csv`` into tables, a figure and
generated sentences (:mod:`registry` names them), and
:mod:`findings` writes ``findings.md``.
"""
