"""Enum types as the revisions leave them, so a new revision that recreates one can be
compared with what it replaces (PostgreSQL cannot drop a value: projects rename the type away,
create it again, and drop the old one)."""

from __future__ import annotations


class EnumHistory:
    """Each enum type's values, as the revisions so far left them."""

    def __init__(self) -> None:
        self.values: dict[str, list[str]] = {}
        #: Values of types renamed away or dropped in the current revision (recreated next).
        self.retired: dict[str, list[str]] = {}

    def create(self, name: str, values: list[str]) -> list[str] | None:
        """Record a new type; the values it had before, if this recreates it."""
        previous = self.retired.pop(name, None)
        self.values[name] = values
        return previous

    def add(self, name: str, value: str, where: str | None, anchor: str | None) -> None:
        values = self.values.get(name)
        if values is None or value in values:
            return
        at = len(values)
        if anchor is not None and anchor in values:
            at = values.index(anchor) + (where.upper() == "AFTER" if where else 1)
        values.insert(at, value)

    def retire(self, name: str, new_name: str | None = None) -> None:
        if name in self.values:
            self.retired[name] = self.values.pop(name)
            if new_name is not None:
                self.values[new_name] = list(self.retired[name])
