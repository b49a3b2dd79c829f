"""Custom changes referenced by the benchmark specs: plain functions of a Changeset."""

from __future__ import annotations

from benchshop.data.changeset import Changeset


def normalize_email(changeset: Changeset) -> None:
    """Emails are stored trimmed and lower-case."""
    email = changeset.attributes.get("email")
    if isinstance(email, str):
        changeset.attributes["email"] = email.strip().lower()


def normalize_reference(changeset: Changeset) -> None:
    """Order references are stored upper-case and trimmed."""
    reference = changeset.attributes.get("reference")
    if isinstance(reference, str):
        changeset.attributes["reference"] = reference.strip().upper()


def compute_subtotal(changeset: Changeset) -> None:
    """subtotal_cents = quantity * unit_price_cents (a non-input attribute the event records)."""
    quantity = changeset.get("quantity")
    if quantity is None:
        quantity = 1
    price = changeset.get("unit_price_cents")
    if price is not None:
        changeset.attributes["subtotal_cents"] = quantity * price
