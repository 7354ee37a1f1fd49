"""Where each difference is in the project's source: the model's class or column line, found
from the models' source, else env.py (where ``target_metadata`` is given).

CI surfaces need a file and a line for every result (GitHub drops a whole SARIF upload when
one result lacks a location), so a difference always gets one; finding it never fails the
check. Runs in the worker, which has the project's modules imported.
"""

from __future__ import annotations

import ast
import inspect
import sys
from collections.abc import Iterable, MutableMapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

if TYPE_CHECKING:  # only in annotations: the worker also runs on Python 3.8
    Location = tuple[str, int]


class _SourceFile:
    """One model module's classes, ``Table(...)`` calls and string literals (an enum's
    name), each by name with its first occurrence, found in one walk."""

    def __init__(self, path: str, tree: ast.Module) -> None:
        self.path = path
        self.classes: dict[str, ast.AST] = {}
        self.tables: dict[str, ast.AST] = {}
        self.strings: dict[str, int] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                line = self.strings.get(node.value, node.lineno)
                self.strings[node.value] = min(line, node.lineno)
            elif isinstance(node, ast.ClassDef):
                self.classes.setdefault(node.name, node)
            elif isinstance(node, ast.Call) and node.args:
                first = node.args[0]
                callee = getattr(node.func, "attr", getattr(node.func, "id", ""))
                if callee == "Table" and isinstance(first, ast.Constant):
                    self.tables.setdefault(str(first.value), node)


def _parsed(path: str, cache: dict[str, _SourceFile | None]) -> _SourceFile | None:
    if path not in cache:
        try:
            cache[path] = _SourceFile(path, ast.parse(Path(path).read_bytes(), filename=path))
        except (OSError, SyntaxError, ValueError):
            cache[path] = None
    return cache[path]


def _string_at(node: ast.AST, text: str) -> int | None:
    """The line of the first string literal ``text`` inside ``node``."""
    for child in ast.walk(node):
        if isinstance(child, ast.Constant) and child.value == text:
            return int(child.lineno)
    return None


def _assigned_at(node: ast.AST, name: str) -> int | None:
    """The line where ``name`` is assigned (``name = …`` or ``name: T = …``) in a class body."""
    for statement in getattr(node, "body", []):
        targets = statement.targets if isinstance(statement, ast.Assign) else []
        if isinstance(statement, ast.AnnAssign):
            targets = [statement.target]
        if any(isinstance(t, ast.Name) and t.id == name for t in targets):
            return int(statement.lineno)
    return None


def _env_py_line(env_py: Path) -> int:
    """env.py's ``target_metadata`` line: where the models the check compares come from."""
    try:
        lines = env_py.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return 1
    return next((n for n, line in enumerate(lines, 1) if "target_metadata" in line), 1)


class _Definition:
    """A table's definition in the source: a mapped class, or a ``Table(...)`` call."""

    def __init__(self, path: str, node: ast.AST, attributes: dict[str, str]) -> None:
        self.path = path
        self.node = node
        #: column name → the attribute it is mapped to (a class may rename columns).
        self.attributes = attributes

    def line_of(self, column: str | None, obj: str | None) -> int:
        line: int | None = None
        if column is not None:
            line = _assigned_at(self.node, self.attributes.get(column, column))
            line = line or _string_at(self.node, column)
        elif obj is not None:
            line = _string_at(self.node, obj)
        return line or int(getattr(self.node, "lineno", 1))


def _attributes(cls: type, table: sa.Table) -> dict[str, str]:
    mapper = getattr(cls, "__mapper__", None)
    found: dict[str, str] = {}
    for prop in getattr(mapper, "column_attrs", ()):
        for column in getattr(prop, "columns", ()):
            if getattr(column, "table", None) is table:
                found[str(column.name)] = str(prop.key)
    return found


class SourceIndex:
    """The project's tables, each with where its model is defined."""

    def __init__(self, metadatas: Iterable[sa.MetaData], env_py: Path) -> None:
        self.fallback: Location = (str(env_py.resolve()), _env_py_line(env_py))
        self._files: dict[str, _SourceFile | None] = {}
        self._definitions: dict[str, _Definition] = {}
        try:
            self.tables = {t.key: t for md in metadatas for t in md.tables.values()}
            self._find_definitions()
        except Exception:  # an odd target_metadata: every difference is placed at env.py
            self._definitions.clear()

    def _find_definitions(self) -> None:
        wanted = {id(table): key for key, table in self.tables.items()}
        for module in list(sys.modules.values()):
            try:
                values = list(vars(module).values())
            except TypeError:  # not a module (a lazy stand-in some packages install)
                continue
            for value in values:
                self._consider(module, value, wanted)

    def _consider(self, module: Any, value: Any, wanted: dict[int, str]) -> None:
        """Remember where ``value`` is defined if it is one of the tables (or its class)."""
        try:
            key = self._table_key(value, wanted)
            if key is not None and key not in self._definitions:
                definition = self._definition(module, value)
                if definition is not None:
                    self._definitions[key] = definition
        except Exception:  # a proxy that refuses inspection is no model of ours
            return

    @staticmethod
    def _table_key(value: Any, wanted: dict[int, str]) -> str | None:
        if isinstance(value, sa.Table):
            return wanted.get(id(value))
        if isinstance(value, type):
            table = vars(value).get("__table__")
            return wanted.get(id(table)) if isinstance(table, sa.Table) else None
        return None

    def _definition(self, module: Any, value: Any) -> _Definition | None:
        try:
            source = inspect.getsourcefile(value if isinstance(value, type) else module)
        except TypeError:  # a built-in module, or a class defined in one
            return None
        parsed = _parsed(source, self._files) if source else None
        if parsed is None or source is None:
            return None
        if isinstance(value, type):
            node = parsed.classes.get(value.__name__)
            attributes = _attributes(value, vars(value)["__table__"])
        else:
            node, attributes = parsed.tables.get(value.name), {}
        return _Definition(str(Path(source).resolve()), node, attributes) if node else None

    def locate(self, item: MutableMapping[str, Any]) -> None:
        """Set ``file`` and ``line`` on a difference or an information item."""
        try:
            item["file"], item["line"] = self._location(item)
        except Exception:  # a model we cannot read: the check's verdict does not depend on it
            item["file"], item["line"] = self.fallback

    def _location(self, item: MutableMapping[str, Any]) -> Location:
        schema, table, obj = item.get("schema"), item.get("table"), item.get("object")
        if table is not None:
            definition = self._definitions.get(f"{schema}.{table}" if schema else str(table))
            if definition is not None:
                return definition.path, definition.line_of(item.get("column"), obj)
            return self.fallback
        if obj is not None:  # an enum or a sequence: the first model source that names it
            for source in self._files.values():
                if source is not None and str(obj) in source.strings:
                    return str(Path(source.path).resolve()), source.strings[str(obj)]
        return self.fallback
