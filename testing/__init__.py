"""Throwaway servers (MariaDB, Redis, BIND, Celery workers) and the fault report, for tests and benchmarks.

Shared by ``tests/`` and ``bench/`` so a benchmark never imports from the test suite. Not part of the
wheel: ``[tool.setuptools.packages.find]`` in pyproject.toml includes only playdeck, runners and webui.
"""
