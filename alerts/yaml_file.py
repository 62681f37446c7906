"""YAML files people write (rules, the working calendar): parsed into a pydantic model, every error said with the
file and the line it is on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # libyaml's C parser when the wheel has it: faster
    """Days stay text (`2026-02-30` is then a mistake with its line, not a crash of the YAML library's own date
    reading); the models read them."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in _Loader.yaml_implicit_resolvers.items()
}
LOADER = _Loader
M = TypeVar("M", bound=BaseModel)


class YamlFileError(Exception):
    """A file that cannot be used, described for the person who wrote it (file:line: what)."""


def read_yaml(path: str | Path, model: type[M], error: type[YamlFileError], what: str,
              describe: Callable[[Any, tuple], str] | None = None) -> tuple[M, yaml.Node | None]:  # fmt: skip
    """The file at `path` as `model` (parse_yaml), or `error` saying why it cannot be read."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise error(f"{path}: cannot read the {what}: {exc.strerror}") from None
    return parse_yaml(text, str(path), model, error, what, describe)


def parse_yaml(
    text: str,
    name: str,
    model: type[M],
    error: type[YamlFileError],
    what: str,
    describe: Callable[[Any, tuple], str] | None = None,
) -> tuple[M, yaml.Node | None]:
    """`text` as `model`, and its YAML node tree (for later checks that need lines); `error` with every problem
    and its line otherwise. `what` names the kind of file in the messages ("rule file"); `describe` writes a
    problem's path (default: dotted keys with [indexes])."""
    try:
        node = yaml.compose(text, Loader=LOADER)
        data = yaml.load(text, Loader=LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        raise error(f"{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(data, dict):
        raise error(f"{name}:1: a {what} is a mapping of keys")
    try:
        return model.model_validate(data), node
    except ValidationError as exc:
        lines = [f"{name}: the {what} is not valid:"]
        for problem in exc.errors():
            loc = tuple(problem["loc"])
            reason = problem["msg"].removeprefix("Value error, ")
            if problem["type"] == "extra_forbidden":
                reason = "unknown key"
            elif problem["type"] == "missing":
                reason = "required key is missing"
            lines.append(f"  {name}:{line_of(node, loc)}: {(describe or dotted)(data, loc)}: {reason}")
        raise error("\n".join(lines)) from None


def dotted(data: Any, loc: tuple) -> str:
    """`holidays[2]`: the path of a problem, its validators' names left out."""
    parts: list[str] = []
    for key in loc:
        if isinstance(key, int) and parts:
            parts[-1] += f"[{key}]"
        else:
            parts.append(str(key))
    return ".".join(p for p in parts if not p.startswith("function-")) or "(top level)"


def line_of(node: yaml.Node | None, loc: tuple) -> int:
    """The line of the deepest YAML node along `loc` (1-based)."""
    line = node.start_mark.line + 1 if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                if k.value == key:
                    node = v
                    line = k.start_mark.line + 1
                    break
            else:
                return line
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
        else:
            continue  # pydantic's own loc parts (validator names) have no node
    return line
