"""The core: GXRTC API's operations and everything they rest on, free of any transport.

REST compat (`rest_compat`) and GraphQL (`graphql_api.schema`) both call the
operations here; neither holds logic of its own beyond turning its input into
arguments and the result into its own shape. Nothing here imports FastAPI,
Starlette, Strawberry or graphql-core (an import-linter contract, `make lint`).
Each operation takes the `Core` (`services`) and the calling `Principal`
explicitly, checks input, then asks `policy` before it touches LiveKit; every
change is a row of the audit trail (`audit`) before it is answered.

One module per noun: `tokens`, `rooms`, `participants`, `room_events`, `bans`,
`locks`, `audit_log`; beside them `policy` and `grants` (who may do what),
`admission` (who may be in a room, given its bans and lock), `enforcement`
(removing who may not), `validation`, `audit` and `audit_retention`, `paging`,
`cache` (the overview caches), `changes`/`reconcile`/`webhooks` (events LiveKit
reports), `lease` (which process does a duty once per deployment), `livekit`
(the client), `store` (bans, locks, the audit trail), `auth`, `brake` and
`shared_brake` (failed authentications, per process or through Redis),
`events` (the brokers).
"""
