"""Looking keys up through the precedence layers (flag, environment, env file), remembering
which layer answered, and validating values while collecting every problem."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path

from drift_job.envfile import read_secret_file
from drift_job.settings_values import (
    parse_bool,
    parse_duration,
    parse_set_env,
    parse_size,
    split_entries,
    template_problem,
    unusable_character,
)


class Layers:
    """The precedence layers, highest first. Values with unusable characters are reported
    once (naming the key and layer, never the value) and treated as unset."""

    def __init__(
        self, layers: list[tuple[str, Mapping[str, str | None]]], problems: list[str]
    ) -> None:
        self._layers = layers
        self.problems = problems
        self.sources: dict[str, str] = {}
        self.rejected: set[str] = set()

    def _usable(self, key: str, layer_name: str, value: str) -> bool:
        problem = unusable_character(key, value)
        if problem is None:
            return True
        if key not in self.rejected:
            self.rejected.add(key)
            self.problems.append(f"{key}: {problem} (from the {layer_name})")
        return False

    def _value(self, layer_name: str, values: Mapping[str, str | None], key: str) -> str | None:
        value = values.get(key)
        if value is None or value == "" or not self._usable(key, layer_name, value):
            return None
        return value

    def get(self, *keys: str) -> str | None:
        """The first key set in the highest layer; ``keys[1:]`` are fallbacks (e.g. PGHOST)."""
        for layer_name, values in self._layers:
            for key in keys:
                value = self._value(layer_name, values, key)
                if value is not None:
                    self.sources[keys[0]] = f"{layer_name}:{key}" if key != keys[0] else layer_name
                    return value
        return None

    def first_layer_defining(self, *keys: str) -> tuple[str, dict[str, str]] | None:
        """The highest-precedence layer that sets any of ``keys``, with the ones it sets."""
        for layer_name, values in self._layers:
            found = {key: v for key in keys if (v := self._value(layer_name, values, key))}
            if found:
                return layer_name, found
        return None

    def defining(self, keys: tuple[str, ...]) -> list[tuple[str, str]]:
        """(key, layer) for each of ``keys`` set anywhere, in the highest layer setting it."""
        found = []
        for key in keys:
            layer = next((name for name, values in self._layers if values.get(key)), None)
            if layer is not None:
                found.append((key, layer))
        return found


def _writable_target(path: Path, key: str, problems: list[str]) -> None:
    """An existing writable file (e.g. /dev/termination-log), or a new one in a writable dir."""
    if path.is_file():
        if not os.access(path, os.W_OK):
            problems.append(f"{key}: {path} is not writable")
        return
    directory = path.parent
    if not directory.is_dir():
        problems.append(f"{key}: directory {directory} does not exist")
    elif not os.access(directory, os.W_OK):
        problems.append(f"{key}: directory {directory} is not writable")


class Resolver:
    """Resolves one group of keys at a time, collecting every problem instead of stopping."""

    def __init__(self, layers: Layers, base_dir: Path) -> None:
        self.layers = layers
        self.base_dir = base_dir
        self.problems = layers.problems
        self.secret_files: dict[str, Path] = {}

    def port(self) -> int:
        text = self.layers.get("POSTGRES_PORT", "PGPORT")
        if text is None:
            return 5432
        if text.isdigit() and 1 <= int(text) <= 65535:
            return int(text)
        self.problems.append(f"POSTGRES_PORT: {text!r} is not a port number (1-65535)")
        return 5432

    def secret(self, key: str, fallback: str) -> str | None:
        """``KEY`` or ``KEY_FILE`` (exclusive within a layer; a file loses one trailing
        newline), else the libpq ``fallback`` variable. The docker-library convention."""
        file_key = f"{key}_FILE"
        found_in = self.layers.first_layer_defining(key, file_key)
        if found_in is None:
            return self.layers.get(key, fallback)
        layer_name, found = found_in
        if len(found) == 2:
            self.problems.append(f"{key} and {file_key} are exclusive (both set in {layer_name})")
            return None
        if file_key not in found:
            self.layers.sources[key] = layer_name
            return found[key]
        self.layers.sources[key] = f"{layer_name}:{file_key}"
        self.layers.sources[file_key] = layer_name
        self.secret_files[file_key] = Path(found[file_key])
        value = read_secret_file(found[file_key], file_key, self.problems)
        if value is not None and (problem := unusable_character(key, value)):
            self.problems.append(f"{file_key}: file {found[file_key]} {problem}")
            return None
        return value

    def choice(self, key: str, allowed: tuple[str, ...], *fallbacks: str) -> str | None:
        value = self.layers.get(key, *fallbacks)
        if value is not None and value not in allowed:
            self.problems.append(f"{key}: {value!r} is not one of {', '.join(allowed)}")
            return None
        return value

    def matching(self, key: str, pattern: re.Pattern[str], what: str) -> str | None:
        value = self.layers.get(key)
        if value is not None and not pattern.match(value):
            self.problems.append(f"{key}: {value!r} {what}")
        return value

    def set_env(self) -> tuple[tuple[str, str], ...]:
        text = self.layers.get("DRIFT_SET_ENV")
        entries: list[tuple[str, str]] = []
        if text:
            try:
                entries = parse_set_env(text)
            except ValueError as exc:
                self.problems.append(f"DRIFT_SET_ENV: {str(exc)!r} is not NAME=TEMPLATE")
        for name, template in entries:
            problem = template_problem(name, template)
            if problem:
                self.problems.append(problem)
        return tuple(entries)

    def entries(self, key: str) -> tuple[str, ...]:
        """A list setting; from flags each occurrence is one entry (``;`` stays in it)."""
        text = self.layers.get(key)
        if text is None:
            return ()
        return tuple(split_entries(text, semicolons=self.layers.sources.get(key) != "flag"))

    def duration(self, key: str, default: float) -> float:
        text = self.layers.get(key)
        if text is None:
            return default
        try:
            return parse_duration(text)
        except ValueError:
            self.problems.append(f"{key}: {text!r} is not a duration (e.g. 30, 90s, 15m, 6h, 1d)")
            return default

    def size(self, key: str, minimum: int) -> int | None:
        text = self.layers.get(key)
        if text is None:
            return None
        try:
            size = parse_size(text)
        except ValueError:
            self.problems.append(f"{key}: {text!r} is not a size (e.g. 512M, 2G, 1.5GiB, 800MB)")
            return None
        if size < minimum:
            self.problems.append(f"{key}: {text!r} is less than the minimum of {minimum >> 20} MiB")
            return None
        return size

    def boolean(self, key: str) -> bool:
        text = self.layers.get(key)
        if text is None:
            return False
        try:
            return parse_bool(text)
        except ValueError:
            self.problems.append(f"{key}: {text!r} is not one of 1, true, yes, 0, false, no")
            return False

    def target(self, key: str) -> Path | None:
        """An output path whose directory must exist and be writable."""
        text = self.layers.get(key)
        if text is None:
            return None
        path = self.base_dir / text
        _writable_target(path, key, self.problems)
        return path
