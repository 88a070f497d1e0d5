"""install.py and script.py: how the extension gets into a webui and how the webui loads it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import tomllib

REPO = Path(__file__).resolve().parents[1]
EXTENSION = REPO / "extensions" / "discord_echo"


def test_webui_requirements_match_the_package_dependencies():
    # The webui installs extensions/<name>/requirements.txt; it must be what the package needs.
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    requirements = (EXTENSION / "requirements.txt").read_text().split()
    assert sorted(requirements) == sorted(project["dependencies"])


def test_script_loads_the_package_by_name_like_the_webui_does(tmp_path):
    # The webui runs user_data/extensions/discord_echo/script.py as module "user_ext_discord_echo".
    # -S: no site-packages, so the editable install cannot help; only script.py's own loader can.
    code = f"""
import importlib.util, sys
spec = importlib.util.spec_from_file_location("user_ext_discord_echo", {str(EXTENSION / "script.py")!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
import discord_echo
print(discord_echo.__path__[0])
print(module.params["display_name"], module.params["is_tab"])
print(any(p.rstrip("/").endswith(("discord_echo", "extensions")) for p in sys.path))
"""
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    package_dir, params, on_path = out.stdout.splitlines()
    assert Path(package_dir) == EXTENSION
    assert params == "Discord Echo True"
    assert on_path == "False"  # our folder never lands on sys.path


def _fake_webui(root: Path) -> Path:
    (root / "modules").mkdir(parents=True)
    (root / "server.py").write_text("# stand-in for the webui's server.py\n")
    return root


def test_install_into_webui_links_and_is_safe_to_rerun(tmp_path):
    webui = _fake_webui(tmp_path / "webui")
    # The webui's Python: here the test's own, which already has the requirements.
    cmd = [sys.executable, str(REPO / "install.py"), "--webui", str(webui), "--python", sys.executable]
    first = subprocess.run(cmd, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr
    target = webui / "user_data" / "extensions" / "discord_echo"
    assert target.is_symlink() and target.resolve() == EXTENSION.resolve()
    assert "--extensions discord_echo" in first.stdout
    second = subprocess.run(cmd, capture_output=True, text=True)
    assert second.returncode == 0, second.stderr
    assert "already links" in second.stdout


def test_install_into_webui_never_replaces_a_foreign_folder(tmp_path):
    webui = _fake_webui(tmp_path / "webui")
    target = webui / "user_data" / "extensions" / "discord_echo"
    target.mkdir(parents=True)
    (target / "notes.txt").write_text("mine")
    cmd = [sys.executable, str(REPO / "install.py"), "--webui", str(webui), "--python", sys.executable]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode != 0
    assert "not a Discord Echo install" in result.stderr
    assert (target / "notes.txt").read_text() == "mine"


def test_install_copy_mode_updates_without_deleting(tmp_path):
    webui = _fake_webui(tmp_path / "webui")
    cmd = [sys.executable, str(REPO / "install.py"), "--webui", str(webui), "--python", sys.executable, "--copy"]
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    target = webui / "user_data" / "extensions" / "discord_echo"
    assert not target.is_symlink() and (target / "script.py").is_file()
    (target / "settings-of-mine.yaml").write_text("keep: true\n")
    assert subprocess.run(cmd, capture_output=True, text=True).returncode == 0
    assert (target / "settings-of-mine.yaml").read_text() == "keep: true\n"


def test_install_refuses_a_folder_that_is_not_a_webui(tmp_path):
    cmd = [sys.executable, str(REPO / "install.py"), "--webui", str(tmp_path), "--python", sys.executable]
    result = subprocess.run(cmd, capture_output=True, text=True)
    assert result.returncode != 0
    assert "does not look like a text-generation-webui" in result.stderr


def test_the_webui_can_also_load_it_as_a_bundled_extension(tmp_path):
    # extensions/<name>/ (not user_data/extensions) is imported as the package extensions.<name>.script.
    (tmp_path / "extensions").mkdir()
    (tmp_path / "extensions" / "discord_echo").symlink_to(EXTENSION, target_is_directory=True)
    code = (
        "import importlib, sys\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "script = importlib.import_module('extensions.discord_echo.script')\n"
        "import discord_echo.core.errors\n"
        "print(script.params['display_name'], discord_echo.core.errors.EchoError.__module__)\n"
    )
    out = subprocess.run([sys.executable, "-S", "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "Discord Echo discord_echo.core.errors"


def test_a_failing_apt_get_is_one_line_and_install_goes_on(monkeypatch, capsys):
    """apt-get's lock held (or no network): --tests must still run, so the browser tests skip."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("install_under_test", REPO / "install.py")
    install = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(install)
    monkeypatch.setattr(install.shutil, "which", lambda name: "/usr/bin/apt-get" if name == "apt-get" else None)
    monkeypatch.setattr(install.os, "geteuid", lambda: 0, raising=False)

    def locked(cmd, **kwargs):  # what apt-get does when another process holds /var/lib/dpkg/lock
        raise subprocess.CalledProcessError(100, cmd)

    monkeypatch.setattr(install.subprocess, "run", locked)
    install.ensure_browser()  # does not raise
    notes = [line for line in capsys.readouterr().out.splitlines() if line.startswith("Note:")]
    assert len(notes) == 1 and "apt-get could not install chromium" in notes[0] and "skipped" in notes[0]
