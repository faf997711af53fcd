"""Typed FastAPI dependencies: the components built in the lifespan, and the caller's user."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from preference_store.accounts import Accounts
from preference_store.store import PreferenceStore

_bearer = HTTPBearer(auto_error=False)


def get_store(request: Request) -> PreferenceStore:
    store: PreferenceStore = request.app.state.store
    return store


def get_accounts(request: Request) -> Accounts:
    accounts: Accounts = request.app.state.accounts
    return accounts


StoreDep = Annotated[PreferenceStore, Depends(get_store)]
AccountsDep = Annotated[Accounts, Depends(get_accounts)]


def get_current_user(
    accounts: AccountsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    """The user the bearer token belongs to; 401 without a valid token."""
    user = accounts.user_for_token(credentials.credentials) if credentials else None
    if user is None:
        raise HTTPException(
            status_code=status.HTTP_401_UNAUTHORIZED,
            detail="a valid 'Authorization: Bearer <token>' header is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return user


CurrentUser = Annotated[str, Depends(get_current_user)]
