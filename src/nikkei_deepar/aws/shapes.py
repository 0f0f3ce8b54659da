"""Requests checked offline against the service models bundled with botocore, before anything is sent.

botocore's own `ParamValidator` checks types, required members and minimums only; AWS also enforces
every member's enum, pattern, maximum length and maximum value, and moto (the tests' stand-in) enforces
almost none of it. `problems(service, operation, params)` builds on botocore's validator (it walks the
shapes, reports missing/unknown members, types and minimums) and adds the rest: enums, patterns
(translated from AWS's Java regex dialect to Python `re`, matched against the whole value), maximum
lengths of strings, lists and maps, and maximum values of numbers, at every depth (structures, list
members, map keys and values).

No network here and no credentials: only the JSON models that ship inside botocore are read (once per
process and service). `enum(service, shape)` answers e.g. which instance types a training job, an
endpoint or a batch transform accepts (`TrainingInstanceType`, `ProductionVariantInstanceType`,
`TransformInstanceType`): the lists differ, and the model is the spec.
"""

from __future__ import annotations

import difflib
import functools
import re
from dataclasses import dataclass
from typing import Any, ClassVar

# Java's regex classes as AWS's models use them: \w, \d and \s are ASCII in Java (Python's are Unicode).
_JAVA_SPACE = " \\t\\n\\x0b\\f\\r"
_POSITIVE = {"w": "a-zA-Z0-9_", "d": "0-9", "s": _JAVA_SPACE}
_NEGATIVE = {"W": "a-zA-Z0-9_", "D": "0-9", "S": _JAVA_SPACE}
# Unicode categories, in Python `re` terms. The three the tag patterns use are written so that no table
# is needed: `[^\W\d_]` is every alphanumeric that is not a decimal digit (the letters, plus the few
# non-decimal numerics), `\d` Unicode's decimal digits; Z is short enough to list. The others (marks,
# symbols, punctuation, controls) are read from `unicodedata` when a pattern first needs them.
_FAST_CATEGORIES = {
    "L": "[^\\W\\d_]",
    "N": "(?:\\d|[^\\W\\d_])",
    "Z": "[\\u0020\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]",
}
# Java's POSIX classes are ASCII unless a pattern asks otherwise.
_POSIX = {
    "ASCII": "[\\x00-\\x7f]",
    "Alpha": "[a-zA-Z]",
    "Digit": "[0-9]",
    "Alnum": "[a-zA-Z0-9]",
    "Upper": "[A-Z]",
    "Lower": "[a-z]",
    "Punct": "[!-/:-@\\[-`{-~]",
    "Graph": "[!-~]",
    "Print": "[ -~]",
    "Space": "[" + _JAVA_SPACE + "]",
    "Cntrl": "[\\x00-\\x1f\\x7f]",
    "XDigit": "[0-9a-fA-F]",
}
# Java's `.` stops at every line terminator, Python's only at \n.
_JAVA_DOT = "[^\\n\\r\\u0085\\u2028\\u2029]"


class PatternError(ValueError):
    """An AWS pattern this translator does not understand (a test compiles every pattern in the models)."""


@functools.cache
def _category_class(name: str) -> str:
    """A Unicode general category (`M`, `Sm`, `Cc`, ...) as a character class built from unicodedata."""
    import sys
    import unicodedata

    ranges: list[tuple[int, int]] = []
    for code in range(sys.maxunicode + 1):
        if unicodedata.category(chr(code)).startswith(name):
            if ranges and ranges[-1][1] == code - 1:
                ranges[-1] = (ranges[-1][0], code)
            else:
                ranges.append((code, code))
    if not ranges:
        raise PatternError(f"unknown Unicode category {name!r}")
    parts = (f"\\U{a:08x}" if a == b else f"\\U{a:08x}-\\U{b:08x}" for a, b in ranges)
    return "[" + "".join(parts) + "]"


def _property(name: str, pattern: str) -> str:
    """\\p{name} as a Python regex fragment (a class or a group)."""
    name = name.removeprefix("Is")
    if name in _FAST_CATEGORIES:
        return _FAST_CATEGORIES[name]
    if name in _POSIX:
        return _POSIX[name]
    if 1 <= len(name) <= 2 and name[0] in "LMNPSZC":
        return _category_class(name)
    raise PatternError(f"unsupported \\p{{{name}}} in {pattern!r}")


def _escape(pattern: str, i: int) -> tuple[str, str, int]:
    """The escape at pattern[i] == '\\': (kind, Python text, index after it). Kinds: "set+" (a positive
    set a class can hold inline), "set" (a set that must stand beside a class), "char", "other"."""
    if i + 1 >= len(pattern):
        raise PatternError(f"dangling backslash in {pattern!r}")
    char = pattern[i + 1]
    if char in "pP":
        end = pattern.find("}", i)
        if pattern[i + 2 : i + 3] != "{" or end < 0:
            raise PatternError(f"unsupported \\{char} in {pattern!r}")
        fragment = _property(pattern[i + 3 : end], pattern)
        if char == "P":
            fragment = f"(?:(?!{fragment})[\\s\\S])"
        return "set", fragment, end + 1
    if char in _POSITIVE:
        return "set+", _POSITIVE[char], i + 2
    if char in _NEGATIVE:
        return "set", f"[^{_NEGATIVE[char]}]", i + 2
    if char == "u":
        code = int(pattern[i + 2 : i + 6], 16)
        after = i + 6
        # Java patterns are UTF-16: a surrogate pair is one code point beyond the BMP.
        if 0xD800 <= code <= 0xDBFF and pattern[after : after + 2] == "\\u":
            low = int(pattern[after + 2 : after + 6], 16)
            if 0xDC00 <= low <= 0xDFFF:
                code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)
                after += 6
        return "char", f"\\U{code:08x}", after
    if char == "z":
        return "other", "\\Z", i + 2
    return "char" if not char.isalnum() else "other", pattern[i : i + 2], i + 2


def _translate_class(pattern: str, i: int) -> tuple[str, int]:
    """The character class starting at pattern[i] == '[' in Python terms, and the index after it.

    Positive ASCII sets (\\w, \\d, \\s) are spelled out inside the class; sets a Python class cannot
    hold (\\p{..}, \\W, \\D, \\S) become alternatives beside it."""
    j = i + 1
    negated = pattern[j : j + 1] == "^"
    if negated:
        j += 1
    body: list[str] = []
    extra: list[str] = []
    first = True
    while j < len(pattern):
        char = pattern[j]
        if char == "]" and not first:
            break
        first = False
        if char == "\\":
            kind, text, j = _escape(pattern, j)
            if kind == "set":
                extra.append(text)
            else:
                body.append(text)
            continue
        if char == "[":
            raise PatternError(f"nested character classes are not supported: {pattern!r}")
        body.append(char)
        j += 1
    else:
        raise PatternError(f"unterminated character class in {pattern!r}")
    inner = "".join(body)
    if not extra:
        return f"[{'^' if negated else ''}{inner}]", j + 1
    options = "|".join(extra)
    if negated:  # none of the extras, and not in the rest of the class
        rest = f"[^{inner}]" if inner else "[\\s\\S]"
        return f"(?:(?!{options}){rest})", j + 1
    return (f"(?:[{inner}]|{options})" if inner else f"(?:{options})"), j + 1


@functools.cache
def python_pattern(pattern: str) -> re.Pattern[str]:
    """An AWS model pattern (Java regex) as a compiled Python pattern, to be used with `fullmatch`."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if char == "\\":
            kind, text, i = _escape(pattern, i)
            out.append(f"[{text}]" if kind == "set+" else text)
        elif char == "[":
            text, i = _translate_class(pattern, i)
            out.append(text)
        elif char == ".":
            out.append(_JAVA_DOT)
            i += 1
        elif char == "$" and pattern[i + 1 : i + 2] == "{":
            # a quantified end anchor (`...${1,128}` in a few models): Java repeats the zero-width match
            out.append("$")
            i = pattern.index("}", i) + 1
        else:
            out.append(char)
            i += 1
    try:
        return re.compile("".join(out))
    except re.error as exc:
        raise PatternError(f"cannot translate {pattern!r}: {exc}") from None


# -- the service models ---------------------------------------------------------------------------------
@functools.cache
def service_model(service: str) -> Any:
    """botocore's bundled model of `service` (read from botocore's data files; no network)."""
    import botocore.loaders
    import botocore.model

    loader = botocore.loaders.create_loader()
    return botocore.model.ServiceModel(loader.load_service_model(service, "service-2"), service)


def enum(service: str, shape: str) -> tuple[str, ...]:
    """The allowed values of an enum shape, e.g. enum("sagemaker", "TrainingInstanceType")."""
    return tuple(service_model(service).shape_for(shape).enum)


def member_shape(service: str, operation: str, path: str) -> Any:
    """The shape of one input member by dotted path (list members as `Member[]`), e.g.
    member_shape("sagemaker", "CreateTrainingJob", "ResourceConfig.InstanceType")."""
    shape = service_model(service).operation_model(operation).input_shape
    for part in path.split("."):
        many = part.endswith("[]")
        shape = shape.members[part.removesuffix("[]")]
        if many:
            shape = shape.member
    return shape


# -- problems -------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Problem:
    """One way a request breaks its operation's input shape."""

    operation: str
    path: str  # "ResourceConfig.InstanceType", "Tags[3].Value", "Environment (key: x)"
    message: str
    shape: str | None = None  # the failing shape's name, e.g. "TrainingInstanceType"
    kind: str = "invalid"  # required | unknown | type | length | range | enum | pattern

    def line(self) -> str:
        return f"{self.operation} {self.path or '(request)'}: {self.message}"


def shown(value: Any, limit: int = 60) -> str:
    """A value for an error line, never longer than about `limit` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[: limit - 3]}...' ({len(str(value))} characters)"


def problems(service: str, operation: str, params: dict[str, Any]) -> list[Problem]:
    """Every way `params` breaks the input shape of `service`.`operation` (empty: AWS accepts its shape)."""
    return operation_problems(service_model(service).operation_model(operation), params)


def operation_problems(model: Any, params: dict[str, Any]) -> list[Problem]:
    """`problems` for a botocore OperationModel (what a client's before-parameter-build event carries)."""
    operation = str(model.name)
    collector = _Collector(operation)
    if model.input_shape is not None:
        _validator_class()()._validate(params, model.input_shape, collector, "")
    elif params:
        collector.found.append(Problem(operation, "", "takes no parameters", kind="unknown"))
    return collector.found


def _validator_base() -> Any:
    import botocore.validate

    return botocore.validate.ParamValidator


class _Collector:
    """Stands in for botocore's ValidationErrors: keeps each report as a Problem."""

    def __init__(self, operation: str) -> None:
        self.operation = operation
        self.found: list[Problem] = []

    def report(self, name: str, reason: str, **details: Any) -> None:
        path = name.lstrip(".")
        shape = details.pop("_shape", None)
        if reason == "missing required field":
            where = f"{path}.{details['required_name']}" if path else details["required_name"]
            self.found.append(Problem(self.operation, where, "required", shape, "required"))
        elif reason == "unknown field":
            where = f"{path}.{details['unknown_param']}" if path else details["unknown_param"]
            message = f"not a parameter of {self.operation}"
            self.found.append(Problem(self.operation, where, message, shape, "unknown"))
        elif reason in {"invalid type", "invalid type for document"}:
            wanted = ", ".join(t.removeprefix("<class '").removesuffix("'>") for t in details["valid_types"])
            message = f"must be of type {wanted} (got {type(details['param']).__name__})"
            self.found.append(Problem(self.operation, path, message, shape, "type"))
        elif reason == "invalid length":
            message = f"at least {details['min_allowed']} long (got {details['param']})"
            self.found.append(Problem(self.operation, path, message, shape, "length"))
        elif reason == "invalid range":
            message = f"must be >= {details['min_allowed']} (got {details['param']})"
            self.found.append(Problem(self.operation, path, message, shape, "range"))
        else:
            self.found.append(Problem(self.operation, path, details.get("message", reason), shape, reason))


@functools.lru_cache(maxsize=1)
def _validator_class() -> Any:
    base = _validator_base()

    class ModelValidator(base):  # type: ignore[misc,valid-type]
        """botocore's ParamValidator, plus what it leaves to the service: max, enum and pattern."""

        VALIDATED_METADATA_ATTRS: ClassVar[set[str]] = {
            *base.VALIDATED_METADATA_ATTRS,
            "max",
            "pattern",
            "enum",
        }

        def _validate_string(self, param: Any, shape: Any, errors: Any, name: str) -> None:
            super()._validate_string(param, shape, errors, name)
            if not isinstance(param, str):
                return
            _check_max(len(param), shape, errors, name, "length", "characters")
            allowed = shape.enum
            if allowed and param not in allowed:
                close = difflib.get_close_matches(param, allowed, n=3, cutoff=0.6)
                hint = f"; did you mean {', '.join(close)}?" if close else ""
                errors.report(
                    name,
                    "enum",
                    _shape=shape.name,
                    message=f"{shown(param)} is not one of the {len(allowed)} values of {shape.name}{hint}",
                )
                return
            pattern = shape.metadata.get("pattern")
            if pattern and python_pattern(pattern).fullmatch(param) is None:
                errors.report(
                    name,
                    "pattern",
                    _shape=shape.name,
                    message=f"{shown(param)} does not match {shape.name}'s pattern {pattern}",
                )

        def _validate_list(self, param: Any, shape: Any, errors: Any, name: str) -> None:
            super()._validate_list(param, shape, errors, name)
            if isinstance(param, list | tuple):
                _check_max(len(param), shape, errors, name, "length", "items")

        def _validate_map(self, param: Any, shape: Any, errors: Any, name: str) -> None:
            super()._validate_map(param, shape, errors, name)
            if isinstance(param, dict):
                _check_max(len(param), shape, errors, name, "length", "entries")

        def _validate_integer(self, param: Any, shape: Any, errors: Any, name: str) -> None:
            if isinstance(param, bool):  # an int to Python, never a number to AWS
                errors.report(name, "invalid type", param=param, valid_types=["<class 'int'>"])
                return
            super()._validate_integer(param, shape, errors, name)
            if isinstance(param, int):
                _check_max(param, shape, errors, name, "range", "")

        _validate_long = _validate_integer

        def _validate_double(self, param: Any, shape: Any, errors: Any, name: str) -> None:
            super()._validate_double(param, shape, errors, name)
            if isinstance(param, int | float) and not isinstance(param, bool):
                _check_max(param, shape, errors, name, "range", "")

        _validate_float = _validate_double

    return ModelValidator


def _check_max(value: float, shape: Any, errors: Any, name: str, kind: str, unit: str) -> None:
    limit = shape.metadata.get("max")
    if limit is not None and value > limit:
        what = f"at most {limit} {unit}".rstrip() if unit else f"must be <= {limit}"
        errors.report(name, kind, _shape=shape.name, message=f"{what} (got {value})")
