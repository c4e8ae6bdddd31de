"""Unit tests of dev/: the dev environment, the dashboard and the alert rules."""
