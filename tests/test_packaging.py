"""The built wheel carries the schemas: installed alone in a fresh venv, it finds every stream."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

from tap_pagerduty.streams import STREAM_TYPES

ROOT = Path(__file__).resolve().parents[1]
UV = Path(sys.executable).with_name("uv")


def test_wheel_in_a_fresh_venv_discovers_every_stream(tmp_path) -> None:
    subprocess.run(
        [str(UV), "build", "--wheel", "--out-dir", str(tmp_path / "dist"), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = (tmp_path / "dist").glob("tap_pagerduty-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).stem for n in names if n.startswith("tap_pagerduty/schemas/")}
    assert shipped == {cls.name for cls in STREAM_TYPES}

    venv = tmp_path / "venv"
    subprocess.run([str(UV), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True)
    subprocess.run(
        [
            str(UV),
            "pip",
            "install",
            "--quiet",
            "--python",
            str(venv / "bin" / "python"),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=600,
    )
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"api_token": "x"}))
    run = subprocess.run(
        [str(venv / "bin" / "tap-pagerduty"), "--config", str(config), "--discover"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,  # not the repository: schemas must come from the installed package
    )
    assert run.returncode == 0, run.stderr[-2000:]
    catalog = json.loads(run.stdout)
    streams = {entry["tap_stream_id"]: entry for entry in catalog["streams"]}
    assert set(streams) == {cls.name for cls in STREAM_TYPES}
    assert all(entry["schema"]["properties"] for entry in streams.values())
