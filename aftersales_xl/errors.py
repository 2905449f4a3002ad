"""The few exceptions that mean "cannot proceed". Data problems are findings, not exceptions."""

from __future__ import annotations

from .pii import redact


class XlcheckError(Exception):
    """Base class: the CLI prints the message on one line and exits 2.

    The message is redacted when the exception is built: a phone number, email or ID-card
    number in it (a file name, an echoed value) is masked, so no exception text — printed,
    logged or put in a report — carries one, whoever raised it.
    """

    exit_code = 2

    def __init__(self, *args: object) -> None:
        super().__init__(*(redact(a) if isinstance(a, str) else a for a in args))


class ConfigError(XlcheckError):
    """The policy file is malformed or names an unknown key or a bad value.

    Carries the message in Chinese (``zh``) and English (``en``, the Chinese if not given);
    ``str()`` is the one ``lang`` picks: Chinese unless ``lang="en"``.
    """

    def __init__(self, zh: str, en: str | None = None, *, lang: str = "zh") -> None:
        self.zh, self.en = redact(zh), redact(zh if en is None else en)
        super().__init__(self.en if lang == "en" else self.zh)


class UnreadableError(XlcheckError):
    """A workbook could not be read at all (not a workbook, corrupt, encrypted, too big).

    ``reason`` is a short stable word (``not-a-workbook``, ``encrypted``, ``truncated``,
    ``too-big``, ``unsafe-xml``, ``empty``...) and the message says what to do.
    """

    def __init__(self, path: str, reason: str, message: str):
        super().__init__(message)
        self.path = path
        self.reason = reason


class LockedError(XlcheckError):
    """Another process holds the file (Excel's ~$ lock, or a merge already running)."""


class WriteError(XlcheckError):
    """An output could not be written safely; the original is untouched."""
