"""text-generation-webui entry point for Discord Echo. Wiring only; the work is in the package.

The webui executes this file by path, as a module named ``user_ext_discord_echo`` (from
``user_data/extensions/``) or ``extensions.discord_echo.script``, with no usable parent
package, so relative imports fail. We register this folder as the package
``discord_echo`` by name instead of putting it on ``sys.path``: on the path, our submodules
would shadow same-named top-level modules of other packages.
"""

import importlib.util
import sys
from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def _load_package() -> None:
    """Import this folder as ``discord_echo`` unless an installed copy is already loaded."""
    if "discord_echo" in sys.modules:
        return
    spec = importlib.util.spec_from_file_location(
        "discord_echo", _PACKAGE_DIR / "__init__.py", submodule_search_locations=[str(_PACKAGE_DIR)]
    )
    module = importlib.util.module_from_spec(spec)
    # Registered before executing so the package's own absolute imports find it.
    sys.modules["discord_echo"] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules["discord_echo"]
        raise


_load_package()

from discord_echo.frontends.webui_params import default_params  # noqa: E402

params = default_params()


def ui() -> None:
    """Build the Discord Echo tab (called by the webui inside ``gr.Tab``)."""
    from discord_echo.frontends.ui.tab import build_tab
    from discord_echo.frontends.webui import tab_context

    build_tab(tab_context(params))
