"""Render desired files to bytes with the jinja2 templates, and prove they read back right.

Templates hold layout only. Every printed value passes through the quoting hook in
`bridgecfg.render.quoting`, and every rendered file is parsed again with the project's
own reader before anything is written.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Dict, Optional

import jinja2

from bridgecfg.current.shellvars import parse_bytes
from bridgecfg.derive.desired import DesiredFile
from bridgecfg.errors import InternalError, InvalidInput, UnreadableFile
from bridgecfg.render.quoting import finalize_route, finalize_shell

log = logging.getLogger(__name__)

_PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
_SOURCE_TEMPLATES = Path(__file__).resolve().parent.parent.parent / "templates"
TEMPLATE_NAMES = ("ifcfg-bridge.j2", "ifcfg-lines.j2", "ifcfg-port.j2", "route.j2")


def default_templates() -> Path:
    """Return the templates shipped in the wheel, or those of a source checkout."""
    for candidate in (_PACKAGE_TEMPLATES, _SOURCE_TEMPLATES):
        if (candidate / "ifcfg-bridge.j2").is_file():
            return candidate
    raise InternalError(f"the templates are missing from {_PACKAGE_TEMPLATES} and {_SOURCE_TEMPLATES}; "
                        "reinstall bridgecfg")


class Renderer:
    """Render desired files with the templates of one directory."""

    def __init__(self, templates: Optional[Path] = None) -> None:
        directory = templates or default_templates()
        missing = [name for name in TEMPLATE_NAMES if not (directory / name).is_file()]
        if missing:
            raise InvalidInput(f"--templates {directory}: missing {', '.join(missing)}; copy the whole template "
                               "directory before editing it")
        self.directory = directory
        self.edited = templates is not None
        self._shell = self._environment(directory, finalize_shell)
        self._route = self._environment(directory, finalize_route)

    @staticmethod
    def _environment(directory: Path, finalize: object) -> jinja2.Environment:
        return jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            finalize=finalize,  # type: ignore[arg-type]
            autoescape=False,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )

    def render(self, desired: DesiredFile) -> bytes:
        """Render one desired file and check that the reader gets the intended content back."""
        environment = self._route if desired.template == "route.j2" else self._shell
        try:
            text = environment.get_template(desired.template).render(**desired.context)
        except jinja2.TemplateError as error:
            raise InvalidInput(f"template {self.directory / desired.template}: {error}") from error
        data = _normalise(text).encode("utf-8")
        try:
            self._check_read_back(desired, data)
        except InternalError as error:
            if not self.edited:
                raise
            # With --templates the mismatch comes from the user's copy, not from bridgecfg.
            raise InvalidInput(f"--templates {self.directory}: {desired.template} rendered a file that does not "
                               f"verify: {error}. An edited template may change layout and comments, but every "
                               "key and value must come from bridgecfg") from None
        return data

    def _check_read_back(self, desired: DesiredFile, data: bytes) -> None:
        if isinstance(desired.intended, list):
            lines = [line.strip() for line in data.decode("utf-8").split("\n")]
            commands = [line for line in lines if line and not line.startswith("#")]
            if commands != desired.intended:
                raise InternalError(f"{desired.path}: the rendered route lines {commands} differ from the intended "
                                    f"{desired.intended}; nothing was written")
            return
        try:
            parsed = parse_bytes(data, path=desired.path)
        except UnreadableFile as error:
            raise InternalError(f"the rendered {desired.path} cannot be read back ({error}); nothing was written") from error
        _compare(desired.path, parsed.values, desired.intended)
        keys = [line.key for line in parsed.lines if line.key is not None]
        if len(keys) != len(set(keys)):
            raise InternalError(f"the rendered {desired.path} repeats a key; nothing was written")


def _normalise(text: str) -> str:
    """Use LF line ends and end the file with exactly one newline."""
    text = text.replace("\r\n", "\n")
    return text.rstrip("\n") + "\n" if text.strip() else ""


def _compare(path: str, actual: Dict[str, str], intended: Dict[str, str]) -> None:
    if actual == intended:
        return
    differences = []
    for key in sorted(set(actual) | set(intended)):
        if actual.get(key) != intended.get(key):
            differences.append(f"{key}: intended {intended.get(key)!r}, read back {actual.get(key)!r}")
    raise InternalError(f"the rendered {path} does not read back as intended ({'; '.join(differences)}); "
                        "nothing was written")
