"""The deployment files run commands and options the CLI has, and name settings the code
reads: every ``aegntix`` command line in ``deploy/`` is checked against ``aegntix <cmd>
--help`` (a real process), every ``AEGNTIX_*`` name against the source. No Docker needed."""

from __future__ import annotations

import functools
import os
import re
import shlex
import subprocess
import sys

import pytest
import typer
import yaml

from tests.support import ROOT

DEPLOY = ROOT / "deploy"
UNITS = sorted((DEPLOY / "systemd").glob("*.service"))
#: Options of the ``aegntix`` command itself (before the subcommand), each taking a value.
GLOBAL_OPTIONS = {"--log-format", "--log-level", "--metrics-port", "--metrics-host"}
#: What systemd and compose substitute before the command runs.
SUBSTITUTIONS = {
    "%i": "01",
    "${AEGNTIX_DB}": "postgresql://aegntix@db/aegntix",
    "${POSTGRES_PASSWORD:-change-me}": "change-me",
}


def _substituted(text: str) -> str:
    for placeholder, value in SUBSTITUTIONS.items():
        text = text.replace(placeholder, value)
    return text


def compose_commands() -> dict[str, list[str]]:
    services = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    return {
        f"compose:{name}": [_substituted(arg) for arg in spec["command"]]
        for name, spec in services.items()
        if spec.get("command", [""])[0] == "aegntix"
    }


def unit_commands() -> dict[str, list[str]]:
    found = {}
    for unit in UNITS:
        for line in unit.read_text().splitlines():
            if line.startswith("ExecStart="):
                argv = shlex.split(_substituted(line.removeprefix("ExecStart=")))
                assert argv[0].endswith("/aegntix"), argv
                found[f"systemd:{unit.name}"] = ["aegntix", *argv[1:]]
    return found


COMMANDS = {**compose_commands(), **unit_commands()}


def split(argv: list[str]) -> tuple[list[str], list[str], list[str]]:
    """(global options, the subcommand path, the subcommand's options) of an argv."""
    rest = argv[1:]
    global_options: list[str] = []
    while rest and rest[0] in GLOBAL_OPTIONS:
        global_options.append(rest[0])
        rest = rest[2:]
    path = []
    while rest and not rest[0].startswith("-"):
        path.append(rest.pop(0))
    return global_options, path, [arg for arg in rest if arg.startswith("--")]


def commands() -> set[str]:
    """The subcommands ``aegntix`` has."""
    from aegntix.cli import app

    group = typer.main.get_command(app)  # a group (typer vendors its own click)
    return set(group.commands)  # type: ignore[attr-defined]


@functools.cache
def help_text(*path: str) -> str:
    env = {**os.environ, "COLUMNS": "250", "TERM": "dumb", "NO_COLOR": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "aegntix", *path, "--help"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, f"aegntix {' '.join(path)} --help: {done.stderr[-1000:]}"
    return done.stdout


def test_the_files_run_the_commands_they_should() -> None:
    """What the deployment needs is there: API replicas and workers in both forms."""
    paths = {name: split(argv)[1] for name, argv in COMMANDS.items()}
    assert paths["compose:api-1"] == paths["compose:api-2"] == ["serve"]
    assert paths["compose:worker"] == ["worker"]
    assert paths["systemd:aegntix-api@.service"] == ["serve"]
    assert paths["systemd:aegntix-worker@.service"] == ["worker"]


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_each_command_and_option_exists(name: str) -> None:
    global_options, path, options = split(COMMANDS[name])
    if path == ["worker"] and "worker" not in commands():
        pytest.skip(
            "`aegntix worker` is built on the workers branch (issue 13), not merged here; "
            "this check runs once it is"
        )
    for option in global_options:
        assert option in help_text(), f"aegntix {option}"
    text = help_text(*path)
    for option in options:
        assert re.search(rf"{re.escape(option)}\b", text), f"aegntix {' '.join(path)} {option}"


def _settings(text: str) -> set[str]:
    return set(re.findall(r"\bAEGNTIX_[A-Z_]+\b", text))


def test_every_setting_named_is_read_by_the_code() -> None:
    named: set[str] = set()
    for path in [*DEPLOY.rglob("*"), ROOT / "docs" / "deployment.md"]:
        if path.is_file():
            named |= _settings(path.read_text())
    named -= {"AEGNTIX_WORKERS"}  # compose's own variable (the worker replica count)
    code = [*(ROOT / "src" / "aegntix").rglob("*.py"), ROOT / "tests" / "postgres.py"]
    source = "".join(p.read_text() for p in code)
    unknown = sorted(n for n in named if n not in source)
    assert unknown == []


def test_the_prometheus_config_scrapes_the_api_and_the_workers() -> None:
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    api, workers = jobs["aegntix-api"], jobs["aegntix-worker"]
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())["services"]
    apis = {f"{name}:8000" for name in compose if name.startswith("api-")}
    assert set(api["static_configs"][0]["targets"]) == apis
    worker_command = compose["worker"]["command"]
    port = worker_command[worker_command.index("--metrics-port") + 1]
    assert workers["dns_sd_configs"][0] == {"names": ["worker"], "type": "A", "port": int(port)}
    for job in (api, workers):
        assert job["metrics_path"] == "/metrics"
        assert job["authorization"]["credentials_file"]  # /metrics asks for the token
