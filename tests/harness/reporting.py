"""Figures a test measured, written to the terminal even under output capture (for notes and README)."""

from __future__ import annotations

import contextlib

import pytest

__all__ = ["report"]


def report(config: pytest.Config, title: str, lines: list[str]) -> None:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capman = config.pluginmanager.get_plugin("capturemanager")
    if reporter is None:
        return
    with capman.global_and_fixture_disabled() if capman is not None else contextlib.nullcontext():
        reporter.write_line("")
        reporter.write_line(f"[{title}]")
        for line in lines:
            reporter.write_line(f"  {line}")
