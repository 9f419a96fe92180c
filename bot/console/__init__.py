"""The console: demo web chat now; ops and guide pages mount here later."""
from bot.console.app import create_app

__all__ = ["create_app"]
