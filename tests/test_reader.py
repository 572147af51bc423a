"""The ifcfg reader: what it accepts reads as bash reads it, and what it refuses names file, line and key."""

from __future__ import annotations

from typing import Dict

import pytest

from bridgecfg.current.shellvars import parse_bytes
from bridgecfg.errors import UnreadableFile
from hostroot import bash_source

PATH = "/etc/sysconfig/network-scripts/ifcfg-eth0"

ACCEPTED = [
    ("single quotes", b"NAME='System eth0'\n", {"NAME": "System eth0"}),
    ("single quotes keep dollar", b"X='$HOME `id`'\n", {"X": "$HOME `id`"}),
    ("double quotes", b'NAME="System eth0"\n', {"NAME": "System eth0"}),
    ("double quote escapes", b'X="a\\$b\\"c\\\\d\\`e"\n', {"X": 'a$b"c\\d`e'}),
    ("double quote other backslash", b'X="a\\nb\\\'c"\n', {"X": "a\\nb\\'c"}),
    ("unquoted backslash", b"X=a\\ b\\$c\n", {"X": "a b$c"}),
    ("concatenated quoting", b"X='a b'\"c d\"e\n", {"X": "a bc de"}),
    ("trailing comment", b"DEVICE=eth0 # the uplink\n", {"DEVICE": "eth0"}),
    ("trailing comment after tab", b"DEVICE=eth0\t# the uplink\n", {"DEVICE": "eth0"}),
    ("hash inside word", b"X=a#b\n", {"X": "a#b"}),
    ("export", b"export DEVICE=eth0\n", {"DEVICE": "eth0"}),
    ("indented", b"  \tDEVICE=eth0\n", {"DEVICE": "eth0"}),
    ("CRLF", b"DEVICE=eth0\r\nONBOOT=yes\r\n", {"DEVICE": "eth0", "ONBOOT": "yes"}),
    ("no final newline", b"DEVICE=eth0\nONBOOT=yes", {"DEVICE": "eth0", "ONBOOT": "yes"}),
    ("repeated key", b"ONBOOT=no\nDEVICE=eth0\nONBOOT=yes\n", {"ONBOOT": "yes", "DEVICE": "eth0"}),
    ("empty value", b"X=\nY=''\n", {"X": "", "Y": ""}),
    ("tilde inside word", b"X=a~b\n", {"X": "a~b"}),
    ("comments and blanks", b"# header\n\n   \n# DEVICE=eth9\nDEVICE=eth0\n", {"DEVICE": "eth0"}),
    ("equals in value", b"BONDING_OPTS=mode=1\n", {"BONDING_OPTS": "mode=1"}),
    ("UTF-8 value", "NAME='Verbindung \u00fcber eth0'\n".encode("utf-8"), {"NAME": "Verbindung \u00fcber eth0"}),
]


@pytest.mark.parametrize(("data", "expected"), [pytest.param(data, expected, id=name)
                                                 for name, data, expected in ACCEPTED])
def test_reader_accepts(data: bytes, expected: Dict[str, str]) -> None:
    assert parse_bytes(data, path=PATH).values == expected


@pytest.mark.parametrize(("data", "expected"), [pytest.param(data, expected, id=name)
                                                 for name, data, expected in ACCEPTED])
def test_reader_agrees_with_bash(data: bytes, expected: Dict[str, str]) -> None:
    # bash keeps the CR of a CRLF line end in the value, while NetworkManager and the reader
    # drop it, so bash reads the file with LF line ends here.
    reading = bash_source(data.replace(b"\r\n", b"\n"))
    assert reading.stderr == ""
    assert {key: reading.values.get(key) for key in expected} == expected


def test_reader_line_of_last() -> None:
    parsed = parse_bytes(b"ONBOOT=no\nDEVICE=eth0\nONBOOT=yes\n", path=PATH)
    assert parsed.line_of("ONBOOT") == 3
    assert parsed.line_of("DEVICE") == 2
    assert parsed.line_of("MTU") == 0


def test_reader_keeps_order() -> None:
    parsed = parse_bytes(b"B=1\nA=2\nB=3\n", path=PATH)
    assert parsed.keys_in_order() == ["B", "A"]


def test_reader_keeps_trailer() -> None:
    line = parse_bytes(b"DEVICE=\"eth0\"  # uplink\n", path=PATH).lines[0]
    assert line.raw_value == '"eth0"'
    assert line.trailer == "  # uplink"


REFUSED = [
    ("unquoted dollar", b"X=$HOME\n", "X"),
    ("unquoted dollar brace", b"X=${HOME}\n", "X"),
    ("dollar in double quotes", b'X="$HOME"\n', "X"),
    ("backtick", b"X=`id`\n", "X"),
    ("backtick in double quotes", b'X="`id`"\n', "X"),
    ("command substitution", b"X=$(id)\n", "X"),
    ("command substitution quoted", b'X="$(id)"\n', "X"),
    ("semicolon", b"X=a;b\n", "X"),
    ("ampersand", b"X=a&b\n", "X"),
    ("pipe", b"X=a|b\n", "X"),
    ("less than", b"X=a<b\n", "X"),
    ("greater than", b"X=a>b\n", "X"),
    ("open parenthesis", b"X=a(b\n", "X"),
    ("close parenthesis", b"X=a)b\n", "X"),
    ("ANSI-C quoting", b"X=$'a\\tb'\n", "X"),
    ("line continuation", b"X=abc\\\ndef\n", "X"),
    ("continuation in double quotes", b'X="abc\\\ndef"\n', "X"),
    ("unquoted space then word", b"NAME=System eth0\n", "NAME"),
    ("unquoted tab then word", b"NAME=System\teth0\n", "NAME"),
    ("unclosed single quote", b"X='abc\n", "X"),
    ("unclosed double quote", b'X="abc\n', "X"),
    ("leading tilde", b"X=~root\n", "X"),
    ("tilde after colon", b"X=a:~root\n", "X"),
    ("control character", b"X=a\x01b\n", "X"),
    ("lone carriage return", b"X=a\rb\n", "X"),
]


@pytest.mark.parametrize(("data", "key"), [pytest.param(data, key, id=name) for name, data, key in REFUSED])
def test_reader_refuses_construct(data: bytes, key: str) -> None:
    text = b"# profile\nDEVICE=eth0\n" + data
    with pytest.raises(UnreadableFile) as caught:
        parse_bytes(text, path=PATH)
    error = caught.value
    assert error.path == PATH
    assert error.line == 3
    assert error.key == key
    assert f"{PATH}, line 3: key {key}: " in str(error)


@pytest.mark.parametrize(("data", "line"), [
    pytest.param(b"DEVICE=eth0\necho hi\n", 2, id="command"),
    pytest.param(b"DEVICE=eth0\nKEY = value\n", 2, id="spaces around equals"),
    pytest.param(b"DEVICE=eth0\nKEY+=value\n", 2, id="append assignment"),
    pytest.param(b"DEVICE=eth0\n# \x07 bell\n", 2, id="control character in comment"),
    pytest.param(b"DEVICE=eth0\nNAME=caf\xe9\n", 2, id="not UTF-8"),
])
def test_reader_refuses_line(data: bytes, line: int) -> None:
    with pytest.raises(UnreadableFile) as caught:
        parse_bytes(data, path=PATH)
    assert caught.value.line == line
    assert f"{PATH}, line {line}: " in str(caught.value)


def test_reader_refusal_says_fix() -> None:
    with pytest.raises(UnreadableFile) as caught:
        parse_bytes(b"NAME=System eth0\n", path=PATH)
    assert "double quotes" in str(caught.value)
