"""A jinja sandbox with limits: a tokenizer folder's chat template is untrusted code.

jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` (what Hugging Face renders
chat templates with) refuses internal attributes (no ``''.__class__.__mro__`` escape),
changes to lists and dicts, and ranges over 100,000 items. It bounds neither time nor
memory: two nested ``range(100000)`` loops run for hours, ``'A' * 2000000000`` takes 2 GB
and ``10 ** 10000000`` minutes of CPU inside one C call that no timer can stop.
:class:`LimitedEnvironment` adds, for each render:

- a budget of steps (loop iterations, calls, filters) and a deadline, both
  checked at every step, so a loop or a recursive macro stops in time;
- a cap on the characters of any string or output and on the items of any list,
  checked *before* each operation that could build more than it was given
  (``*``, ``**``, ``%``, ``str.format``, ``replace``, ``join``, ``center``, ``indent``,
  ``tojson``, ...) and after every other one;
- integers of at most 65,536 bits.

Every limit raises :class:`TemplateLimit` (jinja errors keep their own types); the caller
turns both into a located sftdata error.
"""

from __future__ import annotations

import functools
import re
import string
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from jinja2 import nodes
from jinja2.exceptions import TemplateError
from jinja2.runtime import LoopContext
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import Namespace, _PassArg, pass_context
from jinja2.visitor import NodeTransformer


@dataclass(frozen=True)
class Limits:
    """What one render may spend.

    Args:
        steps: loop iterations, calls and filters per rendered text.
        seconds: wall-clock time per rendered text (a record renders one text, plus
            two per assistant turn for the ``hf`` template's spans).
        chars: characters of any string or of the output; the cap is the larger of this
            and four times the characters of the record itself.
        items: items of any list or tuple.
        int_bits: bits of any integer.
    """

    steps: int = 1_000_000
    seconds: float = 3.0
    chars: int = 8 * 2**20
    items: int = 2**20
    int_bits: int = 2**16


class TemplateLimit(Exception):
    """A render went past one of its :class:`Limits`."""


class TemplateRaised(TemplateError):
    """The template called ``raise_exception(message)``: it refuses the conversation."""


class Budget:
    """The steps, deadline and size cap of one render (see :class:`Limits`)."""

    __slots__ = ("limits", "steps", "deadline", "chars", "_mass")

    def __init__(self, limits: Limits, input_chars: int = 0) -> None:
        self.limits = limits
        self.deadline = 0.0
        self.chars = max(limits.chars, 4 * input_chars)
        self.steps = limits.steps
        self._mass: dict[int, tuple[Any, int]] = {}

    def restart(self) -> None:
        """A new text: a fresh step count and deadline (sizes seen stay known)."""
        self.steps = self.limits.steps
        self.deadline = time.monotonic() + self.limits.seconds

    def tick(self) -> None:
        self.steps -= 1
        if self.steps < 0:
            raise TemplateLimit(f"it took more than {self.limits.steps:,} steps (loop iterations, calls, filters)")
        if time.monotonic() > self.deadline:
            raise TemplateLimit(f"it ran for more than {self.limits.seconds:g} s")

    def refuse(self, what: str) -> TemplateLimit:
        return TemplateLimit(what)

    # -- sizes ---------------------------------------------------------------------------
    def checked(self, value: Any) -> Any:
        """``value`` when within the caps (shallow: strings, lists, integers)."""
        if isinstance(value, str):
            if len(value) > self.chars:
                raise TemplateLimit(f"it built a string of {len(value):,} characters (the cap is {self.chars:,})")
        elif isinstance(value, (list, tuple)):
            if len(value) > self.limits.items:
                raise TemplateLimit(f"it built a list of {len(value):,} items (the cap is {self.limits.items:,})")
        elif isinstance(value, int) and not isinstance(value, bool):
            if value.bit_length() > self.limits.int_bits:
                raise TemplateLimit(f"it built an integer of {value.bit_length():,} bits (the cap is {self.limits.int_bits:,})")
        return value

    def width(self, n: Any, what: str) -> None:
        """Refuse an integer argument (a width, a count) above the character cap."""
        if isinstance(n, int) and not isinstance(n, bool) and abs(n) > self.chars:
            raise TemplateLimit(f"{what} {n:,} is above the cap of {self.chars:,} characters")

    def mass(self, value: Any) -> int:
        """Characters reachable from ``value`` as text, each reference counted (what
        ``str()`` or ``tojson`` would write), refused past the cap. Lists and dicts
        cannot change in the immutable sandbox, so their mass is remembered (with the
        object, so that its id is not reused) for the rest of the render."""
        if isinstance(value, str):
            return len(value)
        if not isinstance(value, (list, tuple, dict, Namespace)):
            return 1
        known = self._mass.get(id(value))
        if known is not None and known[0] is value:
            return known[1]
        total, seen, stack = 0, 0, [value]
        while stack:
            v = stack.pop()
            seen += 1
            if isinstance(v, str):
                total += len(v) + 2
            elif isinstance(v, (list, tuple)):
                hit = self._mass.get(id(v))
                if hit is not None and hit[0] is v:
                    total += hit[1]
                else:
                    stack.extend(v)
                    total += 2
            elif isinstance(v, dict):
                stack.extend(v.keys())
                stack.extend(v.values())
                total += 2
            elif isinstance(v, Namespace):
                stack.extend(v._Namespace__attrs.values())  # type: ignore[attr-defined]
                total += 2
            else:
                total += 4
            if total > self.chars or seen > 4 * self.limits.items:
                raise TemplateLimit(f"it would write a value of more than {self.chars:,} characters")
        self._mass[id(value)] = (value, total)
        return total

    def args(self, args: Iterable[Any], kwargs: dict[str, Any], what: str) -> None:
        """Arguments of a call or filter: integers within the cap, text within the cap."""
        total = 0
        for a in (*args, *kwargs.values()):
            self.width(a, f"{what}: argument")
            total += self.mass(a)
        if total > self.chars:
            raise TemplateLimit(f"{what} was given more than {self.chars:,} characters")


_SMALL = 4096  # a string this short is never over a cap (caps are at least this large)
_STATE = threading.local()
_DEFAULT = Limits()


def current() -> Budget:
    """The running render's budget (a fresh default one outside a render)."""
    budget = getattr(_STATE, "budget", None)
    return budget if budget is not None else Budget(_DEFAULT)


_PRINTF = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


def _printf_widths(fmt: str, budget: Budget) -> None:
    for m in _PRINTF.finditer(fmt):
        for g in m.groups():
            if g and g != "*":
                budget.width(int(g), "a %-format width")


def _format_widths(fmt: str, budget: Budget) -> None:
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises the same error itself
    for _, _, spec, _ in fields:
        for d in _DIGITS.findall(spec or ""):
            budget.width(int(d), "a format width")


def _lines(value: Any) -> int:
    return value.count("\n") + 1 if isinstance(value, str) else 1


def _before_str_method(target: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    """Refuse a string method whose result would pass the cap, before it runs."""
    cap = budget.chars
    if name == "replace" and len(args) >= 2 and isinstance(args[0], str) and isinstance(args[1], str):
        hits = len(target) + 1 if args[0] == "" else target.count(args[0])
        if len(args) > 2 and isinstance(args[2], int) and args[2] >= 0:
            hits = min(hits, args[2])
        if len(target) + hits * max(0, len(args[1]) - len(args[0])) > cap:
            raise TemplateLimit(f"replace would build more than {cap:,} characters")
    elif name == "join" and args and isinstance(args[0], (list, tuple)):
        if len(target) * len(args[0]) > cap:
            raise TemplateLimit(f"join would build more than {cap:,} characters")
    elif name == "expandtabs":
        size = args[0] if args else kwargs.get("tabsize", 8)
        if isinstance(size, int) and len(target) + target.count("\t") * size > cap:
            raise TemplateLimit(f"expandtabs would build more than {cap:,} characters")
    elif name == "translate":
        table = args[0] if args else None
        longest = max((budget.mass(v) for v in table.values()), default=1) if isinstance(table, dict) else 1
        if len(target) * longest > cap:
            raise TemplateLimit(f"translate would build more than {cap:,} characters")
    elif name in ("format", "format_map"):
        _format_widths(target, budget)


def _before_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any], budget: Budget) -> None:
    """Refuse a filter whose result would pass the cap, before it runs (``args[0]`` is the value)."""
    budget.tick()
    value, rest = (args[0] if args else None), args[1:]
    budget.args(rest, kwargs, f"filter {name}")
    budget.mass(value)
    cap = budget.chars
    if name == "replace" and isinstance(value, str) and len(rest) >= 2:
        _before_str_method(value, "replace", tuple(rest), {}, budget)
    elif name == "join" and isinstance(value, (list, tuple)):
        sep = rest[0] if rest else kwargs.get("d", "")
        if isinstance(sep, str) and len(sep) * len(value) > cap:
            raise TemplateLimit(f"join would build more than {cap:,} characters")
    elif name == "indent":
        width = rest[0] if rest else kwargs.get("width", 4)
        size = width if isinstance(width, int) else len(width) if isinstance(width, str) else 0
        if _lines(value) * size > cap:
            raise TemplateLimit(f"indent would build more than {cap:,} characters")
    elif name == "tojson":
        indent = rest[0] if rest else kwargs.get("indent")
        if isinstance(indent, int) and indent > 100:
            raise TemplateLimit(f"tojson indent {indent:,} is above 100")
    elif name == "wordwrap" and isinstance(value, str):
        width = rest[0] if rest else kwargs.get("width", 79)
        if isinstance(width, int) and len(value) // max(1, width) > budget.limits.items:
            raise TemplateLimit(f"wordwrap would make more than {budget.limits.items:,} lines")
    elif name in ("format",) and isinstance(value, str):
        _printf_widths(value, budget)
    elif name in ("list", "batch", "slice") and isinstance(value, str) and len(value) > budget.limits.items:
        raise TemplateLimit(f"{name} would make a list of more than {budget.limits.items:,} items")


def _guard(name: str, func: Any) -> Any:
    skip = 1 if _PassArg.from_obj(func) is not None else 0

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = current()
        _before_filter(name, args[skip:], kwargs, budget)
        return budget.checked(func(*args, **kwargs))

    return guarded


@pass_context
def _iterate(context: Any, value: Any) -> Iterator[Any]:
    """What every ``{% for %}`` loops over: the iterable, one step per item."""
    budget = current()
    for item in value:
        budget.tick()
        yield item


@pass_context
def _piece(context: Any, value: Any) -> Any:
    """One operand of ``~``: refused when its text would pass the cap."""
    current().mass(value)
    return value


@pass_context
def _joined(context: Any, value: Any) -> Any:
    return current().checked(value)


class LimitedEnvironment(ImmutableSandboxedEnvironment):
    """HF's chat-template sandbox plus the limits of the module docstring."""

    # ``-``, ``/`` and ``//`` cannot build more than they are given; ``+`` can double
    # (checked after), the others can build anything (checked before).
    intercepted_binops = frozenset(["+", "*", "%", "**"])

    def __init__(self, **options: Any) -> None:
        super().__init__(finalize=self._finalize, **options)
        self.filters = {name: _guard(name, f) for name, f in self.filters.items()}
        self.filters.update({"_sftdata_iter": _iterate, "_sftdata_piece": _piece, "_sftdata_joined": _joined})
        self.globals.pop("lipsum", None)

    def add_filter(self, name: str, func: Any) -> None:
        self.filters[name] = _guard(name, func)

    # -- the tree: every loop counted, every ``~`` operand sized -----------------------
    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for loop in tree.find_all(nodes.For):
            loop.iter = nodes.Filter(loop.iter, "_sftdata_iter", [], [], None, None, lineno=loop.lineno)
        for cat in list(tree.find_all(nodes.Concat)):
            cat.nodes = [nodes.Filter(n, "_sftdata_piece", [], [], None, None, lineno=n.lineno) for n in cat.nodes]
        return _wrap_concats(tree)

    # -- runtime hooks ----------------------------------------------------------------
    def _finalize(self, value: Any) -> Any:
        if type(value) is not str:  # a string's size is counted by concat
            current().mass(value)
        return value

    def concat(self, pieces: Iterable[str]) -> str:  # type: ignore[override]
        budget = current()
        out: list[str] = []
        total = 0
        for p in pieces:
            total += len(p)
            if total > budget.chars:
                raise TemplateLimit(f"its output passed {budget.chars:,} characters")
            out.append(p)
        return "".join(out)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "+":  # the hot path of every template that joins strings
            result = left + right
            if type(result) is str and len(result) <= _SMALL:
                return result
            return current().checked(result)
        budget = current()
        if operator == "*":
            _before_repeat(left, right, budget)
        elif operator == "**":
            _before_power(left, right, budget)
        elif operator == "%" and isinstance(left, str):
            _printf_widths(left, budget)
            budget.args(right if isinstance(right, tuple) else (right,), {}, "a %-format")
        return budget.checked(self.binop_table[operator](left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805 (jinja's own signature)
        budget = current()
        budget.tick()
        if isinstance(__obj, LoopContext) and args:  # a recursive loop's next level
            args = (_iterate(__context, args[0]), *args[1:])
        name = getattr(__obj, "__name__", "")
        budget.args(args, kwargs, f"call of {name or 'a function'}")
        target = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
        if isinstance(target, str) and name == "join" and args and not isinstance(args[0], (str, list, tuple)):
            args = (budget.checked(list(args[0])), *args[1:])  # a generator (``map``): sized before joining
        if isinstance(target, str):
            _before_str_method(target, name, args, kwargs, budget)
        return budget.checked(super().call(__context, __obj, *args, **kwargs))


def _wrap_concats(tree: nodes.Template) -> nodes.Template:
    """Size-check the result of every ``~`` (its operands are each within the cap)."""

    class Wrap(NodeTransformer):  # type: ignore[misc]
        def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
            self.generic_visit(node)
            return nodes.Filter(node, "_sftdata_joined", [], [], None, None, lineno=node.lineno)

    return Wrap().visit(tree)  # type: ignore[no-any-return]


def _before_repeat(left: Any, right: Any, budget: Budget) -> None:
    for seq, n in ((left, right), (right, left)):
        if isinstance(n, int) and not isinstance(n, bool) and n > 0:
            if isinstance(seq, str) and len(seq) * n > budget.chars:
                raise TemplateLimit(f"it would repeat a string {n:,} times (over {budget.chars:,} characters)")
            if isinstance(seq, (list, tuple)) and len(seq) * n > budget.limits.items:
                raise TemplateLimit(f"it would repeat a list {n:,} times (over {budget.limits.items:,} items)")
    if isinstance(left, int) and isinstance(right, int) and left.bit_length() + right.bit_length() > budget.limits.int_bits:
        raise TemplateLimit(f"it would multiply integers into more than {budget.limits.int_bits:,} bits")


def _before_power(base: Any, exp: Any, budget: Budget) -> None:
    if isinstance(base, int) and isinstance(exp, int) and exp > 0 and abs(base) > 1 and exp * base.bit_length() > budget.limits.int_bits:
        raise TemplateLimit(f"it would raise {base:,} to the power {exp:,} (over {budget.limits.int_bits:,} bits)")


def render(template: Any, variables: dict[str, Any], budget: Budget) -> str:
    """Render a template compiled by :class:`LimitedEnvironment` within ``budget``.

    Raises the template's own exception (jinja's types, Python's for a failed operation)
    or :class:`TemplateLimit`, with the template's frames in the traceback."""
    previous = getattr(_STATE, "budget", None)
    _STATE.budget = budget
    budget.restart()
    try:
        ctx = template.new_context(variables)
        return template.environment.concat(template.root_render_func(ctx))  # type: ignore[no-any-return]
    finally:
        _STATE.budget = previous


def template_line(exc: BaseException, template: Any) -> int | None:
    """The template line an exception was raised on (its innermost template frame)."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == (template.filename or "<template>"):
            line = template.get_corresponding_lineno(tb.tb_lineno)
        tb = tb.tb_next
    return line


__all__ = ["Budget", "LimitedEnvironment", "Limits", "TemplateLimit", "TemplateRaised", "render", "template_line"]
