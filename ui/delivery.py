"""The Delivery page's work: the delivery variables (names, never values) from the process's
environment and the app's secrets, and "send a test to me" through the same sending and record
as the command line."""

from __future__ import annotations

from email.message import EmailMessage

import streamlit as st

from sales import delivery


def _secrets() -> dict:
    try:
        return {k: (dict(v) if hasattr(v, "keys") else v) for k, v in st.secrets.items()}
    except Exception:  # noqa: BLE001 - no secrets file at all is the common case
        return {}


def environment() -> dict[str, str]:
    return delivery.environment(secrets=_secrets())


def test_message(to: str, sender: str, app_url: str) -> EmailMessage:
    message = EmailMessage()
    message["Subject"] = "Sales forecast: a test of the digest's delivery"
    message["From"] = sender
    message["To"] = to
    message.set_content("This is a test from the sales forecast dashboard's Delivery page: "
                        f"the digest will reach you here.\n\n{app_url}\n")
    return message
