"""The pure domain core: types, money, clock, events and ports. Imports only the stdlib."""
