"""The wheel carries schemas/ inside the package, and an installed igflow finds them there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w", str(out), str(ROOT)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (built,) = out.glob("igflow-*.whl")
    return built


def test_wheel_ships_the_top_level_schemas(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        for schema in ("playbook.schema.json", "registry.schema.json"):
            packaged = archive.read(f"igflow/schemas/{schema}")
            assert packaged == (ROOT / "schemas" / schema).read_bytes()
        # The command is a plain script (no console-scripts launcher importing `re` first).
        (script_name,) = [n for n in names if n.endswith(".data/scripts/igflow")]
        script = archive.read(script_name).decode()
        assert script.startswith("#!python\n") and "from igflow.launch import main" in script
    assert "igflow/help.txt" in names  # what `igflow --help` prints without argparse
    assert "igflow/registry/instagram_v1.yaml" in names
    assert "igflow/sandbox/data/default.yaml" in names
    # The developer portal's templates (package data, read through igflow.resources).
    templates = ROOT / "igflow" / "sandbox" / "portal" / "templates"
    for template in templates.glob("*.html"):
        assert f"igflow/sandbox/portal/templates/{template.name}" in names
    assert "igflow/sandbox/portal/templates/register.html" in names
    # `igflow completion SHELL` prints these; pytest finds the plugin through the entry point.
    assert {f"igflow/completions/igflow.{shell}" for shell in ("bash", "zsh", "tcsh")} <= names
    with zipfile.ZipFile(wheel) as archive:
        (entry_points,) = [n for n in names if n.endswith(".dist-info/entry_points.txt")]
        text = archive.read(entry_points).decode()
    assert "[pytest11]\nigflow = igflow.pytest_plugin" in text


def test_installed_package_finds_its_schemas(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--quiet",
            "--target",
            str(site),
            str(wheel),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import json, igflow.resources as r;"
        "print(json.dumps([str(r.schemas_dir()), r.load_schema('playbook.schema.json')['title']]))"
    )
    # Run from an empty directory so the checkout cannot shadow the installed package.
    env = {**os.environ, "PYTHONPATH": str(site)}
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    where, title = json.loads(completed.stdout)
    assert Path(where) == site / "igflow" / "schemas"
    assert title


def test_the_installed_package_renders_the_portal(wheel: Path, tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--quiet", "--target", str(site)]
        + [str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    probe = (
        "import igflow.sandbox.portal.render as r;"
        "print(r.environment().loader.searchpath[0]);"
        "print('Register Your Application' in r.render('developer.html', path='/', visitor=None))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=tmp_path,
        env={**os.environ, "PYTHONPATH": str(site)},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    where, rendered = completed.stdout.split()
    assert Path(where) == site / "igflow" / "sandbox" / "portal" / "templates"
    assert rendered == "True"
