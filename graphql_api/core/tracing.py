"""Spans for the calls the service makes (LiveKit, the database, Redis), through OpenTelemetry's API only.

Every call site opens its span with `client_span` and marks a failure with
`failed`; nothing else in the service starts spans of its own (the request's
span is FastAPI's). The API alone is a no-op: an operator who wants traces
installs an SDK and an exporter and sets them as the global tracer provider
(docs/operations.md), and these spans then join the request's trace.

Off unless `GXRTC_TELEMETRY` is on and a tracer provider is configured when
the app starts (`enable`): otherwise `client_span` returns one shared empty
context and costs next to nothing. The API alone would hand out non-recording
spans, which still cost a context switch and more per call, so that case is
cut short here too (docs/operations.md has the figures).

Span attributes are fixed vocabularies (a LiveKit method name, a database
system, a Redis command): never a credential, a token, a room name or an
identity, so nothing a caller sent can reach an exporter through them.
"""

from __future__ import annotations

from collections.abc import Mapping, MutableMapping
from contextlib import AbstractContextManager, nullcontext

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode
from opentelemetry.util.types import AttributeValue

__all__ = ["client_span", "enable", "enabled", "failed", "inject", "name_current", "recording_trace_id"]

_tracer = trace.get_tracer("gxrtc")
_NOT_RECORDING: AbstractContextManager[trace.Span] = nullcontext(trace.INVALID_SPAN)
_NOTHING_CONFIGURED = (trace.ProxyTracerProvider, trace.NoOpTracerProvider)
"""The API's own providers: the proxy before any is set, and the explicit no-op one."""


class _Switch:
    on = False


def enable(on: bool) -> None:
    """Make the service's own spans if `on` and a tracer provider is configured by now.

    The app calls it as it starts (its lifespan), from `GXRTC_TELEMETRY`, after whatever set the provider
    up (an SDK configured at start-up, `opentelemetry-instrument`). Decided once, since asking the API
    for its provider costs more than a span that is not made.
    """
    _Switch.on = on and not isinstance(trace.get_tracer_provider(), _NOTHING_CONFIGURED)


def enabled() -> bool:
    """Whether spans are made: telemetry on, and a provider that is not the API's proxy or no-op one."""
    return _Switch.on


def client_span(name: str, attributes: Mapping[str, AttributeValue]) -> AbstractContextManager[trace.Span]:
    """A span around one outgoing call, current while it lasts, so a call made inside it is its child.

    Exceptions are not recorded on it (their messages may carry what a caller sent); `failed` marks it.
    """
    if not enabled():
        return _NOT_RECORDING
    return _tracer.start_as_current_span(
        name, kind=SpanKind.CLIENT, attributes=attributes, record_exception=False, set_status_on_exception=False
    )


def failed(span: trace.Span, error_type: str) -> None:
    """Mark `span` failed, with an error type from a bounded set (an error class's name)."""
    if span.is_recording():
        span.set_status(StatusCode.ERROR)
        span.set_attribute("error.type", error_type)


def inject(headers: MutableMapping[str, str]) -> None:
    """Add the current span's W3C trace context (`traceparent`) to an outgoing request's headers."""
    if trace.get_current_span().get_span_context().is_valid:
        propagate.inject(headers)


def recording_trace_id() -> str | None:
    """The current trace's id in hex, while a span records it (for the access log's line)."""
    span = trace.get_current_span()
    if not span.is_recording():
        return None
    return format(span.get_span_context().trace_id, "032x")


def name_current(name: str | None, attributes: Mapping[str, AttributeValue]) -> None:
    """Rename the current span (a request's, from its edge) or add to it, once it is known what the request ran."""
    span = trace.get_current_span()
    if span.is_recording():
        if name is not None:
            span.update_name(name)
        span.set_attributes(attributes)
