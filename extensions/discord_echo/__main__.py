"""``python -m discord_echo`` is the same as the ``discord-echo`` command."""

import sys

from discord_echo.frontends.cli import main

sys.exit(main())
