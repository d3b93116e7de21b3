"""YAML that refuses a key given twice in one mapping.

PyYAML keeps the last of two equal keys and says nothing, so a second `settled:` under
flows/safety.yaml's `exclude.en` silently dropped the first one's patterns (found in stop 29),
and a second `roles:` in config.yaml would drop every role above it. Content and configuration
are read with this loader instead: a repeated key is a YAML error naming its line.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.constructor import ConstructorError
from yaml.nodes import MappingNode


class StrictLoader(yaml.SafeLoader):
    """yaml.SafeLoader, but a mapping that repeats a key is an error."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _value in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue
            key = self.construct_object(key_node, deep=True)
            try:
                repeated = key in seen
            except TypeError:  # an unhashable key: the base class reports it
                break
            if repeated:
                raise ConstructorError(
                    "while reading a mapping",
                    node.start_mark,
                    f"the key {key!r} is given twice",
                    key_node.start_mark,
                )
            seen.add(key)
        return super().construct_mapping(node, deep=deep)


def load(text: str) -> Any:
    """yaml.safe_load, refusing repeated keys."""
    return yaml.load(text, Loader=StrictLoader)
