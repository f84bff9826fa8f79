"""A typed msgspec decoder that hands repeated string values back as the same objects.

A log's categorical fields (event, task type, target, ensemble, status …) take a few
distinct values over millions of lines, yet a plain decoder builds a fresh string for each
occurrence, and every dictionary lookup keyed by them hashes that fresh string again.
:class:`InterningDecoder` learns the values it meets and decodes those fields as
``Literal[...]`` types: msgspec then returns the literal's own string object, whose hash is
computed once.

What it decodes is exactly what the plain decoder of the same struct decodes: a block with
a value not learned yet (a validation error of the literal decoder) is decoded again with
the plain decoder, and its new values are learned for the next blocks. A field with too
many distinct values stops being interned, and a log whose values keep changing gets the
plain decoder alone after a few rebuilds, so a pathological file costs at most about one
extra failed decode per block, never a wrong record.

No Textual.
"""

from __future__ import annotations

import typing
from operator import attrgetter
from typing import Any, Literal

import msgspec

MAX_VALUES = 256  # distinct values interned per field; a field with more is decoded plainly
MAX_REBUILDS = 32  # literal decoders built per decoder before it settles on the plain one


class InterningDecoder:
    """``decode_lines`` / ``decode`` of a ``msgspec.json.Decoder(struct)``, with the
    ``str | None`` fields named in ``fields`` interned (see the module docstring)."""

    def __init__(self, struct: type[msgspec.Struct], fields: tuple[str, ...]) -> None:
        self.struct = struct
        self.plain = msgspec.json.Decoder(struct)
        hints = typing.get_type_hints(struct, include_extras=True)
        for name in fields:
            if hints[name] != (str | None):
                raise TypeError(f"{struct.__name__}.{name} is not `str | None`")
        self._hints = hints
        self._known: dict[str, dict[str, None]] = {name: {} for name in fields}
        self._getters = {name: attrgetter(name) for name in fields}
        self._fast: msgspec.json.Decoder | None = None
        self.rebuilds = 0

    def decode(self, line: Any) -> Any:
        return self.plain.decode(line)

    def decode_lines(self, buf: Any) -> list[Any]:
        fast = self._fast
        if fast is not None:
            try:
                return fast.decode_lines(buf)
            except msgspec.ValidationError:
                pass  # a value not learned yet, or a line the plain decoder rejects too
        recs = self.plain.decode_lines(buf)
        if self.rebuilds < MAX_REBUILDS and self._known:
            self._learn(recs)
        return recs

    def _learn(self, recs: list[Any]) -> None:
        changed = False
        for name in list(self._known):
            known = self._known[name]
            new = [v for v in set(map(self._getters[name], recs)) if v is not None and v not in known]
            if not new:
                continue
            changed = True
            if len(known) + len(new) > MAX_VALUES:
                del self._known[name]  # too many values: plain strings for this field
            else:
                known.update(dict.fromkeys(sorted(new)))
        if not changed:
            return
        self.rebuilds += 1
        self._fast = self._literal_decoder() if self.rebuilds < MAX_REBUILDS and self._known else None

    def _literal_decoder(self) -> msgspec.json.Decoder | None:
        fields: list[tuple[Any, ...]] = []
        interned = False
        names = self.struct.__struct_fields__
        defaults = self.struct.__struct_defaults__
        first_default = len(names) - len(defaults)
        for index, name in enumerate(names):
            known = self._known.get(name)
            if known:
                annotation: Any = Literal[tuple(known)] | None
                interned = True
            else:
                annotation = self._hints[name]
            if index < first_default:
                fields.append((name, annotation))
            else:
                fields.append((name, annotation, defaults[index - first_default]))
        if not interned:
            return None
        config = self.struct.__struct_config__
        typ = msgspec.defstruct(f"Interned{self.struct.__name__}", fields, gc=config.gc)
        return msgspec.json.Decoder(typ)
