"""The package stays light: importing it and the CLI's help need no torch, gradio or webui."""

from __future__ import annotations

import subprocess
import sys

HEAVY = ("torch", "gradio", "transformers", "peft", "modules")


def test_import_and_cli_help_load_no_heavy_modules():
    code = (
        "import sys, contextlib, io\n"
        "import discord_echo, discord_echo.dataset.pipeline, discord_echo.frontends.cli\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    discord_echo.frontends.cli.main(['--help'])\n"
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_python_dash_m_runs_the_cli():
    out = subprocess.run([sys.executable, "-m", "discord_echo", "--help"], capture_output=True, text=True)
    assert out.returncode == 0 and "inspect" in out.stdout and "build" in out.stdout
