"""Benchmark of GXRTC API against a real livekit-server: ``python -m bench`` (or ``make bench``).

See ``bench/README.md`` for what it measures and how. Everything stays on 127.0.0.1.
"""
