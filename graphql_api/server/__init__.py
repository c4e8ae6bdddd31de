"""What the HTTP server adds around both faces, importing neither: admission and body intake (`limits`),
the head deadline and connection share (`http`), per-request metrics and the access log (`observe`),
`/metrics` (`scrape`), and the static pages (`graphiql`, `console`). `graphql_api.app` wires them in."""
