"""A small, safe expression language for flows: conditions in ``branch`` steps, values in ``set``.

It is parsed by its own tokenizer and Pratt-style parser into frozen AST nodes and evaluated by a
tree walker over plain data (``None``, bool, int, float, str, lists, mappings). There is no Python
``eval``, no attribute access on Python objects (``a.b`` only reads keys of mappings), no way to
call anything but the whitelisted functions below, and hard limits on expression length, nesting,
number size and string size, so an admin's typo (or hostile text in a flow file) can never run code
or exhaust the engine.

Syntax::

    literals      42  3.5  'text'  "text"  true  false  null  [1, 2, 3]
    variables     balance   call.caller   customer.name   items[0]   customer['segment']
    arithmetic    + - * / %   (``+`` also joins two texts or two lists)
    comparison    == != < <= > >=   in   not in
    logic         and  or  not    (``a or b`` gives the first true operand, handy for defaults)
    functions     len lower upper trim startswith endswith contains substr replace digits
                  first last int number str round abs min max default empty matches if

Values that are ``acd.secrets.Secret`` (digits collected with ``secret: true``) can only be
passed along (to verification steps) or measured with ``len``/``empty``; any other use is an
error, so a secret can never be compared, spoken, sent or logged through an expression.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any
from collections.abc import Callable, Mapping, Sequence

from acd.flows import regex as flow_regex
from acd.secrets import Secret

MAX_EXPR_LENGTH = 2000
MAX_DEPTH = 48
MAX_STRING = 10_000
MAX_LIST = 1_000
MAX_NUMBER = 10**15
MAX_REGEX = 200


class ExprError(ValueError):
    """An expression problem; ``pos`` is the 0-based character offset in the expression text."""

    def __init__(self, message: str, pos: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


class ExprSyntaxError(ExprError):
    pass


class ExprEvalError(ExprError):
    pass


class UndefinedVariable(ExprEvalError):
    def __init__(self, name: str, pos: int = 0) -> None:
        super().__init__(f"undefined variable {name!r}", pos)
        self.name = name


# --------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class Token:
    kind: str  # NUM STR NAME OP EOF
    value: Any
    pos: int


KEYWORDS = {"and", "or", "not", "in", "true", "false", "null"}
_OPS2 = {"==", "!=", "<=", ">="}
_OPS1 = set("+-*/%<>()[],.")
_NAME_START = re.compile(r"[A-Za-z_]")
_NAME_REST = re.compile(r"[A-Za-z0-9_]*")
_NUMBER = re.compile(r"[0-9]+(\.[0-9]+)?")  # ASCII digits only: "²" is a digit to str.isdigit, not to int()
_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", "'": "'", '"': '"'}


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_EXPR_LENGTH:
        raise ExprSyntaxError(f"expression longer than {MAX_EXPR_LENGTH} characters", 0)
    tokens: list[Token] = []
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if c in " \t\r\n":
            i += 1
            continue
        if "0" <= c <= "9":
            m = _NUMBER.match(text, i)
            assert m is not None
            raw = m.group(0)
            if m.end() < n and (text[m.end()].isalpha() or text[m.end()] == "_"):
                raise ExprSyntaxError(f"bad number {text[i:m.end() + 1]!r}", i)
            value: Any = float(raw) if "." in raw else int(raw)
            if abs(value) > MAX_NUMBER:
                raise ExprSyntaxError("number too large", i)
            tokens.append(Token("NUM", value, i))
            i = m.end()
            continue
        if c in "'\"":
            quote = c
            j = i + 1
            out: list[str] = []
            while True:
                if j >= n:
                    raise ExprSyntaxError("text not closed: missing " + quote, i)
                ch = text[j]
                if ch == "\\":
                    if j + 1 >= n or text[j + 1] not in _ESCAPES:
                        raise ExprSyntaxError("bad escape in text (use \\\\, \\', \\\", \\n, \\t)", j)
                    out.append(_ESCAPES[text[j + 1]])
                    j += 2
                    continue
                if ch == quote:
                    break
                out.append(ch)
                j += 1
            tokens.append(Token("STR", "".join(out), i))
            i = j + 1
            continue
        if _NAME_START.match(c):
            m = _NAME_REST.match(text, i + 1)
            assert m is not None
            word = text[i:m.end()]
            tokens.append(Token("NAME" if word not in KEYWORDS else "KW", word, i))
            i = m.end()
            continue
        two = text[i:i + 2]
        if two in _OPS2:
            tokens.append(Token("OP", two, i))
            i += 2
            continue
        if c in _OPS1:
            tokens.append(Token("OP", c, i))
            i += 1
            continue
        if c == "=":
            raise ExprSyntaxError("use == to compare ('=' alone is not an operator)", i)
        if two in ("&&", "||"):
            raise ExprSyntaxError(f"use {'and' if two == '&&' else 'or'} instead of {two}", i)
        if c == "!":
            raise ExprSyntaxError("use 'not' instead of '!'", i)
        raise ExprSyntaxError(f"unexpected character {c!r}", i)
    tokens.append(Token("EOF", None, n))
    return tokens


# --------------------------------------------------------------------------- AST
@dataclass(frozen=True)
class Node:
    pos: int


@dataclass(frozen=True)
class Literal(Node):
    value: Any


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True)
class Name(Node):
    name: str


@dataclass(frozen=True)
class Attr(Node):
    obj: Node
    name: str


@dataclass(frozen=True)
class Index(Node):
    obj: Node
    index: Node


@dataclass(frozen=True)
class Unary(Node):
    op: str  # '-' | 'not'
    operand: Node


@dataclass(frozen=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Logic(Node):
    op: str  # 'and' | 'or'
    left: Node
    right: Node


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]


@dataclass(frozen=True)
class Expr:
    """A parsed expression: keep the text for messages and records."""

    text: str
    root: Node

    def names(self) -> frozenset[str]:
        """The root variable names it reads (``customer`` for ``customer.name``)."""
        found: set[str] = set()
        _collect_names(self.root, found)
        return frozenset(found)

    def evaluate(self, scope: Scope) -> Any:
        return _Evaluator(scope).eval(self.root, 0)

    def __str__(self) -> str:
        return self.text


def _collect_names(node: Node, out: set[str]) -> None:
    if isinstance(node, Name):
        out.add(node.name)
    elif isinstance(node, Attr):
        _collect_names(node.obj, out)
    elif isinstance(node, Index):
        _collect_names(node.obj, out)
        _collect_names(node.index, out)
    elif isinstance(node, Unary):
        _collect_names(node.operand, out)
    elif isinstance(node, (Binary, Logic)):
        _collect_names(node.left, out)
        _collect_names(node.right, out)
    elif isinstance(node, Call):
        for a in node.args:
            _collect_names(a, out)
    elif isinstance(node, ListLit):
        for a in node.items:
            _collect_names(a, out)


# --------------------------------------------------------------------------- parser
_COMPARE = {"==", "!=", "<", "<=", ">", ">="}


class _Parser:
    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0

    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        t = self.tokens[self.i]
        self.i += 1
        return t

    def at_op(self, *ops: str) -> bool:
        return self.tok.kind == "OP" and self.tok.value in ops

    def at_kw(self, *kws: str) -> bool:
        return self.tok.kind == "KW" and self.tok.value in kws

    def expect_op(self, op: str) -> Token:
        if not self.at_op(op):
            raise ExprSyntaxError(f"expected {op!r} but found {self._desc(self.tok)}", self.tok.pos)
        return self.advance()

    @staticmethod
    def _desc(tok: Token) -> str:
        return "the end of the expression" if tok.kind == "EOF" else repr(str(tok.value))

    def parse(self) -> Node:
        if self.tok.kind == "EOF":
            raise ExprSyntaxError("empty expression", 0)
        node = self.expr()
        if self.tok.kind != "EOF":
            raise ExprSyntaxError(f"unexpected {self._desc(self.tok)}", self.tok.pos)
        return node

    def _enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ExprSyntaxError("expression nested too deeply", pos)

    def expr(self) -> Node:
        self._enter(self.tok.pos)
        try:
            return self.or_()
        finally:
            self.depth -= 1

    def or_(self) -> Node:
        left = self.and_()
        while self.at_kw("or"):
            pos = self.advance().pos
            left = Logic(pos, "or", left, self.and_())
        return left

    def and_(self) -> Node:
        left = self.not_()
        while self.at_kw("and"):
            pos = self.advance().pos
            left = Logic(pos, "and", left, self.not_())
        return left

    def not_(self) -> Node:
        if self.at_kw("not"):
            pos = self.advance().pos
            self._enter(pos)
            try:
                return Unary(pos, "not", self.not_())
            finally:
                self.depth -= 1
        return self.comparison()

    def comparison(self) -> Node:
        left = self.additive()
        if self.at_op(*_COMPARE):
            t = self.advance()
            node: Node = Binary(t.pos, t.value, left, self.additive())
        elif self.at_kw("in"):
            t = self.advance()
            node = Binary(t.pos, "in", left, self.additive())
        elif self.at_kw("not") and self.tokens[self.i + 1].kind == "KW" and self.tokens[self.i + 1].value == "in":
            t = self.advance()
            self.advance()
            node = Binary(t.pos, "not in", left, self.additive())
        else:
            return left
        if self.at_op(*_COMPARE) or self.at_kw("in"):
            raise ExprSyntaxError("chained comparison: join the parts with 'and'", self.tok.pos)
        return node

    def additive(self) -> Node:
        left = self.multiplicative()
        while self.at_op("+", "-"):
            t = self.advance()
            left = Binary(t.pos, t.value, left, self.multiplicative())
        return left

    def multiplicative(self) -> Node:
        left = self.unary()
        while self.at_op("*", "/", "%"):
            t = self.advance()
            left = Binary(t.pos, t.value, left, self.unary())
        return left

    def unary(self) -> Node:
        if self.at_op("-"):
            pos = self.advance().pos
            self._enter(pos)
            try:
                return Unary(pos, "-", self.unary())
            finally:
                self.depth -= 1
        if self.at_op("+"):
            self.advance()
            return self.unary()
        return self.postfix()

    def postfix(self) -> Node:
        node = self.primary()
        while True:
            if self.at_op("."):
                self.advance()
                if self.tok.kind not in ("NAME", "KW"):
                    raise ExprSyntaxError(f"expected a field name after '.' but found {self._desc(self.tok)}", self.tok.pos)
                t = self.advance()
                if t.value.startswith("_"):
                    raise ExprSyntaxError("field names cannot start with '_'", t.pos)
                node = Attr(t.pos, node, t.value)
            elif self.at_op("["):
                t = self.advance()
                index = self.expr()
                self.expect_op("]")
                node = Index(t.pos, node, index)
            elif self.at_op("("):
                raise ExprSyntaxError("only the built-in functions can be called", self.tok.pos)
            else:
                return node

    def primary(self) -> Node:
        t = self.tok
        if t.kind == "NUM" or t.kind == "STR":
            self.advance()
            return Literal(t.pos, t.value)
        if t.kind == "KW" and t.value in ("true", "false", "null"):
            self.advance()
            return Literal(t.pos, {"true": True, "false": False, "null": None}[t.value])
        if t.kind == "NAME":
            self.advance()
            if self.at_op("("):
                return self.call(t)
            if t.value.startswith("_"):
                raise ExprSyntaxError("names cannot start with '_'", t.pos)
            return Name(t.pos, t.value)
        if self.at_op("("):
            self.advance()
            node = self.expr()
            self.expect_op(")")
            return node
        if self.at_op("["):
            self.advance()
            items: list[Node] = []
            while not self.at_op("]"):
                items.append(self.expr())
                if not self.at_op(","):
                    break
                self.advance()
            self.expect_op("]")
            return ListLit(t.pos, tuple(items))
        raise ExprSyntaxError(f"expected a value but found {self._desc(t)}", t.pos)

    def call(self, name_tok: Token) -> Node:
        fname = name_tok.value
        spec = FUNCTIONS.get(fname)
        if spec is None:
            raise ExprSyntaxError(
                f"unknown function {fname!r} (known: {', '.join(sorted(FUNCTIONS))})", name_tok.pos
            )
        self.expect_op("(")
        args: list[Node] = []
        while not self.at_op(")"):
            args.append(self.expr())
            if not self.at_op(","):
                break
            self.advance()
        self.expect_op(")")
        lo, hi = spec.arity
        if not lo <= len(args) <= hi:
            want = str(lo) if lo == hi else f"{lo} to {hi}" if hi < 99 else f"at least {lo}"
            raise ExprSyntaxError(f"{fname}() takes {want} argument(s), got {len(args)}", name_tok.pos)
        if fname == "matches":
            _check_literal_pattern(args[1])
        return Call(name_tok.pos, fname, tuple(args))


def _check_literal_pattern(node: Node) -> None:
    """A ``matches()`` pattern written in the flow is checked when the flow compiles, so a
    pattern RE2 cannot run is refused with its file and line instead of failing on a call."""
    if isinstance(node, Literal) and isinstance(node.value, str):
        try:
            flow_regex.check_pattern(node.value)
        except flow_regex.RegexError as exc:
            raise ExprSyntaxError(f"matches(): pattern {node.value!r}: {exc.message}", node.pos) from None


def parse_expr(text: str) -> Expr:
    """Parse ``text``; raises ``ExprSyntaxError`` (with ``pos``) when it is not an expression."""
    if not isinstance(text, str):
        raise ExprSyntaxError("an expression must be text", 0)
    return Expr(text, _Parser(text).parse())


def literal_expr(value: Any) -> Expr:
    """An expression that is the constant ``value`` (YAML numbers/booleans/null in ``set``)."""
    return Expr(repr(value), Literal(0, value))


# --------------------------------------------------------------------------- evaluation
class Scope:
    """Variables an expression can read: ``lookup`` raises ``UndefinedVariable`` for unknown names."""

    def __init__(self, layers: Sequence[Mapping[str, Any]]) -> None:
        self.layers = layers

    def lookup(self, name: str, pos: int = 0) -> Any:
        for layer in self.layers:
            if name in layer:
                return layer[name]
        raise UndefinedVariable(name, pos)


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, Secret):
        return "secret"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, Mapping):
        return "record"
    return "value"


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _no_secret(v: Any, pos: int, what: str = "used here") -> None:
    if isinstance(v, Secret):
        raise ExprEvalError(f"a secret cannot be {what}: it can only be passed to a verification step", pos)


def _check_num(v: Any, pos: int) -> Any:
    if isinstance(v, float):
        if math.isnan(v) or math.isinf(v):
            raise ExprEvalError("the result is not a finite number", pos)
    if _is_num(v) and abs(v) > MAX_NUMBER:
        raise ExprEvalError("number too large", pos)
    return v


def _check_size(v: Any, pos: int) -> Any:
    if isinstance(v, str) and len(v) > MAX_STRING:
        raise ExprEvalError(f"text longer than {MAX_STRING} characters", pos)
    if isinstance(v, (list, tuple)) and len(v) > MAX_LIST:
        raise ExprEvalError(f"list longer than {MAX_LIST} items", pos)
    return v


def truthy(v: Any, pos: int = 0) -> bool:
    _no_secret(v, pos, "tested as true/false")
    if isinstance(v, (str, list, tuple, Mapping)):
        return len(v) > 0
    return bool(v)


def _norm(v: Any) -> Any:
    """Whole floats compare and print as ints (JSON gives 10.0 for 10)."""
    if isinstance(v, float) and v.is_integer() and abs(v) <= MAX_NUMBER:
        return int(v)
    return v


class _Evaluator:
    def __init__(self, scope: Scope) -> None:
        self.scope = scope

    def eval(self, node: Node, depth: int) -> Any:
        if depth > MAX_DEPTH * 2:
            raise ExprEvalError("expression nested too deeply", node.pos)
        d = depth + 1
        if isinstance(node, Literal):
            return node.value
        if isinstance(node, Name):
            return self.scope.lookup(node.name, node.pos)
        if isinstance(node, ListLit):
            return [self.eval(i, d) for i in node.items]
        if isinstance(node, Attr):
            obj = self.eval(node.obj, d)
            if obj is None:
                return None  # null-safe: customer.name is null when nobody is identified
            if isinstance(obj, Mapping):
                return obj.get(node.name)
            raise ExprEvalError(f"{type_name(obj)} has no field {node.name!r}", node.pos)
        if isinstance(node, Index):
            return self._index(self.eval(node.obj, d), self.eval(node.index, d), node.pos)
        if isinstance(node, Unary):
            v = self.eval(node.operand, d)
            if node.op == "not":
                return not truthy(v, node.pos)
            _no_secret(v, node.pos)
            if not _is_num(v):
                raise ExprEvalError(f"cannot negate {type_name(v)}", node.pos)
            return -v
        if isinstance(node, Logic):
            left = self.eval(node.left, d)
            if node.op == "and":
                return self.eval(node.right, d) if truthy(left, node.pos) else left
            return left if truthy(left, node.pos) else self.eval(node.right, d)
        if isinstance(node, Binary):
            return self._binary(node.op, self.eval(node.left, d), self.eval(node.right, d), node.pos)
        if isinstance(node, Call):
            spec = FUNCTIONS[node.func]
            if spec.lazy:
                return spec.fn(self, node, d)
            args = [self.eval(a, d) for a in node.args]
            if not spec.secret_ok:
                for a in args:
                    _no_secret(a, node.pos, f"given to {node.func}()")
            try:
                return _check_size(_check_num(spec.fn(*args), node.pos), node.pos)
            except ExprEvalError:
                raise
            except (TypeError, ValueError) as exc:
                raise ExprEvalError(f"{node.func}(): {exc}", node.pos) from None
        raise ExprEvalError("unknown expression node", node.pos)  # pragma: no cover

    @staticmethod
    def _index(obj: Any, idx: Any, pos: int) -> Any:
        _no_secret(obj, pos, "indexed")
        if obj is None:
            return None
        if isinstance(obj, Mapping):
            if not isinstance(idx, str):
                raise ExprEvalError("a record is indexed by text", pos)
            return obj.get(idx)
        if isinstance(obj, (list, tuple, str)):
            if not isinstance(idx, int) or isinstance(idx, bool):
                raise ExprEvalError(f"a {type_name(obj)} is indexed by a whole number", pos)
            if -len(obj) <= idx < len(obj):
                return obj[idx]
            return None
        raise ExprEvalError(f"cannot index {type_name(obj)}", pos)

    @staticmethod
    def _binary(op: str, a: Any, b: Any, pos: int) -> Any:
        if op in ("==", "!="):
            if isinstance(a, Secret) or isinstance(b, Secret):
                if a is None or b is None:  # 'pin == null' is allowed: it reveals nothing
                    return (op == "==") == (a is b)
                _no_secret(a if isinstance(a, Secret) else b, pos, "compared")
            eq = _norm(a) == _norm(b) and (isinstance(a, bool) == isinstance(b, bool))
            return eq if op == "==" else not eq
        _no_secret(a, pos)
        _no_secret(b, pos)
        if op in ("in", "not in"):
            if isinstance(b, str):
                if not isinstance(a, str):
                    raise ExprEvalError(f"'in' a text needs text on the left, not {type_name(a)}", pos)
                found = a in b
            elif isinstance(b, (list, tuple)):
                found = any(_norm(a) == _norm(x) and isinstance(a, bool) == isinstance(x, bool) for x in b)
            elif isinstance(b, Mapping):
                if not isinstance(a, str):  # a record's fields are named by text (a dict here was a TypeError)
                    raise ExprEvalError(f"'in' a record needs a field name (text) on the left, not {type_name(a)}", pos)
                found = a in b
            elif b is None:
                found = False
            else:
                raise ExprEvalError(f"cannot look inside {type_name(b)}", pos)
            return found if op == "in" else not found
        if op in ("<", "<=", ">", ">="):
            if not ((_is_num(a) and _is_num(b)) or (isinstance(a, str) and isinstance(b, str))):
                hint = " (digits collected from the caller are text: use int(x))" if isinstance(a, str) or isinstance(b, str) else ""
                raise ExprEvalError(f"cannot compare {type_name(a)} with {type_name(b)}{hint}", pos)
            return {"<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[op]
        if op == "+":
            if _is_num(a) and _is_num(b):
                return _check_num(a + b, pos)
            if isinstance(a, str) and isinstance(b, str):
                return _check_size(a + b, pos)
            if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
                return _check_size(list(a) + list(b), pos)
            hint = " (use str(x) to turn a number into text)" if isinstance(a, str) or isinstance(b, str) else ""
            raise ExprEvalError(f"cannot add {type_name(a)} and {type_name(b)}{hint}", pos)
        if not (_is_num(a) and _is_num(b)):
            raise ExprEvalError(f"{op!r} needs two numbers, not {type_name(a)} and {type_name(b)}", pos)
        if op == "-":
            return _check_num(a - b, pos)
        if op == "*":
            return _check_num(a * b, pos)
        if b == 0:
            raise ExprEvalError("division by zero", pos)
        if op == "/":
            if isinstance(a, int) and isinstance(b, int) and a % b == 0:
                return a // b
            return _check_num(a / b, pos)
        if op == "%":
            return _check_num(a % b, pos)
        raise ExprEvalError(f"unknown operator {op!r}", pos)  # pragma: no cover


# --------------------------------------------------------------------------- functions
@dataclass(frozen=True)
class FuncSpec:
    fn: Callable[..., Any]
    arity: tuple[int, int]
    doc: str
    lazy: bool = False
    secret_ok: bool = False


def _text(v: Any, fname: str) -> str:
    if not isinstance(v, str):
        raise ExprEvalError(f"{fname}() needs text, not {type_name(v)}")
    return v


def _int(v: Any) -> int:
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, float):
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d{1,16}\s*", v):
        return int(v)
    if isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d{1,16}\.\d{1,16}\s*", v):
        return int(float(v))
    raise ExprEvalError(f"int(): {v!r} is not a whole number")


def _number(v: Any) -> int | float:
    if _is_num(v):
        number: int | float = v
        return number
    if isinstance(v, str) and re.fullmatch(r"\s*[-+]?\d{1,16}(\.\d{1,16})?\s*", v):
        f = float(v)
        return int(f) if "." not in v else f
    raise ExprEvalError(f"number(): {v!r} is not a number")


def _str(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        v = _norm(v)
    if isinstance(v, (int, float, str)):
        return str(v)
    raise ExprEvalError(f"str(): cannot turn {type_name(v)} into text")


def _len(v: Any) -> int:
    if isinstance(v, (str, list, tuple, Mapping, Secret)):
        return len(v)
    if v is None:
        return 0
    raise ExprEvalError(f"len(): {type_name(v)} has no length")


def _empty(v: Any) -> bool:
    return v is None or (isinstance(v, (str, list, tuple, Mapping, Secret)) and len(v) == 0)


def _substr(s: Any, start: Any, length: Any = None) -> str:
    text, first = _text(s, "substr"), _int(start)
    if length is None:
        return text[first:]
    return text[first:first + max(0, _int(length))]


def _matches(s: Any, pattern: Any) -> bool:
    """RE2 (``acd.flows.regex``): linear in the text, so no pattern can stall the engine."""
    s = _text(s, "matches")
    pattern = _text(pattern, "matches")
    if len(pattern) > MAX_REGEX:
        raise ExprEvalError(f"matches(): pattern longer than {MAX_REGEX} characters")
    if len(s) > 1000:
        raise ExprEvalError("matches(): text longer than 1000 characters")
    try:
        return flow_regex.fullmatch(pattern, s)
    except flow_regex.RegexError as exc:
        raise ExprEvalError(f"matches(): pattern {pattern!r}: {exc.message}") from None


def _round(v: Any, nd: Any = 0) -> int | float:
    if not _is_num(v):
        raise ExprEvalError(f"round() needs a number, not {type_name(v)}")
    nd = _int(nd)
    if not 0 <= nd <= 6:
        raise ExprEvalError("round(): decimals must be 0 to 6")
    return int(round(v)) if nd == 0 else round(v, nd)


def _minmax(fn: Callable[..., Any], name: str) -> Callable[..., Any]:
    def inner(*args: Any) -> Any:
        items = list(args[0]) if len(args) == 1 and isinstance(args[0], (list, tuple)) else list(args)
        if not items:
            raise ExprEvalError(f"{name}() of nothing")
        if not (all(_is_num(x) for x in items) or all(isinstance(x, str) for x in items)):
            raise ExprEvalError(f"{name}() needs all numbers or all texts")
        return fn(items)

    return inner


def _if(ev: _Evaluator, node: Call, d: int) -> Any:
    cond = ev.eval(node.args[0], d)
    return ev.eval(node.args[1] if truthy(cond, node.pos) else node.args[2], d)


def _default(ev: _Evaluator, node: Call, d: int) -> Any:
    try:
        v = ev.eval(node.args[0], d)
    except UndefinedVariable:
        v = None
    return ev.eval(node.args[1], d) if v is None or v == "" else v


def _replace(s: Any, old: Any, new: Any) -> str:
    text, old_text, new_text = _text(s, "replace"), _text(old, "replace"), _text(new, "replace")
    if not old_text:
        raise ExprEvalError("replace(): nothing to replace")
    return text.replace(old_text, new_text)


FUNCTIONS: dict[str, FuncSpec] = {
    "len": FuncSpec(_len, (1, 1), "length of a text, list or secret", secret_ok=True),
    "empty": FuncSpec(_empty, (1, 1), "true for null, '' or an empty list/secret", secret_ok=True),
    "lower": FuncSpec(lambda s: _text(s, "lower").lower(), (1, 1), "text in lower case"),
    "upper": FuncSpec(lambda s: _text(s, "upper").upper(), (1, 1), "text in upper case"),
    "trim": FuncSpec(lambda s: _text(s, "trim").strip(), (1, 1), "text without surrounding spaces"),
    "startswith": FuncSpec(lambda s, p: _text(s, "startswith").startswith(_text(p, "startswith")), (2, 2), "text starts with a prefix"),
    "endswith": FuncSpec(lambda s, p: _text(s, "endswith").endswith(_text(p, "endswith")), (2, 2), "text ends with a suffix"),
    "contains": FuncSpec(lambda s, p: _text(p, "contains") in _text(s, "contains"), (2, 2), "text contains a part"),
    "substr": FuncSpec(_substr, (2, 3), "substr(text, start[, length])"),
    "replace": FuncSpec(_replace, (3, 3), "replace(text, old, new)"),
    "digits": FuncSpec(lambda s: re.sub(r"\D", "", _str(s)), (1, 1), "only the digits of a text"),
    "first": FuncSpec(lambda s, n: _text(s, "first")[:max(0, _int(n))], (2, 2), "first(text, n): the first n characters"),
    "last": FuncSpec(lambda s, n: _text(s, "last")[-_int(n):] if _int(n) > 0 else "", (2, 2), "last(text, n): the last n characters"),
    "int": FuncSpec(_int, (1, 1), "whole number from text or number"),
    "number": FuncSpec(_number, (1, 1), "number from text ('12.50' -> 12.5)"),
    "str": FuncSpec(_str, (1, 1), "text from a number"),
    "round": FuncSpec(_round, (1, 2), "round(number[, decimals])"),
    "abs": FuncSpec(lambda v: abs(_number(v)), (1, 1), "absolute value"),
    "min": FuncSpec(_minmax(min, "min"), (1, 99), "smallest of the values"),
    "max": FuncSpec(_minmax(max, "max"), (1, 99), "largest of the values"),
    "matches": FuncSpec(_matches, (2, 2), "matches(text, regex): the whole text matches"),
    "default": FuncSpec(_default, (2, 2), "default(x, fallback): fallback when x is null, '' or undefined", lazy=True),
    "if": FuncSpec(_if, (3, 3), "if(condition, then, else)", lazy=True),
}
