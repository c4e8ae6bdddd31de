"""Who is calling: identity-provider JWTs and server-to-server API keys.

Kept free of any transport so the REST and GraphQL faces share one answer.
Each configured key is pinned to one algorithm, so ``alg: none`` and key
confusion cannot get through. A verified token is remembered until it expires
(at most a minute), because PyJWT's own checks are costly for every token and
a client sends the same token on every request. The JWKS is fetched by one
shared request, and unknown key ids cannot make it refetch more than once per
interval, so nobody can use this service to flood the identity provider.
"""

from __future__ import annotations

from .authenticator import Authenticator
from .principal import OPEN_ACCESS, Principal, Role

__all__ = ["OPEN_ACCESS", "Authenticator", "Principal", "Role"]
