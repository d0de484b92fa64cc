"""Settings, read once from the environment into a frozen object that fails fast and says why."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tabulator.anomalies import (
    DEVIATION,
    DUPLICATE_MIN_VOTERS,
    MIN_PEERS,
    RATIO_DEVIATION,
    SWAP_DEVIATION,
    SWAP_FIT,
    TENFOLD_DEVIATION,
    AnomalyThresholds,
)
from tabulator.limits import DEFAULT_LIMITS, ReadLimits
from tabulator.rules import Thresholds


class SettingsError(ValueError):
    pass


# Reading an uploaded file gives up after this long, with a sentence for the clerk: well within gunicorn's
# `timeout` (60 s, deploy/gunicorn.conf.py), past which the worker itself is ended.
UPLOAD_SECONDS = 30.0


@dataclass(frozen=True)
class Settings:
    database_url: str
    instance_path: Path
    thresholds: Thresholds = field(default_factory=Thresholds)
    cache_max_age: int = 2  # seconds a client or CDN may keep a "latest" document
    # How long a worker trusts the round's latest sequence before asking the database again: bounds how
    # stale a "latest" answer can be (well under the 1 s freshness target) and spares a query per request.
    head_cache_seconds: float = 0.25
    static_folder: Path | None = None  # where to publish the latest documents as files (None: off)
    max_upload_bytes: int = (
        32 * 1024 * 1024
    )  # as sent: a national round-1 ministry file is 38 MB raw, about 6 MB gzipped
    # Reverse proxies in front of the app (1 behind the shipped nginx): the client's address for the audit
    # is then read from the last N entries of X-Forwarded-For. 0 by default: a client can write that header
    # too, so it is believed only when every request comes through those proxies.
    trusted_proxies: int = 0
    # Failed authentications and anonymous writes per client address (api.web.limits); the counters' store:
    # memory:// for one process, redis://host:6379 shared by every worker and node.
    failed_write_limit: str = "30 per minute"
    rate_limit_storage: str = "memory://"
    # Four eyes: how long a supervisor's request to certify, to make a test round real or to lift an
    # embargo early waits for a second person's confirmation.
    confirmation_minutes: float = 15.0
    # What an uploaded file may hold once decompressed (bytes, rows, columns) and how long reading it may
    # take: tabulator.limits says which real file the defaults come from. The console reads with the same
    # limits and no time limit.
    upload_limits: ReadLimits = field(default_factory=lambda: ReadLimits(seconds=UPLOAD_SECONDS))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        environ = os.environ if environ is None else environ
        instance = Path(environ.get("TABULATOR_INSTANCE_PATH", "instance")).resolve()
        default_url = f"sqlite:///{instance / 'tabulator.sqlite3'}"
        url = environ.get("TABULATOR_DATABASE_URL", default_url).strip()
        if not url.startswith(("sqlite:", "postgresql:", "postgresql+psycopg:")):
            raise SettingsError(
                f"TABULATOR_DATABASE_URL must be a sqlite:/// or postgresql:// URL, got {url!r}"
            )
        return cls(
            database_url=url,
            instance_path=instance,
            thresholds=Thresholds(
                blank_share=_share(environ, "TABULATOR_WARN_BLANK_SHARE", 0.03),
                null_share=_share(environ, "TABULATOR_WARN_NULL_SHARE", 0.03),
                jump_factor=_number(environ, "TABULATOR_WARN_JUMP_FACTOR", 3.0, minimum=1.0),
                anomalies=AnomalyThresholds(
                    min_peers=int(_number(environ, "TABULATOR_WARN_MIN_PEERS", MIN_PEERS, minimum=1)),
                    deviation=_number(environ, "TABULATOR_WARN_DEVIATION", DEVIATION, minimum=1.0),
                    swap_deviation=_number(
                        environ, "TABULATOR_WARN_SWAP_DEVIATION", SWAP_DEVIATION, minimum=1.0
                    ),
                    swap_fit=_number(environ, "TABULATOR_WARN_SWAP_FIT", SWAP_FIT, minimum=0.1),
                    ratio_deviation=_number(
                        environ, "TABULATOR_WARN_RATIO_DEVIATION", RATIO_DEVIATION, minimum=1.0
                    ),
                    tenfold_deviation=_number(
                        environ, "TABULATOR_WARN_TENFOLD_DEVIATION", TENFOLD_DEVIATION, minimum=1.0
                    ),
                    duplicate_min_voters=int(
                        _number(environ, "TABULATOR_WARN_DUPLICATE_MIN_VOTERS", DUPLICATE_MIN_VOTERS)
                    ),
                ),
            ),
            cache_max_age=int(_number(environ, "TABULATOR_CACHE_MAX_AGE", 2)),
            max_upload_bytes=int(
                _number(environ, "TABULATOR_MAX_UPLOAD_BYTES", 32 * 1024 * 1024, minimum=1024)
            ),
            head_cache_seconds=_number(environ, "TABULATOR_HEAD_CACHE_SECONDS", 0.25),
            trusted_proxies=int(_number(environ, "TABULATOR_TRUSTED_PROXIES", 0)),
            failed_write_limit=_rate(environ, "TABULATOR_FAILED_WRITE_LIMIT", "30 per minute"),
            rate_limit_storage=environ.get("TABULATOR_RATE_LIMIT_STORAGE", "memory://"),
            confirmation_minutes=_number(environ, "TABULATOR_CONFIRMATION_MINUTES", 15.0, minimum=1.0),
            upload_limits=_upload_limits(environ),
            static_folder=Path(environ["TABULATOR_STATIC_FOLDER"]).resolve()
            if environ.get("TABULATOR_STATIC_FOLDER")
            else None,
        )


def _number(environ: Mapping[str, str], name: str, default: float, *, minimum: float = 0.0) -> float:
    text = environ.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {text!r}") from None
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum:g}, got {text!r}")
    return value


def _upload_limits(environ: Mapping[str, str]) -> ReadLimits:
    default = DEFAULT_LIMITS
    return ReadLimits(
        max_bytes=int(_number(environ, "TABULATOR_MAX_DECOMPRESSED_BYTES", default.max_bytes, minimum=1024)),
        max_rows=int(_number(environ, "TABULATOR_MAX_UPLOAD_ROWS", default.max_rows, minimum=1)),
        # 6: a bureau, the four counts and one candidate.
        max_columns=int(_number(environ, "TABULATOR_MAX_UPLOAD_COLUMNS", default.max_columns, minimum=6)),
        seconds=_number(environ, "TABULATOR_UPLOAD_SECONDS", UPLOAD_SECONDS, minimum=1.0),
    )


def _share(environ: Mapping[str, str], name: str, default: float) -> float:
    value = _number(environ, name, default)
    if value > 1:
        raise SettingsError(f"{name} is a share between 0 and 1 (0.03 for 3 %), got {value:g}")
    return value


def _rate(environ: Mapping[str, str], name: str, default: str) -> str:
    from limits import parse_many  # the rate limiter's own parser: what it accepts, we accept

    text = environ.get(name, default)
    try:
        parse_many(text)
    except ValueError:
        raise SettingsError(
            f'{name} must be a rate like "30 per minute" or "100/hour", got {text!r}'
        ) from None
    return text
