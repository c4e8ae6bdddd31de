"""The test harness: a real livekit-server, redis-server, service and participants, started and stopped by the tests."""
