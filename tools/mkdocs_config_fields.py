"""A griffe extension for the Python API page: a config field's documentation is its `fit` option.

The fields of `charkeras.config`'s sections carry their command-line option (help text, flag,
choices) in their metadata, and `charkeras fit --help` is generated from it. Static analysis sees
only the call `_field(64, "...")`, so the page would show that call as the default and no text. This
extension gives each such field its default as its value and the option's help as its docstring:
the API page and the command line say the same thing, from one source.

mkdocs.yml loads it through mkdocstrings' `extensions` option. It imports `charkeras.config`, which
needs no TensorFlow.
"""

from __future__ import annotations

import dataclasses

import griffe

from charkeras.config import SECTIONS, Option, flag_of, option_of

_SECTIONS = {f"{kind.__module__}.{kind.__name__}": kind for kind in SECTIONS.values()}


def describe(item: dataclasses.Field, option: Option) -> str:
    """The field's docstring: the option's help, then its flag and what else `fit` does with it."""
    parts = [option.help, f"Command line: `{flag_of(item)}`."]
    if option.choices:
        parts.append("One of " + ", ".join(f'`"{choice}"`' for choice in option.choices) + ".")
    if option.auto:
        chosen = option.auto.format(default=item.default)
        parts.append(f"When left out, `fit` chooses it: {chosen}.")
    if option.resumable:
        parts.append("A resume may change it.")
    return " ".join(parts)


class ConfigFields(griffe.Extension):
    """Sets the value and docstring of every config field that is a `fit` option."""

    def on_class_members(self, *, node, cls: griffe.Class, agent, **kwargs) -> None:
        section = _SECTIONS.get(cls.path)
        if section is None:
            return
        for item in dataclasses.fields(section):
            option, attribute = option_of(item), cls.members.get(item.name)
            if option is None or attribute is None:
                continue
            attribute.value = repr(item.default)
            attribute.docstring = griffe.Docstring(
                describe(item, option), parent=attribute, parser=agent.docstring_parser,
                parser_options=agent.docstring_options)
