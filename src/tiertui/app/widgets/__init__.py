"""Widgets of the app."""

from .figure import Figure
from .marks import event_text, risk_text, tier_text
from .virtual_table import Column, VirtualTable

__all__ = ["Column", "Figure", "VirtualTable", "event_text", "risk_text", "tier_text"]
