"""curl, the client REST's users have: the document's own examples run exactly as written."""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any

from tests.harness.service import Service

__all__ = ["curl"]


def curl(service: Service, example: str) -> tuple[int, dict[str, Any]]:
    """Run one of the document's curl lines, with its {{API_ROOT}} pointed at the service."""
    command = shlex.split(example.replace("https://{{API_ROOT}}", service.base_url))
    assert command[0] == "curl"
    done = subprocess.run(
        [*command, "-sS", "-w", "\n%{http_code}"], capture_output=True, text=True, timeout=30, check=True
    )
    body, _, status = done.stdout.rpartition("\n")
    return int(status), json.loads(body)
