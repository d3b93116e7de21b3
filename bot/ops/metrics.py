"""A tiny in-process metrics registry, rendered in the Prometheus text exposition format.

Standard library only. Three kinds, each as small as the bot needs:

- `Counter`: counts with at most one label whose values are fixed when it is made; a value
  outside that set is counted as "other", so no text from outside the code (a user id, a key, a
  message, a place name) can ever become a label;
- `Gauge`: one value, set when /metrics or /readyz is asked (bot/ops/health.py reads the
  database then) or computed by a function at scrape time;
- `Histogram`: fixed buckets, rendered as `_bucket{le=...}`, `_sum` and `_count`.

`METRICS` is the process's one set of bot metrics. Everything in it is a count, a duration or
an age: never a user id, key, text or per-place count (tests/general/test_health_metrics.py
checks the output after a journey with known ids and texts).
"""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")
_LABEL_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")
OTHER = "other"


def escape_help(text: str) -> str:
    """HELP text: backslash and line feed escaped."""
    return text.replace("\\", "\\\\").replace("\n", "\\n")


def escape_label_value(value: str) -> str:
    """A label value: backslash, double quote and line feed escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def format_value(value: float) -> str:
    """A sample value as Prometheus writes it: integers without a point, +Inf, -Inf, NaN."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if float(value).is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(float(value))


def _check_name(name: str) -> str:
    if not _NAME_RE.match(name):
        raise ValueError(f"not a metric name: {name!r}")
    return name


class _Metric:
    kind = "untyped"

    def __init__(self, name: str, help_text: str) -> None:
        self.name = _check_name(name)
        self.help = help_text

    def header(self) -> list[str]:
        return [f"# HELP {self.name} {escape_help(self.help)}", f"# TYPE {self.name} {self.kind}"]

    def samples(self) -> list[str]:
        raise NotImplementedError

    def render(self) -> list[str]:
        return self.header() + self.samples()


class Counter(_Metric):
    """A count that only goes up, optionally split by one label over a fixed set of values."""

    kind = "counter"

    def __init__(
        self, name: str, help_text: str, label: str | None = None, values: Sequence[str] = ()
    ) -> None:
        if not name.endswith("_total"):
            raise ValueError(f"a counter's name ends in _total: {name!r}")
        super().__init__(name, help_text)
        if label is not None and not _LABEL_RE.match(label):
            raise ValueError(f"not a label name: {label!r}")
        if (label is None) != (not values):
            raise ValueError("a label needs its fixed values, and values need a label")
        self.label = label
        allowed = list(dict.fromkeys(values))
        if label is not None and OTHER not in allowed:
            allowed.append(OTHER)
        self._counts: dict[str, float] = {v: 0.0 for v in allowed} if label else {"": 0.0}

    def inc(self, value: str | None = None, amount: float = 1.0) -> None:
        """Add `amount` to the count of `value` (a value outside the fixed set: "other")."""
        if amount < 0:
            raise ValueError("a counter never goes down")
        key = OTHER if self.label is not None else ""
        if self.label is not None and value is not None and value in self._counts:
            key = value
        self._counts[key] += amount

    def value(self, value: str | None = None) -> float:
        return self._counts.get("" if self.label is None else (value or ""), 0.0)

    def reset(self) -> None:
        for key in self._counts:
            self._counts[key] = 0.0

    def samples(self) -> list[str]:
        if self.label is None:
            return [f"{self.name} {format_value(self._counts[''])}"]
        return [
            f'{self.name}{{{self.label}="{escape_label_value(v)}"}} {format_value(n)}'
            for v, n in self._counts.items()
        ]


class Gauge(_Metric):
    """One value: set from outside (`set`) or read from `function` at scrape time. None (not
    known yet) is rendered as NaN."""

    kind = "gauge"

    def __init__(
        self, name: str, help_text: str, function: Callable[[], float | None] | None = None
    ) -> None:
        super().__init__(name, help_text)
        self._value: float | None = None
        self._function = function

    def set(self, value: float | None) -> None:
        self._value = None if value is None else float(value)

    def value(self) -> float | None:
        return self._function() if self._function is not None else self._value

    def reset(self) -> None:
        self._value = None

    def samples(self) -> list[str]:
        value = self.value()
        return [f"{self.name} {format_value(math.nan if value is None else value)}"]


class Histogram(_Metric):
    """Observations counted into fixed, cumulative buckets (upper bounds, seconds here)."""

    kind = "histogram"

    def __init__(self, name: str, help_text: str, buckets: Iterable[float]) -> None:
        super().__init__(name, help_text)
        bounds = sorted(float(b) for b in buckets)
        if not bounds or any(math.isinf(b) or math.isnan(b) for b in bounds):
            raise ValueError("a histogram needs finite bucket bounds (+Inf is added)")
        if len(set(bounds)) != len(bounds):
            raise ValueError("bucket bounds must differ")
        self.bounds = tuple(bounds)
        self._counts = [0] * (len(bounds) + 1)  # per bucket, not cumulative; the last is +Inf
        self.sum = 0.0
        self.count = 0

    def observe(self, value: float) -> None:
        for i, bound in enumerate(self.bounds):
            if value <= bound:
                self._counts[i] += 1
                break
        else:
            self._counts[-1] += 1
        self.sum += value
        self.count += 1

    def reset(self) -> None:
        self._counts = [0] * (len(self.bounds) + 1)
        self.sum = 0.0
        self.count = 0

    def samples(self) -> list[str]:
        lines = []
        running = 0
        for bound, n in zip((*self.bounds, math.inf), self._counts, strict=True):
            running += n
            lines.append(f'{self.name}_bucket{{le="{format_value(bound)}"}} {running}')
        lines.append(f"{self.name}_sum {format_value(self.sum)}")
        lines.append(f"{self.name}_count {self.count}")
        return lines


class Registry:
    """Metrics in the order they were added; `render` is the /metrics body."""

    def __init__(self) -> None:
        self._metrics: dict[str, _Metric] = {}

    def add(self, metric: Any) -> Any:
        if metric.name in self._metrics:
            raise ValueError(f"metric {metric.name} is already registered")
        self._metrics[metric.name] = metric
        return metric

    def __iter__(self) -> Any:
        return iter(self._metrics.values())

    def render(self) -> str:
        lines: list[str] = []
        for metric in self._metrics.values():
            lines.extend(metric.render())
        return "\n".join(lines) + "\n"


# --- the bot's metrics ---------------------------------------------------------------------

UPDATE_KINDS = ("message", "command", "callback", OTHER)
# The kinds of reply decision (bot/answers/answering.py, ReplyKind), as they are named there.
REPLY_OUTCOMES = ("answer", "suggest", "smalltalk", "unknown", "decline", "crisis")
CRISIS_TIERS = ("crisis", "check")
SEND_ERROR_KINDS = ("blocked", "rate_limited", "network", "server", OTHER)
# A Bot API call: 2xx, a 4xx refusal (blocked, flood control, bad request), 5xx, or no answer.
API_OUTCOMES = ("ok", "refused", "server_error", "network")
API_BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
UPDATE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
LONG_POLL_METHOD = "getUpdates"  # waits for updates on purpose: not a latency to measure


class BotApiHealth:
    """When the Bot API last answered a call successfully (2xx) and last failed (5xx or no
    answer), on the monotonic clock; for /readyz and the age gauge."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.last_ok: float | None = None
        self.last_failure: float | None = None

    def reset(self) -> None:
        self.started = self.clock()
        self.last_ok = None
        self.last_failure = None

    def last_ok_age(self) -> float | None:
        return None if self.last_ok is None else max(0.0, self.clock() - self.last_ok)

    def failing_for(self) -> float:
        """Seconds since the last success (or start) while calls fail since it; 0 otherwise."""
        since = self.last_ok if self.last_ok is not None else self.started
        if self.last_failure is None or self.last_failure < since:
            return 0.0
        return max(0.0, self.clock() - since)


class BotMetrics:
    """The bot's metrics and the calls that feed them (each is cheap and never raises)."""

    def __init__(self) -> None:
        r = self.registry = Registry()
        self.api_health = BotApiHealth()
        self.updates = r.add(
            Counter(
                "selvhjelp_updates_total",
                "Telegram updates handled, by kind (message, command, callback, other).",
                "kind",
                UPDATE_KINDS,
            )
        )
        self.update_seconds = r.add(
            Histogram(
                "selvhjelp_update_handling_seconds",
                "Time to handle one update, every handler included (seconds).",
                UPDATE_BUCKETS,
            )
        )
        self.answers = r.add(
            Counter(
                "selvhjelp_answers_total",
                "Replies to free text, by the decision taken (bot/answers/answering.py).",
                "outcome",
                REPLY_OUTCOMES,
            )
        )
        self.crisis_replies = r.add(
            Counter(
                "selvhjelp_crisis_replies_total",
                "Replies with the emergency numbers, by tier (crisis, or a gentle check).",
                "tier",
                CRISIS_TIERS,
            )
        )
        self.registrations_waiting = r.add(
            Gauge(
                "selvhjelp_registrations_waiting",
                "Registrations of interest held in total (never per place; 0 below min_count).",
            )
        )
        self.outbox_pending = r.add(
            Gauge("selvhjelp_outbox_pending", "Outbox messages waiting to be sent.")
        )
        self.outbox_oldest_age = r.add(
            Gauge(
                "selvhjelp_outbox_oldest_pending_age_seconds",
                "Age of the oldest pending outbox message (0 when none), counted from when "
                "this process first saw it pending.",
            )
        )
        self.database_up = r.add(
            Gauge("selvhjelp_database_up", "1 when the last database check answered, else 0.")
        )
        self.send_errors = r.add(
            Counter(
                "selvhjelp_send_errors_total",
                "Outbox sends that failed, by kind (blocked, rate_limited, network, server, "
                "other).",
                "kind",
                SEND_ERROR_KINDS,
            )
        )
        self.api_calls = r.add(
            Counter(
                "selvhjelp_bot_api_calls_total",
                "Bot API calls, by outcome (ok, refused = 4xx, server_error = 5xx, network).",
                "outcome",
                API_OUTCOMES,
            )
        )
        self.api_seconds = r.add(
            Histogram(
                "selvhjelp_bot_api_call_seconds",
                "Bot API call latency, getUpdates' long poll excluded (seconds).",
                API_BUCKETS,
            )
        )
        self.api_last_ok_age = r.add(
            Gauge(
                "selvhjelp_bot_api_last_ok_age_seconds",
                "Seconds since the last successful Bot API call (NaN before the first).",
                self.api_health.last_ok_age,
            )
        )

    def reset(self) -> None:
        """Everything back to zero (tests)."""
        for metric in self.registry:
            metric.reset()
        self.api_health.reset()

    def render(self) -> str:
        return self.registry.render()

    # --- feeding -----------------------------------------------------------------------------

    def count_update(self, update: object, seconds: float | None = None) -> None:
        """One update handled (its kind read from its shape, nothing else), and how long."""
        self.updates.inc(update_kind(update))
        if seconds is not None:
            self.update_seconds.observe(seconds)

    def observe_reply(self, reply: object) -> None:
        """A reply decision (Services.reply_listener): its kind and, for crisis, its tier."""
        kind = getattr(reply, "kind", None)
        self.answers.inc(kind if isinstance(kind, str) else None)
        if kind == "crisis":
            self.crisis_reply(getattr(reply, "crisis_tier", None))

    def crisis_reply(self, tier: object) -> None:
        self.crisis_replies.inc(tier if isinstance(tier, str) else None)

    def send_error(self, kind: str) -> None:
        self.send_errors.inc(kind)

    def api_call(self, url: str, status: int | None, seconds: float) -> None:
        """A Bot API call ended: `status` is its HTTP status, None when nothing came back.
        Only the method (the URL's last part) is looked at: the URL holds the token."""
        now = self.api_health.clock()
        if status is None:
            outcome = "network"
        elif 200 <= status <= 299:
            outcome = "ok"
        elif status < 500:
            outcome = "refused"
        else:
            outcome = "server_error"
        self.api_calls.inc(outcome)
        if outcome == "ok":
            self.api_health.last_ok = now
        elif outcome != "refused":
            self.api_health.last_failure = now
        if url.rpartition("/")[2] != LONG_POLL_METHOD:
            self.api_seconds.observe(seconds)


def update_kind(update: object) -> str:
    """message, command, callback or other, from the update's shape alone."""
    if getattr(update, "callback_query", None) is not None:
        return "callback"
    message = getattr(update, "message", None) or getattr(update, "edited_message", None)
    if message is None:
        return OTHER
    text = getattr(message, "text", None)
    if isinstance(text, str) and text.startswith("/"):
        return "command"
    return "message"


METRICS = BotMetrics()
