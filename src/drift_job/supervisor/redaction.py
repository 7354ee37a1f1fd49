"""Keeping the password out of free text: project exceptions, server messages, log lines.

drift-check's own reports are built from values that never hold the password and are never
rewritten. Free text is another matter: there the password is removed where it appears in a
credential context (URL userinfo, ``password=…``, ``PGPASSWORD=…``, a quoted literal), and
as a whole token anywhere — unless it is too short or too common to tell apart from ordinary
words (``0``, ``e``, ``postgres``), when only the credential contexts are redacted.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import IO, Any
from urllib.parse import quote, quote_plus

MASK = "***"
MIN_TOKEN_LENGTH = 6
COMMON_WORDS = frozenset(
    {
        "postgres",
        "password",
        "secret",
        "changeme",
        "admin",
        "root",
        "test",
        "example",
        "default",
        "letmein",
        "welcome",
        "database",
        "drift_check",
        "passw0rd",
    }
)
#: ``scheme://user:secret@host``, whoever wrote the URL.
URL_CREDENTIALS = re.compile(r"(?P<keep>[a-z][a-z0-9+.-]*://[^:/@\s]*:)[^@\s]+(?=@)", re.I)
#: ``password=secret``, ``PGPASSWORD=secret``, ``"password": "secret"``, ``pwd: 'secret'``. With
#: a colon only a quoted value counts: ``POSTGRES_PASSWORD: contains a NUL byte`` is a message.
KEY_VALUE = re.compile(
    r"""(?P<keep>\b(?:[A-Z_]*PASSWORD|PGPASSWORD|password|passwd|pwd)["']?"""
    r"""(?:\s*=\s*|\s*:\s*(?=["'])))"""
    r"""(?P<value>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|[^\s,;&)}\]]+)""",
    re.I,
)


def _encodings(secret: str) -> set[str]:
    """The forms a secret takes on its way into messages: raw, URL-quoted (as urllib and
    SQLAlchemy write it), %-doubled for configparser, and JSON-escaped."""
    forms = {
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        quote(secret, safe=" +"),  # SQLAlchemy 2's URL rendering
        re.sub(r"[:@/]", lambda m: f"%{ord(m.group(0)):X}", secret),  # SQLAlchemy 1.4's
        json.dumps(secret)[1:-1],
    }
    return {form for base in forms for form in (base, base.replace("%", "%%")) if form}


def _safe_as_token(secret: str) -> bool:
    return len(secret) >= MIN_TOKEN_LENGTH and secret.lower() not in COMMON_WORDS


class Redactor:
    """Redacts known secrets from free text (never from reports drift-check builds)."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._forms: list[str] = []
        self._tokens: list[re.Pattern[str]] = []
        self._quoted: list[re.Pattern[str]] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        forms = _encodings(secret)
        self._forms = sorted(set(self._forms) | forms, key=len, reverse=True)
        for form in sorted(forms, key=len, reverse=True):
            escaped = re.escape(form)
            self._quoted.append(re.compile(rf"""(?P<q>["'`]){escaped}(?P=q)"""))
            if _safe_as_token(secret):
                self._tokens.append(re.compile(rf"(?<![\w%]){escaped}(?![\w])"))

    def _value(self, match: re.Match[str]) -> str:
        value = match.group("value")
        quote_char = value[0] if value[:1] in "\"'" else ""
        return f"{match.group('keep')}{quote_char}{MASK}{quote_char}"

    def __call__(self, text: str) -> str:
        for token in self._tokens:  # first, so no context pattern sees half a password
            text = token.sub(MASK, text)
        for quoted in self._quoted:
            text = quoted.sub(rf"\g<q>{MASK}\g<q>", text)
        text = URL_CREDENTIALS.sub(rf"\g<keep>{MASK}", text)
        return KEY_VALUE.sub(self._value, text)


class RedactingStream:
    """A text stream for free text (our stderr): each write is redacted."""

    def __init__(self, stream: IO[str], redactor: Redactor) -> None:
        self._stream = stream
        self._redactor = redactor

    def write(self, text: str) -> int:
        self._stream.write(self._redactor(text))
        return len(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)
