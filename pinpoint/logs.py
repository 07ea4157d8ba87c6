"""Logs of every Pinpoint process: one line per event, `key=value` pairs, or JSON lines with
`PINPOINT_LOG_FORMAT=json`. Every entry point calls `configure_logging(settings, service)` once.

An event's fields go in `extra`; amounts in ether through pinpoint.units.format_eth:

    log.info("job %s: bid %s", job_id, format_eth(price), extra={"job_id": job_id, "price": format_eth(price)})
    -> ts=2026-12-01T10:00:00.123Z level=info service=solver logger=worker.daemon msg="job 3: bid 0.01 ETH" job_id=3 price="0.01 ETH"
    -> {"ts": "2026-12-01T10:00:00.123Z", "level": "info", "service": "solver", ..., "job_id": 3, "price": "0.01 ETH"}

A traceback is one field (`exc`) of its event's line, never lines of its own.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import UTC, datetime

# What every LogRecord carries: anything else on a record came from `extra` and is an event field.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_BARE = re.compile(r"[^\s\"=\\]+")  # a value written without quotes


def event_fields(record: logging.LogRecord, service: str | None) -> dict:
    """The record as ordered fields: time, level, service, logger, message, the event's own fields, traceback."""
    fields = {"ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
              .replace("+00:00", "Z"), "level": record.levelname.lower()}
    if service:
        fields["service"] = service
    fields["logger"] = record.name
    fields["msg"] = record.getMessage()
    fields.update((key, value) for key, value in vars(record).items() if key not in _RECORD_ATTRIBUTES)
    if record.exc_info:
        fields["exc"] = logging.Formatter().formatException(record.exc_info)
    elif record.exc_text:
        fields["exc"] = record.exc_text
    if record.stack_info:
        fields["stack"] = record.stack_info
    return fields


class KeyValueFormatter(logging.Formatter):
    """`key=value` pairs (logfmt): a value with spaces, quotes or `=` is quoted, and newlines are escaped."""

    def __init__(self, service: str | None = None):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        return " ".join(f"{key}={_logfmt(value)}" for key, value in event_fields(record, self.service).items())


class JsonFormatter(logging.Formatter):
    """One JSON object per line; values JSON cannot hold (bytes, paths, ...) are written as their str()."""

    def __init__(self, service: str | None = None):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(event_fields(record, self.service), default=str, ensure_ascii=False)


def _logfmt(value) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, bytes):
        value = "0x" + value.hex()
    text = value if isinstance(value, str) else str(value)
    return text if _BARE.fullmatch(text) else json.dumps(text, ensure_ascii=False)


QUIET = {"httpx": logging.WARNING, "httpcore": logging.WARNING, "urllib3": logging.WARNING,
         "web3": logging.WARNING, "uvicorn.access": logging.WARNING}
"""Libraries that log every request at INFO: one line per our event, not per HTTP call."""


def configure_logging(settings, service: str | None = None, level: int = logging.INFO) -> None:
    """Send every logger's records, one line each, to stderr in the format `settings.log_format` names;
    `service` (coordinator, indexer, solver, ...) is a field of every line."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(service) if settings.log_format == "json" else KeyValueFormatter(service))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name, quiet in QUIET.items():
        logging.getLogger(name).setLevel(quiet)
    logging.captureWarnings(True)
