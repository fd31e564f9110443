"""Header values (token, bearer, custom user agent) are never printed.

The settings reject values that would make the HTTP library raise with the header in its
message, but any error text can still quote a request. So every value registered here is
replaced by `***` in every log record (traceback included) and in the final error line.
"""

from __future__ import annotations

import logging
import threading
import traceback
import typing as t

MASK = "***"
# Shorter values are not real tokens, and masking them would garble every log line.
MIN_LENGTH = 6

_lock = threading.Lock()
_secrets: set[str] = set()


def register(values: t.Iterable[str]) -> None:
    """Remember values to mask from now on, and mask them in every log handler."""
    with _lock:
        _secrets.update(v for v in values if len(v) >= MIN_LENGTH)
    _install_filter()


def scrub(text: str) -> str:
    """`text` with every registered value masked (longest first: a token inside its header)."""
    with _lock:
        secrets = sorted(_secrets, key=len, reverse=True)
    for secret in secrets:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def describe(error: BaseException) -> str:
    """One line for an error: its message (or type), masked."""
    text = str(error).strip() or type(error).__name__
    return scrub(" ".join(text.split()))


def format_traceback(error: BaseException) -> str:
    return scrub("".join(traceback.format_exception(error)))


class ScrubFilter(logging.Filter):
    """Masks secrets in a record's message and in its exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = scrub(message)
        if masked != message:
            record.msg, record.args = masked, ()
        if record.exc_info and record.exc_info[1] is not None:
            text = "".join(traceback.format_exception(record.exc_info[1]))
            masked = scrub(text)
            if masked != text:
                record.exc_text = masked.rstrip("\n")
                record.exc_info = None  # formatters would print the unmasked original
        return True


_filter = ScrubFilter()


def _install_filter() -> None:
    """On every handler of the root logger (the SDK's console handler, or those of
    SINGER_SDK_LOG_CONFIG): a handler filter sees records of every logger."""
    for handler in logging.getLogger().handlers:
        if _filter not in handler.filters:
            handler.addFilter(_filter)
