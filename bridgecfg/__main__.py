"""Run the command line as `python -m bridgecfg`."""

from bridgecfg.cli import entry_point

entry_point()
