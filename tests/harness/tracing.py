"""OpenTelemetry's SDK for the tests: spans recorded in memory, as an operator's exporter would get them.

The global tracer provider can be set once per process, so the first use sets an SDK provider with an
in-memory exporter, and every later one clears that exporter. `recorded_spans` also switches the service's
own spans off again afterwards, whatever the app it made did, so later tests record nothing they did not
ask for.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from graphql_api.core import tracing

__all__ = ["CALLER_SPAN_ID", "TRACEPARENT", "TRACE_ID", "Spans", "recorded_spans", "trace_id"]

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CALLER_SPAN_ID}-01"

_exporter = InMemorySpanExporter()


def _install() -> None:
    if not isinstance(trace.get_tracer_provider(), TracerProvider):
        provider = TracerProvider()
        provider.add_span_processor(SimpleSpanProcessor(_exporter))
        trace.set_tracer_provider(provider)


class Spans:
    """The spans finished so far, and their relations."""

    def all(self) -> list[ReadableSpan]:
        return list(_exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.all() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, (name, [span.name for span in self.all()])
        return found[0]

    def under(self, ancestor: ReadableSpan, name: str) -> ReadableSpan:
        """The one span of that name below `ancestor` (background work, such as presence's sweep, has its own)."""
        found = [span for span in self.named(name) if ancestor in self.ancestors(span)]
        assert len(found) == 1, (name, [span.name for span in self.all()])
        return found[0]

    def parent(self, span: ReadableSpan) -> ReadableSpan | None:
        if span.parent is None:
            return None
        for candidate in self.all():
            if candidate.context is not None and candidate.context.span_id == span.parent.span_id:
                return candidate
        return None

    def ancestors(self, span: ReadableSpan) -> list[ReadableSpan]:
        chain = []
        parent = self.parent(span)
        while parent is not None:
            chain.append(parent)
            parent = self.parent(parent)
        return chain


def trace_id(span: ReadableSpan) -> str:
    assert span.context is not None
    return format(span.context.trace_id, "032x")


@contextlib.contextmanager
def recorded_spans() -> Iterator[Spans]:
    _install()
    _exporter.clear()
    try:
        yield Spans()
    finally:
        tracing.enable(False)
        _exporter.clear()
