"""Helpers the tests share: real servers, worlds of enrolled persons, a live API.

Importable as ``support.<module>`` because pytest puts ``tests/`` on the path
(``pythonpath`` in pyproject.toml); no test edits ``sys.path`` itself.
"""
