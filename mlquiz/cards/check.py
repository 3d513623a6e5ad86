"""Is a typed answer equivalent to a card's answer?

Formula cards (``answer_sympy``): the typed answer (plain text such as ``1/(1+exp(-z))``,
``e^(-z)``, ``2x``, ``sigma(z)*(1-sigma(z))``, or LaTeX such as ``\\frac{1}{1+e^{-z}}``) becomes
a sympy expression through :mod:`mlquiz.cards.parse` (never ``eval``). It is first compared
with the expected answer at random points (a disagreement is a counterexample: wrong); when
they agree, sympy tries to prove the difference zero within a time bound. The verdict says
which happened: ``"proof"``, or ``"random points"`` when simplification was inconclusive.

Array cards (``answer_numpy``): the typed numpy-style expression (``x.T @ dz``,
``sum(dout * x_hat, axis=0)``, ``dout.sum(0)``) is parsed into a whitelisted tree and evaluated
on random arrays of the card's declared shapes, with distinct sizes for distinct dimensions so
that a transposition shows, and compared with the expected expression on the same arrays.

Importing this module imports sympy and numpy (about half a second); ``mlquiz review`` does it
in the background while the learner reads the first question (:func:`warm_up`).
"""

from __future__ import annotations

import ast
import cmath
import math
import random
import re
import signal
import threading
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import sympy
from sympy.core.function import AppliedUndef

from mlquiz.cards.deck import Card
from mlquiz.cards.parse import (
    SCALAR_FUNCTIONS,
    AnswerError,
    _alias,
    check_latex,
    looks_like_latex,
    parse_answer,
)

#: seconds sympy may spend proving a difference zero before the random points decide
PROOF_SECONDS = 0.3
#: random points a formula must agree at
N_POINTS = 40
#: relative tolerance of the random-point and random-array comparisons
RTOL = 1e-8
#: random draws of arrays (each with fresh dimension sizes)
N_DRAWS = 3
#: the largest power of a number a formula may contain (``9^9^9`` is refused, not computed)
MAX_POWER_BITS = 4096
#: the most elements an array answer may create (``outer(outer(x, x), outer(x, x))``)
MAX_ELEMENTS = 1_000_000
#: seconds sympy's LaTeX parser may take to read a typed answer
LATEX_SECONDS = 0.5

SIGMA = sympy.Function("sigma")
_T = sympy.Dummy("t")
_SIGMOID = sympy.Lambda(_T, 1 / (1 + sympy.exp(-_T)))

_ASSUMPTIONS = {
    "real": {"real": True},
    "positive": {"positive": True},
    "unit": {"positive": True},
    "binary": {"real": True},
    "sign": {"real": True, "nonzero": True},
}


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one typed answer.

    ``status``: ``"correct"``, ``"wrong"``, ``"invalid"`` (the answer could not be read, or was
    refused) or ``"unchecked"`` (a display-only card). ``method``: how the decision was made:
    ``"proof"`` (sympy proved the difference zero), ``"random points"``, ``"random arrays"``,
    or ``""``. ``message`` explains it to the learner.
    """

    status: str
    method: str
    message: str

    @property
    def correct(self) -> bool:
        return self.status == "correct"


# --- symbols and expressions of formula cards -----------------------------------------------

def sympy_name(name: str) -> str:
    """The sympy symbol name of a card's symbol, chosen for the pretty printer:
    ``lam`` prints as λ, ``eps`` as ε, ``y_hat`` as ŷ."""
    if name == "lam":
        return "lambda"
    if name == "eps":
        return "epsilon"
    if name.endswith("_hat"):
        return name[:-4] + "hat"
    return name


def card_symbols(card: Card) -> dict[str, sympy.Symbol]:
    """The card's symbols (and its derived names, as plain symbols) by card name."""
    table = {
        name: sympy.Symbol(sympy_name(name), **_ASSUMPTIONS[domain])
        for name, domain in card.symbols.items()
    }
    for name in card.derived:
        table[name] = sympy.Symbol(sympy_name(name), real=True)
    return table


def _exact_number(value: int | float) -> sympy.Expr:
    if isinstance(value, int):
        return sympy.Integer(value)
    return sympy.Rational(repr(value))


def _power(base: sympy.Expr, exponent: sympy.Expr) -> sympy.Expr:
    if base.is_Number and exponent.is_Number and base != 0:
        size = max(abs(sympy.Rational(base).p), sympy.Rational(base).q) if base.is_Rational else 2
        if abs(float(exponent)) * math.log2(max(size, 2)) > MAX_POWER_BITS:
            raise AnswerError("refused: that power is too large to compute.")
    if exponent.is_Number and abs(exponent) > 1000:
        raise AnswerError("refused: exponents above 1000 are not allowed.")
    return base**exponent


_SCALAR_CALLS = {
    "exp": sympy.exp,
    "log": sympy.log,
    "sqrt": sympy.sqrt,
    "abs": sympy.Abs,
    "sign": sympy.sign,
    "max": sympy.Max,
    "min": sympy.Min,
    "sigma": SIGMA,
    "tanh": sympy.tanh,
}


def _build(node: ast.AST, table: dict[str, sympy.Expr]) -> sympy.Expr:
    """A sympy expression from a tree that :func:`parse_answer` accepted (scalar mode)."""
    if isinstance(node, ast.Expression):
        return _build(node.body, table)
    if isinstance(node, ast.Constant):
        return _exact_number(node.value)
    if isinstance(node, ast.Name):
        if node.id in table:
            return table[node.id]
        if node.id == "e":
            return sympy.E
        if node.id == "pi":
            return sympy.pi
        raise AnswerError(f"unknown name {node.id!r}.")
    if isinstance(node, ast.UnaryOp):
        value = _build(node.operand, table)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _build(node.left, table), _build(node.right, table)
        if isinstance(node.op, ast.Add):
            return left + right
        if isinstance(node.op, ast.Sub):
            return left - right
        if isinstance(node.op, ast.Mult):
            return left * right
        if isinstance(node.op, ast.Div):
            return left / right
        if isinstance(node.op, ast.Pow):
            return _power(left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        args = [_build(arg, table) for arg in node.args]
        counts = SCALAR_FUNCTIONS[name]
        if (counts is None and len(args) < 2) or (counts is not None and len(args) not in counts):
            raise AnswerError(f"{name} does not take {len(args)} argument(s).")
        return _SCALAR_CALLS[name](*args)
    raise AnswerError(f"refused: {type(node).__name__} is not allowed in a formula.")


def parse_formula(text: str, card: Card, table: dict[str, sympy.Symbol] | None = None) -> sympy.Expr:
    """A typed formula (plain or LaTeX) as a sympy expression over the card's symbols.

    Raises :class:`AnswerError` for text that is refused or cannot be read.
    """
    table = card_symbols(card) if table is None else table
    if looks_like_latex(text):
        return latex_to_sympy(text, card, table)
    tree = parse_answer(
        text, mode="scalar", names=set(table), functions=card.functions, forbid=card.forbid
    )
    return _build(tree, table)


def _substitute_derived(expr: sympy.Expr, card: Card, table) -> sympy.Expr:
    """Replace derived names (``p`` for ``sigma(y_hat)``) by their definitions."""
    for name in reversed(list(card.derived)):
        definition = _build(
            parse_answer(card.derived[name], mode="scalar", names=set(table), functions=card.functions),
            table,
        )
        expr = expr.xreplace({table[name]: definition})
    return expr


def expected_formula(card: Card, table=None) -> sympy.Expr:
    """The card's ``answer_sympy`` as a sympy expression (``sigma`` kept, for display)."""
    if card.answer_sympy is None:
        raise ValueError(f"card {card.id} has no sympy answer")
    table = card_symbols(card) if table is None else table
    tree = parse_answer(card.answer_sympy, mode="scalar", names=set(table), functions=card.functions)
    return _build(tree, table)


# --- LaTeX ----------------------------------------------------------------------------------

_LATEX_NAMES = {"lambda": "lam", "epsilon": "eps", "varepsilon": "eps", "sigmoid": "sigma"}


def _prepare_latex(text: str) -> str:
    # \hat{y} -> \mathit{yhat}: sympy's parser reads \hat as a symbol times y otherwise
    text = re.sub(r"\\(hat|bar)\s*\{\s*([A-Za-z]+)\s*\}", r"\\mathit{\2\1}", text)
    text = re.sub(r"\\(hat|bar)\s*([A-Za-z])", r"\\mathit{\2\1}", text)
    # \operatorname{sign}(w), \mathrm{sign}, \text{sign} -> \sign (a named function)
    text = re.sub(r"\\(?:operatorname|mathrm|text)\s*\{\s*([A-Za-z]+)\s*\}", r"\\\1", text)
    return text


def _latex_symbol_name(name: str) -> str:
    name = re.sub(r"_\{([^{}]*)\}", r"_\1", name).replace("{", "").replace("}", "")
    return _LATEX_NAMES.get(name, name)


def _rebuild(expr):
    """Re-create an expression bottom-up so unevaluated pieces from the LaTeX parser evaluate."""
    if not expr.args:
        return expr
    return expr.func(*[_rebuild(arg) for arg in expr.args])


def latex_to_sympy(
    latex: str, card: Card, table: dict[str, sympy.Symbol] | None = None, seconds: float = LATEX_SECONDS
) -> sympy.Expr:
    """A LaTeX formula (typed, or a card's ``answer_latex``) over the card's symbols, through
    sympy's ``parse_latex`` (given at most ``seconds``); ``e`` is Euler's number unless the
    card has a symbol ``e``."""
    from sympy.parsing.latex import parse_latex
    from sympy.parsing.latex.errors import LaTeXParsingError

    table = card_symbols(card) if table is None else table
    text = _prepare_latex(check_latex(latex))
    try:
        with _time_limit(seconds):
            expr = parse_latex(text)
    except _Timeout:
        raise AnswerError("the LaTeX took too long to read; type a shorter formula.") from None
    except LaTeXParsingError as exc:
        first_line = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise AnswerError(f"could not read the LaTeX: {first_line}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise AnswerError(f"could not read the LaTeX ({exc}).") from None
    if not isinstance(expr, sympy.Expr) or isinstance(expr, sympy.core.relational.Relational):
        raise AnswerError("type a formula, not an equation or a relation.")
    if expr.atoms(sympy.Derivative, sympy.Integral, sympy.Sum, sympy.Product, sympy.Limit):
        raise AnswerError("type the formula itself, without derivatives, integrals, sums or limits.")

    def resolve(name: str) -> str | None:
        if name in table:
            return name
        return _alias(name, set(table))

    functions = {}
    for applied in expr.atoms(AppliedUndef):
        name = _latex_symbol_name(applied.func.__name__)
        name = card.functions.get(name, name)
        if name not in card.functions.values() and resolve(name) and len(applied.args) == 1:
            # p(1 - p), \eta (g + \lambda w): a symbol times a parenthesis, not a call
            functions[applied] = sympy.Symbol(name) * applied.args[0]
        elif name in ("sigma", "sigmoid") and "sigma" not in table:
            if "sigma" in card.forbid:
                raise AnswerError("write the answer out without sigma: that is what this card asks for.")
            functions[applied] = SIGMA(*applied.args)
        elif name in ("max", "min") and len(applied.args) >= 2:
            functions[applied] = (sympy.Max if name == "max" else sympy.Min)(*applied.args)
        elif name == "sign" and len(applied.args) == 1:
            functions[applied] = sympy.sign(*applied.args)
        else:
            raise AnswerError(f"unknown function {name!r} in the LaTeX answer.")
    expr = expr.xreplace(functions)

    symbols = {}
    for symbol in expr.free_symbols:
        name = _latex_symbol_name(symbol.name)
        if resolve(name):
            symbols[symbol] = table[resolve(name)]
        elif name == "e":
            symbols[symbol] = sympy.E
        elif name == "pi":
            symbols[symbol] = sympy.pi
        else:
            known = ", ".join(sorted(table)) or "none"
            raise AnswerError(f"unknown name {name!r}; this card's names are: {known}.")
    return _rebuild(expr.xreplace(symbols))


# --- numbers at random points ---------------------------------------------------------------

class _Undefined(Exception):
    """The expression has no finite real value at this point."""


def _pow(base: complex, exponent: complex) -> complex:
    if base.imag == 0 and exponent.imag == 0:
        if base.real >= 0 or float(exponent.real).is_integer():
            return complex(math.pow(base.real, exponent.real))
    return base**exponent


def _real(value: complex) -> float:
    if value.imag != 0 and abs(value.imag) > 1e-12 * max(1.0, abs(value.real)):
        raise _Undefined
    return value.real


def _value(expr: sympy.Expr, env: dict) -> complex:
    """A float evaluation of a sympy expression tree (fast; no ``evalf`` per point)."""
    if expr.is_Symbol:
        return env[expr]
    if expr.is_Number:
        if expr.is_finite is False or expr is sympy.nan:
            raise _Undefined
        return complex(float(expr))
    if expr is sympy.E:
        return complex(math.e)
    if expr is sympy.pi:
        return complex(math.pi)
    if expr.is_Add:
        return sum((_value(arg, env) for arg in expr.args), 0j)
    if expr.is_Mul:
        out = 1 + 0j
        for arg in expr.args:
            out *= _value(arg, env)
        return out
    if expr.is_Pow:
        return _pow(_value(expr.base, env), _value(expr.exp, env))
    func = expr.func
    if func is sympy.exp:
        return cmath.exp(_value(expr.args[0], env))
    if func is sympy.log:
        return cmath.log(_value(expr.args[0], env))
    if func is sympy.tanh:
        return cmath.tanh(_value(expr.args[0], env))
    if func is sympy.Abs:
        return complex(abs(_value(expr.args[0], env)))
    if func is sympy.sign:
        x = _real(_value(expr.args[0], env))
        return complex((x > 0) - (x < 0))
    if func is sympy.Max:
        return complex(max(_real(_value(arg, env)) for arg in expr.args))
    if func is sympy.Min:
        return complex(min(_real(_value(arg, env)) for arg in expr.args))
    if func == SIGMA:
        return 1 / (1 + cmath.exp(-_value(expr.args[0], env)))
    subs = {symbol: env[symbol] for symbol in expr.free_symbols}
    return complex(expr.evalf(subs=subs))


def value_at(expr: sympy.Expr, env: dict) -> float:
    """The real value of ``expr`` at ``env`` (symbol -> float); raises ``_Undefined``."""
    try:
        value = _real(_value(expr, env))
    except (OverflowError, ZeroDivisionError, ValueError, TypeError):
        raise _Undefined from None
    if not math.isfinite(value):
        raise _Undefined
    return value


def _draw(domain: str, rng: random.Random) -> float:
    if domain == "positive":
        return rng.uniform(0.1, 3.0)
    if domain == "unit":
        return rng.uniform(0.05, 0.95)
    if domain == "binary":
        return float(rng.randint(0, 1))
    if domain == "sign":
        return rng.choice((-1.0, 1.0))
    return rng.uniform(-3.0, 3.0)


def _describe_point(env: dict) -> str:
    return ", ".join(f"{symbol} = {value:.4g}" for symbol, value in sorted(env.items(), key=lambda kv: kv[0].name))


@contextmanager
def _time_limit(seconds: float):
    """Interrupt the block after ``seconds`` (SIGALRM; only in the main thread on Unix, and
    only when no other timer is running). Yields whether the limit is active."""
    usable = (
        hasattr(signal, "setitimer")
        and threading.current_thread() is threading.main_thread()
        and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    )
    if not usable:
        yield False
        return

    def _alarm(signum, frame):
        raise _Timeout

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield True
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _Timeout(Exception):
    pass


def prove_zero(diff: sympy.Expr, seconds: float = PROOF_SECONDS) -> bool:
    """Whether sympy shows ``diff`` is identically zero within ``seconds``.

    Without a usable timer (a worker thread, Windows) only the cheap steps run, so a check
    never hangs."""
    try:
        with _time_limit(seconds) as limited:
            if diff == 0:
                return True
            if sympy.count_ops(diff) <= 300 and sympy.expand(diff) == 0:
                return True
            if not limited:
                return False
            return sympy.simplify(diff) == 0
    except (_Timeout, RecursionError):
        return False


def compare_formulas(
    expected: sympy.Expr,
    given: sympy.Expr,
    domains: dict[sympy.Symbol, str],
    *,
    seed: int | None = None,
    proof_seconds: float = PROOF_SECONDS,
) -> Verdict:
    """Random points first (a disagreement disproves), then a time-bounded proof."""
    expected = expected.replace(SIGMA, _SIGMOID)
    given = given.replace(SIGMA, _SIGMOID)
    rng = random.Random(seed)
    agreed = 0
    for _ in range(N_POINTS * 5):
        env = {symbol: _draw(domains.get(symbol, "real"), rng) for symbol in domains}
        try:
            want = value_at(expected, env)
        except _Undefined:
            continue
        try:
            got = value_at(given, env)
        except _Undefined:
            return Verdict(
                "wrong", "random points",
                f"Not equivalent: at {_describe_point(env)} the expected answer is {want:.6g}, "
                "but yours is undefined there.",
            )
        if abs(got - want) > RTOL * max(1.0, abs(want)):
            return Verdict(
                "wrong", "random points",
                f"Not equivalent: at {_describe_point(env)} the expected answer is {want:.6g}, "
                f"yours is {got:.6g}.",
            )
        agreed += 1
        if agreed >= N_POINTS:
            break
    if agreed < N_POINTS // 4:
        return Verdict("invalid", "", "The expected answer could not be evaluated at enough points.")
    if prove_zero(expected - given, proof_seconds):
        return Verdict("correct", "proof", "Correct: sympy proved your answer equal to the expected one.")
    return Verdict(
        "correct", "random points",
        f"Correct: sympy's simplification was inconclusive (or ran out of its {proof_seconds:g} s), "
        f"but your answer agrees with the expected one at {agreed} random points.",
    )


# --- arrays ---------------------------------------------------------------------------------

class _ArrayError(Exception):
    pass


_REDUCTIONS = {"sum", "mean", "prod", "var", "std", "max", "min", "norm"}
_ELEMENTWISE = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "tanh": np.tanh, "square": np.square,
    "maximum": np.maximum, "minimum": np.minimum, "logaddexp": np.logaddexp,
    "clip": np.clip, "dot": np.dot, "outer": np.outer, "matmul": np.matmul,
    "transpose": np.transpose, "diag": np.diag, "ones_like": np.ones_like,
    "zeros_like": np.zeros_like, "inv": np.linalg.inv, "solve": np.linalg.solve,
}
_REDUCE = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "var": np.var, "std": np.std,
    "max": np.max, "min": np.min, "norm": np.linalg.norm,
}


def _guard_size(elements: int) -> None:
    if elements > MAX_ELEMENTS:
        raise AnswerError(f"refused: the answer builds an array of {elements:,} elements.")


def _guard_broadcast(*values) -> None:
    """Refuse before numpy allocates a huge broadcast result."""
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    except ValueError:
        return  # numpy's own error message explains it
    _guard_size(int(np.prod(shape, dtype=np.int64)) if shape else 1)


def _literal_int(node: ast.AST) -> int | None:
    if isinstance(node, ast.Constant) and type(node.value) is int:
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _literal_int(node.operand)
        return None if inner is None else -inner
    return None


def _keywords(node: ast.Call) -> dict:
    out = {}
    for kw in node.keywords:
        if kw.arg == "axis":
            value = _literal_int(kw.value)
            if value is None:
                raise AnswerError("axis= takes a whole number, e.g. axis=0.")
            out["axis"] = value
        elif kw.arg == "keepdims":
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool)):
                raise AnswerError("keepdims= takes True or False.")
            out["keepdims"] = kw.value.value
    return out


def _call(name: str, arg_nodes: list[ast.AST], first, node: ast.Call, env: dict):
    """Call a whitelisted function; ``first`` is the object of a method call, if any."""
    kwargs = _keywords(node)
    args = [] if first is None else [first]
    rest = list(arg_nodes)
    if name in _REDUCTIONS:
        if name in ("max", "min") and first is None and len(rest) == 2 and not kwargs:
            # max(0, 1 - m): the maths meaning, elementwise (use axis= or .max(0) to reduce)
            a, b = (_eval(n, env) for n in rest)
            return (np.maximum if name == "max" else np.minimum)(a, b)
        if first is None:
            if not rest:
                raise AnswerError(f"{name} needs an argument.")
            args.append(_eval(rest.pop(0), env))
        if rest and name == "norm":
            order = rest.pop(0)
            if not isinstance(order, ast.Constant) or isinstance(order.value, bool) or rest:
                raise AnswerError("norm takes an array and optionally the order, a number: norm(w, 1).")
            kwargs["ord"] = order.value
        if rest:
            axis = _literal_int(rest[0])
            if axis is None or len(rest) > 1 or "axis" in kwargs:
                raise AnswerError(f"{name}: the second argument is the axis, a whole number.")
            kwargs["axis"] = axis
        return _REDUCE[name](*args, **kwargs)
    if kwargs:
        raise AnswerError(f"{name} takes no keyword arguments here.")
    args += [_eval(n, env) for n in rest]
    if name == "outer" and len(args) == 2:
        _guard_size(np.size(args[0]) * np.size(args[1]))
    elif name not in ("dot", "matmul", "solve", "inv", "transpose", "diag", "eye"):
        _guard_broadcast(*args)
    if name == "sigma":
        if len(args) != 1:
            raise AnswerError("sigma takes one argument.")
        return 1.0 / (1.0 + np.exp(-np.asarray(args[0], dtype=float)))
    if name == "where":
        if len(args) != 3:
            raise AnswerError("where takes three arguments: where(condition, a, b).")
        return np.where(np.asarray(args[0]) != 0, args[1], args[2])
    if name == "eye":
        size = float(np.asarray(args[0])) if len(args) == 1 and np.ndim(args[0]) == 0 else -1.0
        if not (size.is_integer() and 1 <= size <= 100):
            raise AnswerError("eye takes one whole number between 1 and 100, e.g. eye(D).")
        return np.eye(int(size))
    if name == "dot" and first is not None:
        return np.dot(*args)
    if name == "transpose":
        return np.transpose(*args)
    return _ELEMENTWISE[name](*args)


_BINARY = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power, ast.MatMult: np.matmul,
}
_COMPARE = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}


def _eval(node: ast.AST, env: dict):
    """Evaluate a tree that :func:`parse_answer` accepted (array mode) on ``env``'s arrays."""
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, bool) else np.float64(node.value)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id == "e":
            return np.float64(math.e)
        if node.id == "pi":
            return np.float64(math.pi)
        raise AnswerError(f"unknown name {node.id!r}.")
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env)
        return np.negative(value) if isinstance(node.op, ast.USub) else np.positive(value)
    if isinstance(node, ast.BinOp):
        left, right = _eval(node.left, env), _eval(node.right, env)
        if not isinstance(node.op, ast.MatMult):
            _guard_broadcast(left, right)
        return _BINARY[type(node.op)](left, right)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, env)
        result = np.bool_(True)
        for op, comparator in zip(node.ops, node.comparators):
            right = _eval(comparator, env)
            _guard_broadcast(left, right, result)
            result = np.logical_and(result, _COMPARE[type(op)](left, right))
            left = right
        return np.asarray(result, dtype=float)
    if isinstance(node, ast.Attribute):  # .T
        return np.transpose(_eval(node.value, env))
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return _call(node.func.id, node.args, None, node, env)
        obj = _eval(node.func.value, env)
        return _call(node.func.attr, node.args, obj, node, env)
    raise AnswerError(f"refused: {type(node).__name__} is not allowed.")


def evaluate_array(text: str, card: Card, env: dict):
    """Evaluate a numpy-style expression (typed, or from the card) on ``env``."""
    tree = parse_answer(text, mode="array", names=card.array_names, functions=card.functions, forbid=card.forbid)
    with np.errstate(all="ignore"):
        return _eval(tree, env)


def random_arrays(card: Card, rng: np.random.Generator) -> tuple[dict, dict[str, int]]:
    """Random inputs of the card's declared shapes and domains, then its derived arrays.

    Each dimension name gets its own size (2 to 9, distinct), so ``x @ W`` and ``x.T @ W``
    cannot both fit."""
    dims = card.dims
    sizes = dict(zip(dims, (int(s) for s in rng.choice(np.arange(2, 10), size=len(dims), replace=False))))
    env: dict = {name: np.float64(size) for name, size in sizes.items()}
    for name, shape in card.shapes.items():
        shape = tuple(sizes[d] if isinstance(d, str) else d for d in shape)
        domain = card.domains.get(name, "real")
        if domain == "positive":
            value = rng.uniform(0.5, 2.0, size=shape)
        elif domain == "unit":
            value = rng.uniform(0.05, 0.95, size=shape)
        elif domain == "binary":
            value = rng.integers(0, 2, size=shape).astype(float)
        elif domain == "sign":
            value = rng.choice(np.array([-1.0, 1.0]), size=shape)
        else:
            value = rng.standard_normal(size=shape)
        env[name] = np.float64(value) if shape == () else value
    for name, definition in card.derived.items():
        env[name] = np.asarray(evaluate_array(definition, card, env), dtype=float)
    return env, sizes


def _numpy_message(exc: Exception) -> str:
    text = str(exc)
    sizes = re.search(r"\(size \d+ is different from \d+\)", text)
    if "mismatch in its core dimension" in text:
        return "the shapes do not fit for @ " + (sizes.group(0) if sizes else "")
    if text.startswith("operands could not be broadcast together"):
        return "the shapes cannot be broadcast together" + text[len("operands could not be broadcast together"):]
    return text


def _dims_text(sizes: dict[str, int]) -> str:
    return ", ".join(f"{name}={size}" for name, size in sizes.items()) or "scalars"


def compare_arrays(card: Card, text: str, *, seed: int | None = None) -> Verdict:
    tree = parse_answer(text, mode="array", names=card.array_names, functions=card.functions, forbid=card.forbid)
    rng = np.random.default_rng(seed)
    for _ in range(N_DRAWS):
        env, sizes = random_arrays(card, rng)
        expected = np.asarray(evaluate_array(card.answer_numpy, card, env), dtype=float)
        try:
            with np.errstate(all="ignore"):
                got = _eval(tree, env)
            got = np.asarray(got, dtype=float)
        except AnswerError:
            raise  # a refusal (AnswerError is a ValueError), not a wrong answer
        except (ValueError, TypeError, IndexError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return Verdict(
                "wrong", "random arrays",
                f"Not equivalent: on arrays of the declared shapes ({_dims_text(sizes)}) your answer "
                f"fails: {_numpy_message(exc)}",
            )
        if got.shape != expected.shape:
            return Verdict(
                "wrong", "random arrays",
                f"Not equivalent: with {_dims_text(sizes)} your answer has shape {got.shape}, "
                f"the expected one {expected.shape}.",
            )
        if not np.all(np.isfinite(got)):
            return Verdict("wrong", "random arrays", "Not equivalent: your answer is not finite on random arrays.")
        scale = 1.0 + float(np.max(np.abs(expected))) if expected.size else 1.0
        if not np.allclose(got, expected, rtol=RTOL * 10, atol=RTOL * scale):
            worst = float(np.max(np.abs(got - expected))) if expected.size else 0.0
            return Verdict(
                "wrong", "random arrays",
                f"Not equivalent: on random arrays ({_dims_text(sizes)}) your values differ from the "
                f"expected ones by up to {worst:.3g}.",
            )
    return Verdict(
        "correct", "random arrays",
        f"Correct: your expression equals the expected one on {N_DRAWS} draws of random arrays "
        "of the declared shapes.",
    )


# --- the entry point ------------------------------------------------------------------------

def check_answer(card: Card, text: str, *, seed: int | None = None, proof_seconds: float = PROOF_SECONDS) -> Verdict:
    """Check a typed answer against ``card``; never raises for bad input (the verdict says)."""
    if card.kind == "display":
        return Verdict("unchecked", "", "This card is not checked automatically: compare with the answer.")
    try:
        if card.kind == "array":
            if looks_like_latex(text):
                return Verdict(
                    "invalid", "",
                    "Type array answers as numpy-style expressions, e.g. x.T @ dz or sum(dout, axis=0).",
                )
            return compare_arrays(card, text, seed=seed)
        table = card_symbols(card)
        given = _substitute_derived(parse_formula(text, card, table), card, table)
        expected = _substitute_derived(expected_formula(card, table), card, table)
        domains = {table[name]: domain for name, domain in card.symbols.items()}
        return compare_formulas(expected, given, domains, seed=seed, proof_seconds=proof_seconds)
    except AnswerError as exc:
        return Verdict("invalid", "", str(exc))
    except RecursionError:
        return Verdict("invalid", "", "The answer is nested too deeply.")


def pretty_answer(card: Card) -> str:
    """The answer for the terminal: sympy's unicode pretty printer for formula cards, a
    unicode rendering of the LaTeX for the others."""
    from mlquiz.cards.deck import latex_to_text

    if card.kind == "formula":
        return sympy.pretty(expected_formula(card), use_unicode=True)
    return latex_to_text(card.answer_latex)


def warm_up() -> None:
    """Import and exercise what a first check needs (run in a background thread)."""
    x = sympy.Symbol("x", real=True)
    sympy.simplify(SIGMA(x).replace(SIGMA, _SIGMOID) - 1 / (1 + sympy.exp(-x)))
    from sympy.parsing.latex import parse_latex

    parse_latex("x")
    sympy.pretty(x**2, use_unicode=True)
