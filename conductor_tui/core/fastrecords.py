"""Records built from decoded JSON without re-validating what needs no validation.

A log line is decoded once (msgspec, C); each value then goes through its field's own
before-validator from :mod:`~conductor_tui.core.records` (the same function pydantic calls)
and is checked against the field's type. When every value is one pydantic would keep
unchanged, the record is built with ``model_construct`` (no validation pass); otherwise the
caller validates the line with pydantic as before. The result is the same record either way
(``tests/core/test_fastrecords.py`` compares them field by field on odd and broken lines).

The field table is derived from the pydantic model itself, so the schema keeps one home.
Models with model- or field-level validators have no fast path.
"""

from __future__ import annotations

import enum
import types
import typing
from collections.abc import Callable
from datetime import datetime
from typing import Any

import annotated_types
from pydantic import BaseModel
from pydantic.functional_validators import BeforeValidator

from conductor_tui.core.record_types import _checked_timestamp

_MISSING = object()
_CACHE_MAX = 4096  # distinct spellings remembered per enum field


def _kinds(annotation: Any) -> list[Any] | None:
    """The value kinds ``annotation`` keeps unchanged: ``None``, ``str``, ``bool``,
    ``datetime`` (aware), an enum class, ``(lo, hi)`` int bounds, ``Any``; ``None`` when
    some part of it is beyond this module (nested models, lists …)."""
    if annotation is Any:
        return [Any]
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        out: list[Any] = []
        for arg in typing.get_args(annotation):
            part = _kinds(arg)
            if part is None:
                return None
            out += part
        return out
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        bounds = [m for fi in meta for m in getattr(fi, "metadata", [fi])]
        lo = next((b.ge for b in bounds if isinstance(b, annotated_types.Ge)), None)
        hi = next((b.le for b in bounds if isinstance(b, annotated_types.Le)), None)
        if base is not int or len(bounds) != (lo is not None) + (hi is not None):
            return None
        return [(lo, hi)]
    if annotation is int:
        return [(None, None)]
    if annotation in (type(None), str, bool, datetime):
        return [annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [annotation]
    return None


def _plain_types(annotation: Any) -> frozenset[type]:
    """The value types ``annotation`` keeps unchanged whatever the value (no bounds to
    check): ``None``, ``str``, ``bool``, an unbounded ``int``; all of them for ``Any``."""
    kinds = _kinds(annotation) or []
    if Any in kinds:
        return frozenset({type(None), str, bool, int, float})
    out = {k for k in kinds if k in (type(None), str, bool)}
    if (None, None) in kinds:
        out.add(int)
    return frozenset(out)


def _checker(annotation: Any) -> Callable[[Any], bool] | None:
    """A strict test that ``annotation`` keeps a value unchanged (``None`` = never sure)."""
    kinds = _kinds(annotation)
    if kinds is None:
        return None
    if Any in kinds:
        return lambda v: True
    none_ok, str_ok, bool_ok, dt_ok = (k in kinds for k in (type(None), str, bool, datetime))
    enums = tuple(k for k in kinds if isinstance(k, type) and issubclass(k, enum.Enum))
    ints = [k for k in kinds if isinstance(k, tuple)]
    lo, hi = ints[0] if ints else (None, None)

    def check(v: Any) -> bool:
        if v is None:
            return none_ok
        t = type(v)
        if t is str:
            return str_ok
        if t is int:
            return bool(ints) and (lo is None or v >= lo) and (hi is None or v <= hi)
        if t is bool:
            return bool_ok
        if t is datetime:
            return dt_ok and v.tzinfo is not None
        return bool(enums) and isinstance(v, enums)

    return check


def _iso_time(text: str) -> datetime | None:
    """``_checked_timestamp(text)`` when ``text`` is an aware ISO-8601 time with nothing
    around it (a trailing ``Z`` read as ``+00:00``, as the validator rewrites it first): the
    validator then parses exactly the text parsed here. ``None``: the validator decides."""
    if "z" in text or text.strip() != text:
        return None
    if "Z" in text:
        if text.count("Z") != 1 or not text.endswith("Z"):
            return None
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


class _Field:
    """One field: its before-validator and type check; ``plain``: the raw value types kept
    as they are (no before-validator, no bounds), ``cache``: an enum field's checked values
    by spelling, ``none``: the checked value of a raw ``null`` once computed."""

    __slots__ = ("before", "cache", "check", "iso", "name", "none", "plain")

    def __init__(
        self,
        name: str,
        before: Callable[[Any], Any] | None,
        check: Callable[[Any], bool],
        cache: bool,
        plain: frozenset[type] = frozenset(),
    ):
        self.name = name
        self.before = before
        self.check = check
        self.cache: dict[str, Any] | None = {} if cache else None
        self.plain = plain if before is None else frozenset()
        self.none: Any = _MISSING
        self.iso = before is _checked_timestamp  # a timestamp: ISO text parsed at C level


class FastBuilder:
    """``build(obj)``: the record of the decoded JSON object ``obj``, or ``None`` when a
    value needs pydantic's full validation (see the module docstring)."""

    def __init__(self, model: type[BaseModel]) -> None:
        self.model = model
        self.fields: dict[str, _Field] | None = {}
        decorators = model.__pydantic_decorators__
        if decorators.model_validators or decorators.field_validators or decorators.validators:
            self.fields = None
            return
        self.defaults: dict[str, Any] = {}
        self.factories: dict[str, Callable[[], Any]] = {}
        if model.__private_attributes__ or model.model_config.get("extra") != "allow":
            self.fields = None
            return
        for name, info in model.model_fields.items():
            if info.default_factory is not None:
                self.factories[name] = info.default_factory  # type: ignore[assignment]
            elif info.default is None or type(info.default) in (str, int, bool, float):
                self.defaults[name] = info.default
            else:
                self.fields = None  # a mutable default: pydantic copies it
                return
            befores = [m for m in info.metadata if isinstance(m, BeforeValidator)]
            others = [m for m in info.metadata if not isinstance(m, BeforeValidator)]
            check = _checker(info.annotation)
            if check is None or others or len(befores) > 1:
                self.fields = None  # a field this module cannot vouch for: pydantic only
                return
            before = befores[0].func if befores else None
            has_enum = any(
                isinstance(a, type) and issubclass(a, enum.Enum) for a in typing.get_args(info.annotation)
            )
            cache = before is not None and has_enum
            spec = _Field(name, before, check, cache, _plain_types(info.annotation))  # type: ignore[arg-type]
            self.fields[name] = spec
            if info.alias and info.alias != name:
                self.fields[info.alias] = spec

    def build(self, obj: dict[str, Any]) -> BaseModel | None:
        fields = self.fields
        if fields is None:
            return None
        values: dict[str, Any] = {}
        extras: dict[str, Any] = {}
        for key, raw in obj.items():
            spec = fields.get(key)
            if spec is None:
                extras[key] = raw
                continue
            name = spec.name
            if name in values:
                return None  # a field given by name and by alias: pydantic decides
            if raw.__class__ in spec.plain:
                values[name] = raw  # kept as it is: nothing to call
                continue
            if raw is None and spec.none is not _MISSING:
                values[name] = spec.none  # validators are pure: the same null gives the same value
                continue
            cache = spec.cache
            if cache is not None and raw.__class__ is str:
                value = cache.get(raw, _MISSING)
                if value is not _MISSING:
                    values[name] = value  # cached after its check
                    continue
            if spec.iso and raw.__class__ is str:
                value = _iso_time(raw)
                if value is not None:
                    values[name] = value  # what the validator gives (an aware datetime passes)
                    continue
            value = raw
            if spec.before is not None:
                try:
                    value = spec.before(raw)
                except (ValueError, TypeError):
                    return None
            if not spec.check(value):
                return None
            if raw is None and (value is None or value.__class__ in (str, int, bool)):
                spec.none = value  # immutable: shared by every record
            elif cache is not None and raw.__class__ is str and len(cache) < _CACHE_MAX:
                cache[raw] = value
            values[name] = value
        # what model_construct does, without its per-field default resolution
        data = dict(self.defaults)
        for name, factory in self.factories.items():
            if name not in values:
                data[name] = factory()
        data.update(values)
        rec = self.model.__new__(self.model)
        _set = object.__setattr__
        _set(rec, "__dict__", data)
        _set(rec, "__pydantic_fields_set__", {*values, *extras})  # pydantic counts extras as set
        _set(rec, "__pydantic_extra__", extras)
        _set(rec, "__pydantic_private__", None)
        return rec


_BUILDERS: dict[type, FastBuilder] = {}


def builder_for(model: type[BaseModel]) -> FastBuilder:
    found = _BUILDERS.get(model)
    if found is None:
        found = _BUILDERS[model] = FastBuilder(model)
    return found
