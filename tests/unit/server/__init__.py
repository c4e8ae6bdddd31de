"""Unit tests of graphql_api/server: what the HTTP server adds around both faces."""
