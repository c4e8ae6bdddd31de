"""`make run`'s settings: dev/dev.env fills in what the caller's environment does not set."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def _loaded(environment: dict[str, str], env_file: Path) -> dict[str, str]:
    script = f'. dev/dev-env.sh && load_dev_env "{env_file}" && env -0'
    base = {"PATH": os.environ["PATH"], **environment}
    output = subprocess.run(["bash", "-c", script], cwd=ROOT, env=base, check=True, capture_output=True).stdout
    return dict(entry.split("=", 1) for entry in output.decode().split("\0") if entry)


def test_the_callers_environment_wins_over_dev_env() -> None:
    loaded = _loaded({"GXRTC_ENV": "production", "LIVEKIT_URL": "http://127.0.0.1:7999"}, ROOT / "dev/dev.env")
    assert loaded["GXRTC_ENV"] == "production"
    assert loaded["LIVEKIT_URL"] == "http://127.0.0.1:7999"
    assert loaded["LIVEKIT_API_KEY"] == "devkey"  # not set by the caller: dev.env's


def test_dev_env_fills_in_what_is_unset(tmp_path: Path) -> None:
    env_file = tmp_path / "dev.env"
    env_file.write_text("# a comment\nGXRTC_ENV=dev\nEMPTY_BUT_SET=from-file\nWITH_EQUALS=a=b c\n")
    loaded = _loaded({"EMPTY_BUT_SET": ""}, env_file)
    assert loaded["GXRTC_ENV"] == "dev"
    assert loaded["EMPTY_BUT_SET"] == ""  # set, even to nothing, is the caller's choice
    assert loaded["WITH_EQUALS"] == "a=b c"
