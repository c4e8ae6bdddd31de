"""The machine description, the printed table and the JSON file."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["Row", "machine", "ms", "render_table", "write_json"]

ROOT = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _git(*args: str) -> str:
    try:
        out = subprocess.run(
            ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=10, check=False, stdin=subprocess.DEVNULL
        )
    except (OSError, subprocess.SubprocessError):
        return ""
    return out.stdout.strip()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "?"


def machine(livekit_version: str = "") -> dict[str, Any]:
    with open("/proc/meminfo") as f:
        mem_kb = next((int(line.split()[1]) for line in f if line.startswith("MemTotal:")), 0)
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": len(os.sched_getaffinity(0)),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(mem_kb / 1024 / 1024, 1),
        "kernel": platform.release(),
        "python": sys.version.split()[0],
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "git_commit": _git("rev-parse", "--short", "HEAD"),
        "git_dirty": bool(_git("status", "--porcelain", "--untracked-files=no")),
        "livekit_server": livekit_version,
        "packages": {p: _version(p) for p in ("uvicorn", "httptools", "fastapi", "strawberry-graphql", "livekit-api")},
    }


@dataclass(frozen=True)
class Row:
    section: str
    figure: str
    value: str
    target: str = ""
    ok: bool | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "section": self.section,
            "figure": self.figure,
            "value": self.value,
            "target": self.target,
            "ok": self.ok,
        }


def render_table(title: str, rows: list[Row]) -> str:
    headers = ("", "figure", "value", "target", "")
    cells = [(r.section, r.figure, r.value, r.target, "" if r.ok is None else ("ok" if r.ok else "MISS")) for r in rows]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]

    def line(values: tuple[str, ...]) -> str:
        return "  ".join(
            v.rjust(w) if i == 2 else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths, strict=True))
        ).rstrip()

    rule = "-" * len(line(tuple("-" * w for w in widths)))
    out = [title, rule, line(headers), rule]
    previous = None
    for cell in cells:
        shown = cell if cell[0] != previous else ("", *cell[1:])
        previous = cell[0]
        out.append(line(shown))
    out.append(rule)
    return "\n".join(out)


def write_json(path: Path, data: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    tmp.replace(path)


def ms(value: float) -> str:
    return f"{value:.2f}" if value < 10 else f"{value:.1f}"
