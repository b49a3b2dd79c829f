from __future__ import annotations

from sqlalchemy import delete
from sqlalchemy.orm import Session

from features.data.models import Account


def clear_ledger(session: Session) -> None:
    session.execute(delete(Account))
