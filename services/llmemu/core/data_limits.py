"""Bounds on a parsed scenario (a file or a --set value), checked before anything copies or
validates it: YAML aliases are shared references until something walks them, so a few
hundred bytes (`billion laughs`) expand to billions of values on the first deep copy, and
an alias to its own parent is a cycle that recursion never leaves.

`check_tree` walks each distinct mapping and list once (sizes are memoised by identity), so
it costs the size of the document as written, not as expanded."""

from __future__ import annotations

from typing import Any

import yaml

from llmemu.core.errors import ConfigError

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

MAX_VALUES = 100_000
"""Values after expanding aliases; the largest preset scenario has about 100."""
MAX_DEPTH = 32
"""Nesting of mappings and lists; a scenario needs 5."""
MAX_KEY_CHARS = 256
MAX_STRING_CHARS = 4096
"""A name, a path or an option; longer is not a scenario value."""


def load_yaml(text: str) -> Any:
    """`yaml.safe_load` through libyaml where it is installed: PyYAML's own scanner takes
    time quadratic in flow nesting (5,000 nested brackets: 95 s), libyaml refuses nesting
    past 1,000 levels at once."""
    return yaml.load(text, Loader=_LOADER)


def short(text: str, limit: int = 60) -> str:
    """`text` for an error message: at most `limit` characters, marked when cut."""
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


def check_tree(value: Any, source: str) -> None:
    _Walk(source).size(value, 0)


class _Walk:
    def __init__(self, source: str) -> None:
        self.source = source
        self.sizes: dict[int, int] = {}
        """Expanded size of each container seen, by id; -1 while it is being walked."""

    def size(self, value: Any, depth: int) -> int:
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                self.fail(f"a value of {len(value)} characters (at most {MAX_STRING_CHARS}); shorten it")  # fmt: skip
            return 1
        if not isinstance(value, dict | list):
            return 1
        known = self.sizes.get(id(value))
        if known == -1:
            self.fail("an alias refers to a mapping or list that contains it; remove the cycle")
        if known is not None:
            return known
        if depth >= MAX_DEPTH:
            self.fail(f"values nested more than {MAX_DEPTH} deep; flatten the document")
        self.sizes[id(value)] = -1
        total = 1
        for key, child in value.items() if isinstance(value, dict) else enumerate(value):
            if isinstance(key, str) and len(key) > MAX_KEY_CHARS:
                self.fail(f"a key of {len(key)} characters (at most {MAX_KEY_CHARS}): {short(key, 40)!r}")  # fmt: skip
            total += self.size(child, depth + 1)
            if total > MAX_VALUES:
                self.fail(f"aliases expand to more than {MAX_VALUES} values; write the values out or use fewer aliases")  # fmt: skip
        self.sizes[id(value)] = total
        return total

    def fail(self, why: str) -> None:
        raise ConfigError(f"{self.source}: {why}")
