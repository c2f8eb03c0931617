"""Positions, cash, exposure and P&L, exact and pure."""
