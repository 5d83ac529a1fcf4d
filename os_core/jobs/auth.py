"""Users and their bearer tokens. A token is 256 random bits, shown once when the user is added; the
database keeps only its SHA-256 (a random token needs no slow hash: there is nothing to guess)."""
from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

from ..errors import QNodeOSError
from .db import Database, User

TOKEN_PREFIX = "qnj_"


class UserError(QNodeOSError):
    """A user cannot be added (bad or taken name)."""


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def add_user(db: Database, name: str, *, replace_token: bool = False) -> str:
    """Add user ``name`` (or give an existing one a new token with ``replace_token``); returns the token."""
    name = name.strip()
    if not name or len(name) > 100 or any(ord(c) < 32 for c in name):
        raise UserError(f"user name {name!r}: 1 to 100 printable characters")
    token = new_token()
    with db() as session, session.begin():
        user = session.scalar(select(User).where(User.name == name))
        if user is not None and not replace_token:
            raise UserError(f"user {name!r} exists (give it a new token with --new-token)")
        if user is None:
            session.add(User(name=name, token_hash=token_hash(token)))
        else:
            user.token_hash = token_hash(token)
    return token


def user_for_token(db: Database, token: str) -> User | None:
    if not token.startswith(TOKEN_PREFIX) or len(token) > 200:
        return None
    with db() as session:
        return session.scalar(select(User).where(User.token_hash == token_hash(token)))


def user_names(db: Database) -> list[str]:
    with db() as session:
        return list(session.scalars(select(User.name).order_by(User.name)))
