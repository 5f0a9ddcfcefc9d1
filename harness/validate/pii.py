"""Personal data in training text: e-mail, phone, payment card (Luhn), IP address.

Matched spans are masked before they reach any message or report: a finding says what was found
and where, never the value itself.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import NamedTuple

EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]{1,64}@[A-Za-z0-9-]{1,63}(?:\.[A-Za-z0-9-]{1,63})*\.[A-Za-z]{2,24}\b")
CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){12,18}\d(?![\d-])")
PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{2,4}(?:[ .-]\d{2,4}){1,3}(?![\w-])")
IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
IPV6 = re.compile(r"(?<![\w:])(?=[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:[0-9A-Fa-f:]*:)[0-9A-Fa-f:]{6,39}(?![\w:])")
_VERSION_BEFORE = re.compile(r"(?:version|ver\.?|release|v)\s*$", re.IGNORECASE)
_DIGIT = re.compile(r"\d")
_DATE = re.compile(r"^\d{4}[-./]\d{1,2}[-./]\d{1,2}$|^\d{1,2}[-./]\d{1,2}[-./]\d{2,4}$")


class PIIMatch(NamedTuple):
    """A masked match: kind, masked text, start and end offsets in the scanned string."""

    kind: str
    masked: str
    start: int
    end: int


def luhn_valid(digits: str) -> bool:
    """Luhn checksum of a digit string.

    >>> luhn_valid("4111111111111111"), luhn_valid("4111111111111112")
    (True, False)
    """
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = ord(ch) - 48
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


def mask(kind: str, value: str) -> str:
    """Mask a matched value, keeping only enough to recognise its shape.

    >>> mask("email", "jane.doe@example.com"), mask("card", "4111 1111 1111 1111")
    ('j***@***.com', '****-1111')
    """
    if kind == "email":
        local, _, domain = value.partition("@")
        return f"{local[:1]}***@***.{domain.rsplit('.', 1)[-1]}"
    digits = re.sub(r"\D", "", value)
    if kind == "card":
        return f"****-{digits[-4:]}"
    if kind == "phone":
        return f"***{digits[-2:]}"
    if kind == "ip":
        return value.split(".")[0] + ".*.*.*" if "." in value else value.split(":")[0] + ":*"
    return "***"


def find_pii(text: str) -> Iterator[PIIMatch]:
    """Yield every personal-data match in ``text``, masked, without overlaps.

    Each pattern runs only on a text that holds what any of its matches needs (an ``@``; enough
    digits; dots or colons): a cheap count in C that skips most prose, with the same matches.
    """
    digits = len(_DIGIT.findall(text))  # \\d as the patterns read it: every Unicode decimal digit
    flags = {
        "email": "@" in text,
        "card": digits >= 13,
        "ipv4": digits >= 4 and text.count(".") >= 3,
        "ipv6": text.count(":") >= 3,
        "phone": digits >= 9,
    }
    return _scan(text, **flags) if any(flags.values()) else iter(())


def _scan(text: str, *, email: bool, card: bool, ipv4: bool, ipv6: bool, phone: bool) -> Iterator[PIIMatch]:
    """The patterns the flags allow, in order of precedence; all flags on is the whole scan."""
    taken: list[tuple[int, int]] = []

    def free(s: int, e: int) -> bool:
        return all(e <= a or s >= b for a, b in taken)

    for m in EMAIL.finditer(text) if email else ():
        taken.append(m.span())
        yield PIIMatch("email", mask("email", m.group()), *m.span())
    for m in CARD.finditer(text) if card else ():
        digits = re.sub(r"\D", "", m.group())
        if 13 <= len(digits) <= 19 and luhn_valid(digits) and len(set(digits)) > 1 and free(*m.span()):
            taken.append(m.span())
            yield PIIMatch("card", mask("card", m.group()), *m.span())
    for rx in (IPV4,) * ipv4 + (IPV6,) * ipv6:
        for m in rx.finditer(text):
            try:
                ip = ipaddress.ip_address(m.group())
            except ValueError:
                continue
            if ip.is_unspecified or ip.is_loopback or not free(*m.span()):
                continue
            if _VERSION_BEFORE.search(text[max(0, m.start() - 12) : m.start()]):
                continue
            if ip.version == 6 and m.group().count(":") < 3:
                continue
            taken.append(m.span())
            yield PIIMatch("ip", mask("ip", m.group()), *m.span())
    for m in PHONE.finditer(text) if phone else ():
        value = m.group()
        digits = re.sub(r"\D", "", value)
        if not 9 <= len(digits) <= 15 or _DATE.match(value) or not free(*m.span()):
            continue
        # a dotted run of small numbers is a version string or an IP, not a phone number
        if "." in value and " " not in value and "-" not in value and "(" not in value:
            continue
        taken.append(m.span())
        yield PIIMatch("phone", mask("phone", value), *m.span())
