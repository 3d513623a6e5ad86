"""Is a typed answer equivalent to a card's answer?

Formula cards (``answer_sympy``): the typed answer (plain text such as ``1/(1+exp(-z))``,
``e^(-z)``, ``2x``, ``σ(z)(1−σ(z))``, ``np.exp(-z)``, or LaTeX such as ``\\frac{1}{1+e^{-z}}``)
is read whole by :mod:`mlquiz.cards.parse` (never ``eval``; LaTeX it cannot read to the end is
refused with the position) and built into a sympy expression. It is first compared with the
expected answer at random points, including the points where formulas part (0, ±1, ties
between symbols, large values): a disagreement, or an answer undefined where the expected one
is defined, is a counterexample: wrong. When they agree, sympy tries to prove the difference
zero within a CPU-time bound. The verdict says which happened: ``"proof"``, or
``"random points"`` when simplification was inconclusive.

Array cards (``answer_numpy``): the typed expression (``x.T @ dz``, ``x W + b``,
``X^T (y - h)``, ``sum(dout * x_hat, axis=0)``, ``w[pred != y].sum()``) is evaluated on
random arrays of the card's declared shapes (distinct sizes for distinct dimensions, so that a
transposition shows; integer-valued draws, so that ties and margins of exactly 1 occur) and
compared with the expected expression on the same arrays.

Every check runs within :data:`ANSWER_CPU_SECONDS` of CPU time (:func:`cpu_limit`: process
time, so a busy machine does not make an answer slower to check), and every number, power,
factorial and array size is bounded before it is computed: a typed answer gets a verdict or a
refusal, never a hang or a traceback.

Importing this module imports sympy and numpy (about half a second); ``mlquiz review`` does it
in the background while the learner reads the first question (:func:`warm_up`).
"""

from __future__ import annotations

import ast
import json
import math
import random
import re
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import mpmath
import numpy as np
import sympy

from mlquiz.cards.deck import Card, get_card, latex_to_text
from mlquiz.cards.parse import JUXTAPOSE, ROWS, SCALAR_FUNCTIONS, AnswerError, parse_answer
from mlquiz.i18n import _

#: CPU seconds the whole check of one typed answer may take (reading, building, evaluating)
ANSWER_CPU_SECONDS = 0.8
#: CPU seconds sympy may spend proving a difference zero before the random points decide
PROOF_SECONDS = 0.3
#: random points a formula must agree at
N_POINTS = 40
#: relative tolerance of the random-point and random-array comparisons
RTOL = 1e-8
#: the draws of random arrays, in order (each with fresh dimension sizes)
ARRAY_DRAWS = ("normal", "integer", "sparse", "large", "sparse", "integer", "sparse", "sparse", "normal",
               "sparse", "sparse", "integer")
#: the largest power of a number a formula may contain (``9^9^9`` is refused, not computed)
MAX_POWER_BITS = 4096
#: the largest factorial a formula may contain (170! is the largest below the float range)
MAX_FACTORIAL = 170
#: the most elements an array answer may create (``outer(outer(x, x), outer(x, x))``)
MAX_ELEMENTS = 1_000_000
#: the most multiply-adds one matrix product, einsum or solve may take
MAX_FLOPS = 20_000_000

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
_FLOAT_MAX = 1.7976931348623157e308


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


# --- CPU time -------------------------------------------------------------------------------

class _Timeout(BaseException):
    """The CPU time of a :func:`cpu_limit` ran out (a BaseException, like KeyboardInterrupt,
    so that no ``except Exception`` inside sympy swallows it)."""


_state = threading.local()  # per thread: the deadlines of the open limits, and the timer's use


def _deadlines() -> list[float]:
    """``time.process_time()`` deadlines of this thread's open limits, innermost last."""
    return _state.__dict__.setdefault("deadlines", [])


def _check_budget() -> None:
    """Raise ``_Timeout`` once the innermost CPU limit is spent (called between steps of the
    work, so limits hold where no timer signal can be used)."""
    if _deadlines() and time.process_time() >= _deadlines()[-1]:
        raise _Timeout


def _on_timer(signum, frame) -> None:
    if _deadlines() and time.process_time() >= _deadlines()[-1] - 1e-3:
        signal.setitimer(signal.ITIMER_PROF, 0.05)  # again, should the work go on regardless
        raise _Timeout
    _arm()  # the two clocks differ slightly: wait for the rest


def _arm() -> None:
    if _has_timer():
        left = _deadlines()[-1] - time.process_time() if _deadlines() else 0.0
        signal.setitimer(signal.ITIMER_PROF, max(left, 1e-3) if _deadlines() else 0.0)


@contextmanager
def cpu_limit(seconds: float):
    """Raise ``_Timeout`` inside the block once it has used ``seconds`` of CPU time (or an
    enclosing limit is spent). CPU time is the process's (``time.process_time``), so waiting
    for a busy machine does not count. In the main thread of a Unix process a ``SIGPROF``
    timer interrupts any Python-level work (sympy's included); elsewhere the work checks the
    budget between its steps (:func:`_check_budget`)."""
    deadlines = _deadlines()
    outermost = not deadlines
    previous = None
    if outermost:
        _state.timer = (
            hasattr(signal, "setitimer")
            and threading.current_thread() is threading.main_thread()
            and signal.getitimer(signal.ITIMER_PROF) == (0.0, 0.0)
        )
        if _state.timer:
            previous = signal.signal(signal.SIGPROF, _on_timer)
    deadline = time.process_time() + seconds
    deadlines.append(min(deadline, deadlines[-1]) if deadlines else deadline)
    _arm()
    try:
        yield
    finally:
        deadlines.pop()
        if outermost and _state.timer:
            signal.setitimer(signal.ITIMER_PROF, 0)
            signal.signal(signal.SIGPROF, previous)
            _state.timer = False
        else:
            _arm()


def _has_timer() -> bool:
    """Whether this thread's limits are enforced by the SIGPROF timer."""
    return bool(getattr(_state, "timer", False))


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
    """``base**exponent``, refused when it would be a huge number or a huge polynomial."""
    if base.is_Number and exponent.is_Number and base != 0:
        size = max(abs(sympy.Rational(base).p), sympy.Rational(base).q) if base.is_Rational else 2
        if abs(float(exponent)) * math.log2(max(size, 2)) > MAX_POWER_BITS:
            raise AnswerError(_("refused: that power is too large to compute."))
    if exponent.is_Number and abs(exponent) > 1000:
        raise AnswerError(_("refused: exponents above 1000 are not allowed."))
    return base**exponent


def _factorial(value: sympy.Expr) -> sympy.Expr:
    if not (value.is_Integer and 0 <= value <= MAX_FACTORIAL):
        raise AnswerError(_("refused: only factorials of whole numbers up to {n} are computed.").format(
            n=MAX_FACTORIAL))
    return sympy.factorial(value)


def _is_condition(value) -> bool:
    """A relation or a truth value (a sympy Symbol is a Boolean too, but also an Expr)."""
    return isinstance(value, sympy.logic.boolalg.Boolean) and not isinstance(value, sympy.Expr)


def _condition(condition):
    if not _is_condition(condition):
        raise AnswerError(_("the indicator I(...) and where(...) take a condition first, e.g. I(y f < 1)."))
    return condition


def _indicator(condition) -> sympy.Expr:
    return sympy.Piecewise((1, _condition(condition)), (0, True))


_SCALAR_CALLS = {
    "exp": sympy.exp, "log": sympy.log, "log1p": lambda x: sympy.log(1 + x),
    "expm1": lambda x: sympy.exp(x) - 1, "sqrt": sympy.sqrt, "abs": sympy.Abs,
    "norm": lambda x, order=2: sympy.Abs(x), "sign": sympy.sign, "max": sympy.Max, "min": sympy.Min,
    "maximum": sympy.Max, "minimum": sympy.Min, "sigma": SIGMA, "tanh": sympy.tanh,
    "square": lambda x: x**2, "multiply": lambda a, b: a * b, "power": _power,
    "divide": lambda a, b: a / b, "add": lambda a, b: a + b, "subtract": lambda a, b: a - b,
    "indicator": _indicator, "factorial": _factorial,
    "logaddexp": lambda a, b: sympy.log(sympy.exp(a) + sympy.exp(b)),
    "where": lambda condition, a, b: sympy.Piecewise((a, _condition(condition)), (b, True)),
    "dot": lambda a, b: a * b, "inner": lambda a, b: a * b, "matmul": lambda a, b: a * b,
    "negative": lambda x: -x, "reciprocal": lambda x: 1 / x,
}
_RELATIONS = {ast.Lt: sympy.Lt, ast.LtE: sympy.Le, ast.Gt: sympy.Gt, ast.GtE: sympy.Ge,
              ast.Eq: sympy.Eq, ast.NotEq: sympy.Ne}


def _build(node: ast.AST, table: dict[str, sympy.Expr]):
    """A sympy expression from a tree that :func:`parse_answer` accepted (scalar mode)."""
    _check_budget()
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
        raise AnswerError(_("unknown name {name!r}.").format(name=node.id))
    if isinstance(node, ast.UnaryOp):
        value = _build(node.operand, table)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.BinOp):
        left, right = _build(node.left, table), _build(node.right, table)
        if _is_condition(left) or _is_condition(right):
            raise AnswerError(_("a condition (<, ==, ...) only goes inside the indicator I(...)."))
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
    if isinstance(node, ast.Compare) and len(node.ops) == 1:
        return _RELATIONS[type(node.ops[0])](_build(node.left, table), _build(node.comparators[0], table))
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
        name = node.func.id
        args = [_build(arg, table) for arg in node.args]
        counts = SCALAR_FUNCTIONS[name]
        if (counts is None and len(args) < 2) or (counts is not None and len(args) not in counts):
            raise AnswerError(_("{name} does not take {n} argument(s).").format(name=name, n=len(args)))
        return _SCALAR_CALLS[name](*args)
    raise AnswerError(_("refused: {what} is not allowed in a formula.").format(what=type(node).__name__))


def _uses_euler(tree: ast.AST, names) -> bool:
    return "e" not in names and any(isinstance(n, ast.Name) and n.id == "e" for n in ast.walk(tree))


def _formula_tree(text: str, card: Card, table, latex: bool | None = None) -> ast.Expression:
    return parse_answer(text, mode="scalar", names=set(table), functions=card.functions,
                        forbid=card.forbid, latex=latex)


def _formula(tree: ast.Expression, table) -> sympy.Expr:
    expr = _build(tree, table)
    if not isinstance(expr, sympy.Expr):
        raise AnswerError(_("type a formula, not an equation or a condition."))
    if any(number.is_finite and abs(number) > _FLOAT_MAX for number in expr.atoms(sympy.Number)):
        raise AnswerError(_("refused: the answer holds a number beyond the range of floating-point numbers."))
    return expr


def parse_formula(text: str, card: Card, table: dict[str, sympy.Symbol] | None = None) -> sympy.Expr:
    """A typed formula (plain or LaTeX) as a sympy expression over the card's symbols.

    Raises :class:`AnswerError` for text that is refused or cannot be read."""
    table = card_symbols(card) if table is None else table
    return _formula(_formula_tree(text, card, table), table)


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
    """The card's ``answer_sympy`` as a sympy expression (``sigma`` kept)."""
    if card.answer_sympy is None:
        raise ValueError(f"card {card.id} has no sympy answer")
    table = card_symbols(card) if table is None else table
    tree = parse_answer(card.answer_sympy, mode="scalar", names=set(table), functions=card.functions)
    return _build(tree, table)


# --- numbers at random points ---------------------------------------------------------------

class _Undefined(Exception):
    """The expression has no finite real value at this point."""


#: significant digits of the random-point evaluation: a correct form that loses digits to
#: cancellation in floating point (``1 - σ(z)`` at z = 20) is still equal at 30 digits
POINT_DIGITS = 30
#: values beyond this magnitude count as an overflow (as they would in floating point)
_HUGE = mpmath.mpf("1e300")


def _finite(value):
    if not mpmath.isfinite(value) or abs(value) > _HUGE:
        raise _Undefined
    return value


def _pow(base, exponent):
    if mpmath.im(base) == 0 and mpmath.im(exponent) == 0:
        b, x = mpmath.re(base), mpmath.re(exponent)
        if b == 0 and x < 0:
            raise _Undefined
        if b >= 0 or x == int(x):
            if b != 0 and abs(x) * abs(mpmath.log(abs(b))) > 700:
                raise _Undefined  # an overflow, as in floating point
            return mpmath.power(b, x)
    return _finite(mpmath.power(mpmath.mpc(base), exponent))


def _real(value):
    if mpmath.im(value) != 0 and abs(mpmath.im(value)) > 1e-12 * max(1, abs(mpmath.re(value))):
        raise _Undefined
    return mpmath.re(value)


_COMPARISONS = {
    sympy.StrictLessThan: lambda a, b: a < b, sympy.LessThan: lambda a, b: a <= b,
    sympy.StrictGreaterThan: lambda a, b: a > b, sympy.GreaterThan: lambda a, b: a >= b,
    sympy.Equality: lambda a, b: a == b, sympy.Unequality: lambda a, b: a != b,
}


def _truth(condition, env: dict) -> bool:
    if condition is sympy.true:
        return True
    if condition is sympy.false:
        return False
    if type(condition) in _COMPARISONS:
        a, b = (_real(_value(arg, env)) for arg in condition.args)
        return _COMPARISONS[type(condition)](a, b)
    if isinstance(condition, sympy.And):
        return all(_truth(arg, env) for arg in condition.args)
    if isinstance(condition, sympy.Or):
        return any(_truth(arg, env) for arg in condition.args)
    if isinstance(condition, sympy.Not):
        return not _truth(condition.args[0], env)
    raise _Undefined


def _number(expr: sympy.Number):
    if expr.is_Rational:
        return mpmath.mpf(int(expr.p)) / int(expr.q)
    return mpmath.mpf(expr._mpf_) if expr.is_Float else mpmath.mpf(str(expr))


def _value(expr: sympy.Expr, env: dict):
    """The value of a sympy expression tree at ``env`` (symbol -> mpmath number), computed
    with mpmath at the working precision (fast: no ``evalf`` per point)."""
    if expr.is_Symbol:
        return env[expr]
    if expr.is_Number:
        if expr.is_finite is False or expr is sympy.nan:
            raise _Undefined
        return _number(expr)
    if expr is sympy.E:
        return mpmath.e
    if expr is sympy.pi:
        return mpmath.pi
    if expr.is_Add:
        return _finite(mpmath.fsum(_value(arg, env) for arg in expr.args))
    if expr.is_Mul:
        out = mpmath.mpf(1)
        for arg in expr.args:
            out = _finite(out * _value(arg, env))
        return out
    if expr.is_Pow:
        return _pow(_value(expr.base, env), _value(expr.exp, env))
    func = expr.func
    if func is sympy.exp:
        x = _value(expr.args[0], env)
        if mpmath.re(x) > 700:
            raise _Undefined
        return mpmath.exp(x)
    if func is sympy.log:
        x = _value(expr.args[0], env)
        if x == 0:
            raise _Undefined
        return mpmath.log(x)
    if func is sympy.tanh:
        return mpmath.tanh(_value(expr.args[0], env))
    if func is sympy.Abs:
        return abs(_value(expr.args[0], env))
    if func is sympy.sign:
        x = _real(_value(expr.args[0], env))
        return mpmath.mpf((x > 0) - (x < 0))
    if func is sympy.Max:
        return max(_real(_value(arg, env)) for arg in expr.args)
    if func is sympy.Min:
        return min(_real(_value(arg, env)) for arg in expr.args)
    if func == SIGMA:
        x = _value(expr.args[0], env)
        return 1 / (1 + mpmath.exp(-x)) if mpmath.re(x) > -700 else mpmath.mpf(0)
    if func is sympy.Piecewise:
        for piece, condition in expr.args:
            if _truth(condition, env):
                return _value(piece, env)
        raise _Undefined
    subs = {symbol: sympy.Float(env[symbol], POINT_DIGITS) for symbol in expr.free_symbols}
    return mpmath.mpmathify(complex(expr.evalf(POINT_DIGITS, subs=subs)))


def value_at(expr: sympy.Expr, env: dict) -> float:
    """The real value of ``expr`` at ``env`` (symbol -> float), computed with
    :data:`POINT_DIGITS` digits and rounded to a float; raises ``_Undefined``."""
    with mpmath.workdps(POINT_DIGITS):
        try:
            value = float(_real(_value(expr, {s: mpmath.mpf(v) for s, v in env.items()})))
        except (OverflowError, ZeroDivisionError, ValueError, TypeError):
            raise _Undefined from None
    if not math.isfinite(value):
        raise _Undefined
    return value


#: values where formulas part: zero, ±1 (a margin of exactly 1, a threshold), halves
_SPECIAL = {
    "real": (0.0, 1.0, -1.0, 2.0, -2.0, 0.5, -0.5),
    "positive": (1.0, 2.0, 0.5, 3.0),
    "unit": (0.5, 0.25, 0.75),
}
#: the values of the discrete domains, gone through in turn at special points
_DISCRETE = {"sign": (1.0, -1.0), "binary": (1.0, 0.0)}
#: the styles of random points, in turn: plain draws, special values, large values (beyond
#: ±3, where sigmoids saturate), plain draws with ties between symbols, special values again
POINT_STYLES = ("plain", "special", "large", "tie", "special")


def _draw(domain: str, rng: random.Random, style: str = "plain") -> float:
    if domain == "binary":
        return float(rng.randint(0, 1))
    if domain == "sign":
        return rng.choice((-1.0, 1.0))
    if style == "special":
        return rng.choice(_SPECIAL[domain])
    if style == "large":
        if domain == "unit":
            return rng.choice((rng.uniform(0.001, 0.02), rng.uniform(0.98, 0.999)))
        size = rng.uniform(3.0, 20.0)
        return size if domain == "positive" else rng.choice((-size, size))
    if domain == "positive":
        return rng.uniform(0.1, 3.0)
    if domain == "unit":
        return rng.uniform(0.05, 0.95)
    return rng.uniform(-3.0, 3.0)


def _fits(value: float, domain: str) -> bool:
    return {
        "real": True, "positive": value > 0, "unit": 0 < value < 1,
        "binary": value in (0.0, 1.0), "sign": value in (-1.0, 1.0),
    }[domain]


def draw_point(domains: dict, rng: random.Random, style: str, turn: int = 0) -> dict:
    """A random point (symbol -> float) of the given style (:data:`POINT_STYLES`). Special
    points go through the special values in turn: the ``turn``-th time, symbol ``i`` takes
    value ``turn + i * (turn // n)`` of the ``n`` of its domain, so that first every symbol
    takes the same value (0 with 0, 1 with 1: ties, margins of exactly 1), then shifted ones.
    A discrete symbol (a sign, a bit) keeps its value while the others go through theirs,
    then the next: the ``j``-th one takes bit ``j`` of ``turn // period`` (``period`` the most
    special values of a domain), so that every special value meets every sign (y f = 0.5
    comes with y = +1, f = 0.5 and with y = -1, f = -0.5).
    Tie points set one symbol equal to another where the domains allow (x exactly at a
    threshold t, a score equal to a label)."""
    env = {symbol: _draw(domain, rng, style) for symbol, domain in domains.items()}
    if style == "special":
        period = max((len(_SPECIAL[d]) for d in domains.values() if d in _SPECIAL), default=1)
        discrete = 0
        for i, (symbol, domain) in enumerate(domains.items()):
            if domain in _SPECIAL:
                n = len(_SPECIAL[domain])
                env[symbol] = _SPECIAL[domain][(turn + i * (turn // n)) % n]
            elif domain in _DISCRETE:
                env[symbol] = _DISCRETE[domain][((turn // period) >> discrete) & 1]
                discrete += 1
    if style == "tie" and len(env) > 1:
        a, b = rng.sample(list(env), 2)
        if _fits(env[b], domains[a]):
            env[a] = env[b]
    return env


def _describe_point(env: dict) -> str:
    return ", ".join(f"{symbol} = {value:.4g}" for symbol, value in sorted(env.items(), key=lambda kv: kv[0].name))


def prove_zero(diff: sympy.Expr, seconds: float = PROOF_SECONDS) -> bool:
    """Whether sympy shows ``diff`` is identically zero within ``seconds`` of CPU time.

    Without a timer signal (a worker thread, Windows) only the cheap steps run, so a check
    never hangs."""
    try:
        with cpu_limit(seconds):
            if diff == 0:
                return True
            if not _has_timer():
                return False
            if sympy.count_ops(diff) <= 300 and sympy.expand(diff) == 0:
                return True
            return sympy.simplify(diff) == 0
    except (_Timeout, RecursionError):
        _check_budget()  # the whole check's budget may be spent too
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
    turns: dict[str, int] = {}
    for attempt in range(N_POINTS * 5):
        _check_budget()
        style = POINT_STYLES[attempt % len(POINT_STYLES)]
        turns[style] = turns.get(style, -1) + 1
        env = draw_point(domains, rng, style, turns[style])
        try:
            want = value_at(expected, env)
        except _Undefined:
            continue
        try:
            got = value_at(given, env)
        except _Undefined:
            return Verdict(
                "wrong", "random points",
                _("Not equivalent: at {point} the expected answer is {want:.6g}, but yours is "
                  "undefined there.").format(point=_describe_point(env), want=want),
            )
        if abs(got - want) > RTOL * max(1.0, abs(want)):
            return Verdict(
                "wrong", "random points",
                _("Not equivalent: at {point} the expected answer is {want:.6g}, yours is "
                  "{got:.6g}.").format(point=_describe_point(env), want=want, got=got),
            )
        agreed += 1
        if agreed >= N_POINTS:
            break
    if agreed < N_POINTS // 4:
        return Verdict("invalid", "", _("The expected answer could not be evaluated at enough points."))
    if prove_zero(expected - given, proof_seconds):
        return Verdict("correct", "proof", _("Correct: sympy proved your answer equal to the expected one."))
    return Verdict(
        "correct", "random points",
        _("Correct: sympy's simplification was inconclusive (or ran out of its {seconds:g} s), "
          "but your answer agrees with the expected one at {n} random points, zeros, ties and "
          "large values included.").format(seconds=proof_seconds, n=agreed),
    )


# --- arrays ---------------------------------------------------------------------------------

class Identity:
    """``I`` in an array answer: ``scale`` times the identity matrix of whatever size fits
    (``X.T @ X + lam * I``, ``(X^T X + λ I)^{-1}``)."""

    def __init__(self, scale=1.0):
        self.scale = scale

    def matrix(self, n: int) -> np.ndarray:
        return self.scale * np.eye(n)


class _Row(np.ndarray):
    """A transposed vector (``w.T``, ``wᵀ``): juxtaposed with a vector it is an inner product
    (``wᵀ x``), as in a textbook. Arithmetic keeps the mark (``λ/2 wᵀ w``)."""


class _Rows(np.ndarray):
    """A matrix written with a sample index (``x_i``): its rows one by one, each a vector, so
    ``x_iᵀ w`` and ``wᵀ x_i`` are ``X w`` (the transpose of one sample is the same sample)."""


def _transpose(value):
    if isinstance(value, _Rows):
        return value
    if np.ndim(value) == 1:
        return np.asarray(value).view(np.ndarray) if isinstance(value, _Row) else np.asarray(value).view(_Row)
    return np.transpose(value)


class _TextbookSum:
    """The value of ``Σ term`` (a sum over the first axis), remembering its term: a following
    ``+ t`` or ``- t`` whose ``t`` is indexed like the term (the same shape) joins the sum, as
    in ``Σ y log h + (1 − y) log(1 − h)``; anything else uses the value."""

    def __init__(self, term):
        self.term = term
        self.value = np.sum(term, axis=0)


def _identity_misuse() -> AnswerError:
    return AnswerError(_("I (the identity matrix) can only be scaled, added to a square matrix or "
                         "multiply a matrix."))

#: functions applied element by element (with numpy's broadcasting)
_ELEMENTWISE = {
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "tanh": np.tanh, "square": np.square,
    "maximum": np.maximum, "minimum": np.minimum, "logaddexp": np.logaddexp, "clip": np.clip,
    "multiply": np.multiply, "power": np.power, "divide": np.divide, "add": np.add,
    "subtract": np.subtract, "ones_like": np.ones_like, "zeros_like": np.zeros_like,
    "negative": np.negative, "reciprocal": lambda x: np.divide(1.0, x),
}
#: products and solves, each bounded by :func:`_guard_product` before it runs
_LINEAR_ALGEBRA = {
    "dot": np.dot, "matmul": np.matmul, "inner": np.inner, "outer": np.outer,
    "inv": np.linalg.inv, "solve": np.linalg.solve,
}
#: shape changes
_SHAPING = {"transpose": np.transpose, "diag": np.diag, "ravel": np.ravel, "flatten": np.ravel,
            "squeeze": np.squeeze}
_REDUCE = {
    "count_nonzero": np.count_nonzero, "sum": np.sum, "mean": np.mean, "prod": np.prod, "var": np.var, "std": np.std,
    "max": np.max, "min": np.min, "norm": np.linalg.norm,
}


def _guard_size(elements: int) -> None:
    if elements > MAX_ELEMENTS:
        raise AnswerError(_("refused: the answer builds an array of {n:,} elements.").format(n=elements))


def _guard_broadcast(*values) -> None:
    """Refuse before numpy allocates a huge broadcast result."""
    try:
        shape = np.broadcast_shapes(*(np.shape(v) for v in values))
    except ValueError:
        return  # numpy's own error message explains it
    _guard_size(math.prod(shape))


def _guard_flops(flops: int) -> None:
    if flops > MAX_FLOPS:
        raise AnswerError(_("refused: the answer needs {n:,} multiplications (at most {limit:,}).").format(
            n=flops, limit=MAX_FLOPS))


def _guard_product(name: str, args: list) -> None:
    """Bound the result size and the work of a product or a solve before numpy starts it."""
    shapes = [np.shape(a) for a in args]
    if name == "outer" and len(args) == 2:
        _guard_size(math.prod(shapes[0]) * math.prod(shapes[1]))
    elif name in ("inv", "solve") and shapes and len(shapes[0]) == 2:
        _guard_flops(shapes[0][0] ** 3)
    elif len(args) == 2:
        a, b = shapes
        _guard_size(math.prod(a[:-1]) * math.prod(b[1:] if len(b) > 1 else ()))
        _guard_flops(math.prod(a) * math.prod(b[1:] if len(b) > 1 else ()))


def _numeric(value):
    """Booleans (from comparisons) as 0.0 and 1.0 for arithmetic."""
    if isinstance(value, Identity) or isinstance(value, tuple):
        return value
    array = np.asarray(value)
    return array.astype(float) if array.dtype == bool else value


def _plain(value, what: str | None = None):
    """``value`` as a plain number or array; ``what`` receives it (a function's name), for
    the message when it is a shape."""
    if isinstance(value, _TextbookSum):
        return value.value
    if isinstance(value, Identity):
        raise _identity_misuse()
    if isinstance(value, tuple):
        raise AnswerError(_("a shape (x.shape) is a list of sizes: index it, e.g. x.shape[0], "
                            "before {what}.").format(what=what or _("this function")))
    return _numeric(value)


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
        if kw.arg in ("axis", "ddof"):
            value = _literal_int(kw.value)
            if value is None:
                raise AnswerError(_("{name}= takes a whole number, e.g. {name}=0.").format(name=kw.arg))
            out[kw.arg] = value
        elif kw.arg == "ord":
            value = _literal_int(kw.value)
            if value is None:
                raise AnswerError(_("ord= takes a whole number, e.g. norm(w, ord=1)."))
            out["ord"] = value
        elif kw.arg == "keepdims":
            if not (isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, bool)):
                raise AnswerError(_("keepdims= takes True or False."))
            out["keepdims"] = kw.value.value
    return out


def _whole(value, what: str) -> int:
    number = float(np.asarray(_plain(value))) if np.ndim(_plain(value)) == 0 else math.nan
    if not number.is_integer():
        raise AnswerError(_("{what} must be a whole number.").format(what=what))
    return int(number)


def _sizes(node: ast.AST, env: dict) -> tuple[int, ...]:
    """The shape argument of ones/zeros: a size or a tuple of sizes."""
    nodes = node.elts if isinstance(node, ast.Tuple) else [node]
    sizes = tuple(_whole(_eval(n, env), _("a size")) for n in nodes)
    if any(s < 0 for s in sizes):
        raise AnswerError(_("sizes cannot be negative."))
    _guard_size(math.prod(sizes))
    return sizes


def _einsum(args: list, node: ast.Call):
    subscripts, arrays = args[0], [_plain(a) for a in args[1:]]
    if not isinstance(subscripts, str) or not arrays:
        raise AnswerError(_("einsum takes its subscripts in quotes, then the arrays: einsum('ij,j->i', X, w)."))
    inputs = subscripts.replace(" ", "").split("->")[0].split(",")
    if len(inputs) != len(arrays) or any(len(s) != np.ndim(a) for s, a in zip(inputs, arrays)):
        raise AnswerError(_("einsum: the subscripts do not match the arrays' dimensions."))
    sizes = {}
    for letters, array in zip(inputs, arrays):
        sizes.update(zip(letters, np.shape(array)))
    _guard_flops(math.prod(sizes.values()) * len(arrays))
    return np.einsum(subscripts, *arrays, optimize=False)


def _call(name: str, node: ast.Call, first, env: dict):
    """Call a whitelisted function; ``first`` is the object of a method call, if any."""
    kwargs = _keywords(node)
    rest = list(node.args)
    if name in _REDUCE:
        if name in ("max", "min") and first is None and len(rest) == 2 and not kwargs:
            # max(0, 1 - m): the maths meaning, elementwise (use axis= or .max(0) to reduce)
            a, b = (_plain(_eval(n, env)) for n in rest)
            _guard_broadcast(a, b)
            return (np.maximum if name == "max" else np.minimum)(a, b)
        if first is None:
            if not rest:
                raise AnswerError(_("{name} needs an argument.").format(name=name))
            first = _eval(rest.pop(0), env)
        args = [_plain(first, name)]
        if rest and name == "norm":
            order = rest.pop(0)
            if not isinstance(order, ast.Constant) or isinstance(order.value, bool) or rest:
                raise AnswerError(_("norm takes an array and optionally the order, a number: norm(w, 1)."))
            kwargs["ord"] = order.value
        if rest:
            axis = _literal_int(rest[0])
            if axis is None or len(rest) > 1 or "axis" in kwargs:
                raise AnswerError(_("{name}: the second argument is the axis, a whole number.").format(
                    name=name))
            kwargs["axis"] = axis
        if "ddof" in kwargs and name not in ("var", "std"):
            raise AnswerError(_("ddof= belongs to var and std."))
        if "ord" in kwargs and name != "norm":
            raise AnswerError(_("ord= belongs to norm."))
        return _REDUCE[name](*args, **kwargs)
    if kwargs:
        raise AnswerError(_("{name} takes no keyword arguments here.").format(name=name))
    if name == "reshape" and first is not None:
        sizes = [_literal_int(n) for n in rest[0].elts] if len(rest) == 1 and isinstance(rest[0], ast.Tuple) \
            else [_literal_int(n) for n in rest]
        if not sizes or None in sizes:
            raise AnswerError(_("reshape takes whole numbers, e.g. .reshape(-1, 1)."))
        return np.reshape(_plain(first), sizes)
    if name in ("ones", "zeros"):
        if len(rest) != 1:
            raise AnswerError(_("{name} takes one size or a tuple of sizes: {name}(N).").format(
                name=name))
        return (np.ones if name == "ones" else np.zeros)(_sizes(rest[0], env))
    if name == ROWS:
        value = _plain(_eval(rest[0], env))
        return np.asarray(value).view(_Rows) if np.ndim(value) == 2 else value
    if name in ("Σ", "Π"):
        rest, first = [], _eval(rest[0], {**env, _IN_SUM: True})
    args = ([] if first is None else [first]) + [_eval(n, env) for n in rest]
    if name in ("Σ", "Π"):
        term = _plain(args[0])
        if np.ndim(term) == 0:
            return term
        return _TextbookSum(term) if name == "Σ" else np.prod(term, axis=0)
    if name == "einsum":
        return _einsum(args, node)
    if name == "inv" and len(args) == 1 and isinstance(args[0], Identity):
        return Identity(1 / args[0].scale)
    args = [_plain(a, name) for a in args]
    if name == "len":
        if len(args) != 1 or np.ndim(args[0]) == 0:
            raise AnswerError(_("len takes one array."))
        return np.float64(len(args[0]))
    if name == "factorial":
        n = _whole(args[0], _("a factorial's argument")) if len(args) == 1 else -1
        if not 0 <= n <= MAX_FACTORIAL:
            raise AnswerError(_("refused: only factorials of whole numbers up to {n} are computed.").format(
                n=MAX_FACTORIAL))
        return np.float64(math.factorial(n))
    if name == "sigma":
        if len(args) != 1:
            raise AnswerError(_("sigma takes one argument."))
        return 1.0 / (1.0 + np.exp(-np.asarray(args[0], dtype=float)))
    if name == "indicator":
        if len(args) != 1:
            raise AnswerError(_("the indicator I(...) takes one condition."))
        return np.asarray(args[0], dtype=float)
    if name == "where":
        if len(args) != 3:
            raise AnswerError(_("where takes three arguments: where(condition, a, b)."))
        _guard_broadcast(*args)
        return np.where(np.asarray(args[0]) != 0, args[1], args[2])
    if name == "eye":
        size = float(np.asarray(args[0])) if len(args) == 1 and np.ndim(args[0]) == 0 else -1.0
        if not (size.is_integer() and 1 <= size <= 1000):
            raise AnswerError(_("eye takes one whole number between 1 and 1000, e.g. eye(D)."))
        return np.eye(int(size))
    if name in _LINEAR_ALGEBRA:
        _guard_product(name, args)
        return _LINEAR_ALGEBRA[name](*args)
    if name in _SHAPING:
        if name == "diag" and args and np.ndim(args[0]) == 1:
            _guard_size(np.size(args[0]) ** 2)
        return _SHAPING[name](*args)
    _guard_broadcast(*args)
    return _ELEMENTWISE[name](*args)


def _identity_op(op: ast.operator, left, right):
    """Arithmetic with ``I``: scaling, adding to a square matrix, multiplying a matrix."""
    if isinstance(left, Identity) and isinstance(right, Identity):
        if isinstance(op, (ast.Add, ast.Sub)):
            return Identity(left.scale + right.scale if isinstance(op, ast.Add) else left.scale - right.scale)
        if isinstance(op, (ast.Mult, ast.MatMult, JUXTAPOSE)):
            return Identity(left.scale * right.scale)
        raise _identity_misuse()
    identity, other = (left, right) if isinstance(left, Identity) else (right, left)
    other = _plain(other)
    if np.ndim(other) == 0:
        if isinstance(op, (ast.Mult, ast.MatMult, JUXTAPOSE)) or (isinstance(op, ast.Div) and identity is left):
            return Identity(identity.scale * other if not isinstance(op, ast.Div) else identity.scale / other)
        if isinstance(op, ast.Pow) and identity is left:
            return Identity(identity.scale ** other)
        raise _identity_misuse()
    square = np.ndim(other) == 2 and other.shape[0] == other.shape[1]
    if isinstance(op, (ast.Add, ast.Sub)) and square:
        matrix = identity.matrix(other.shape[0])
        a, b = (matrix, other) if identity is left else (other, matrix)
        return a + b if isinstance(op, ast.Add) else a - b
    if isinstance(op, (ast.MatMult, JUXTAPOSE)):
        return identity.scale * other
    if isinstance(op, ast.Mult) and square:
        return other * identity.matrix(other.shape[0])
    raise _identity_misuse()


def _fits_matmul(a, b) -> bool:
    if not (1 <= np.ndim(a) <= 2 and 1 <= np.ndim(b) <= 2):
        return False
    return np.shape(a)[-1] == np.shape(b)[0]


#: a key of the arrays while the body of a textbook sum is evaluated (not a name a card can have)
_IN_SUM = "Σ"


def _textbook_product(a, b, in_sum: bool = False):
    """Juxtaposition on an array card, as in a textbook: a matrix product when one side is a
    matrix (``x W``, ``X^T (y - h)``, ``α G``) or the left side is a transposed vector
    (``w^T x``) and the sizes fit; a product element by element otherwise (``y (X w + b)``,
    ``λ w``, ``2 x``). In the body of a sum (``Σ α y x``, index notation: ``Σᵢ αᵢ yᵢ xᵢ``) a
    vector and a matrix indexed alike on their first axis multiply row by row."""
    if in_sum and sorted((np.ndim(a), np.ndim(b))) == [1, 2] and np.shape(a)[0] == np.shape(b)[0]:
        vector, matrix = (a, b) if np.ndim(a) == 1 else (b, a)
        _guard_size(np.size(matrix))
        return np.asarray(vector)[:, None] * matrix
    if np.ndim(a) == 1 and isinstance(b, _Rows) and np.shape(a)[0] == np.shape(b)[-1]:
        return _textbook_product(b, a)  # wᵀ x_i: one inner product a sample
    if (np.ndim(a) >= 2 or np.ndim(b) >= 2 or isinstance(a, _Row)) and _fits_matmul(a, b):
        _guard_product("matmul", [a, b])
        return np.matmul(a, b)
    _guard_broadcast(a, b)
    return np.multiply(a, b)


_BINARY = {
    ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide,
    ast.Pow: np.power,
}
_COMPARE = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater, ast.GtE: np.greater_equal,
    ast.Eq: np.equal, ast.NotEq: np.not_equal,
}


def _binary(node: ast.BinOp, left, right, in_sum: bool = False):
    if isinstance(left, _TextbookSum) and isinstance(node.op, (ast.Add, ast.Sub)) \
            and not isinstance(right, (_TextbookSum, Identity, tuple)) and np.shape(right) == np.shape(left.term):
        return _TextbookSum(left.term + _numeric(right) if isinstance(node.op, ast.Add) else left.term - _numeric(right))
    if isinstance(left, Identity) or isinstance(right, Identity):
        return _identity_op(node.op, left, right)
    left, right = _plain(left), _plain(right)
    if isinstance(node.op, JUXTAPOSE):
        return _textbook_product(left, right, in_sum)
    if isinstance(node.op, ast.MatMult):
        _guard_product("matmul", [left, right])
        return np.matmul(left, right)
    if isinstance(node.op, ast.Pow) and np.ndim(left) == 2 and np.ndim(right) == 0 and float(right) == -1:
        if left.shape[0] == left.shape[1]:  # A^{-1}: the inverse, as in a textbook
            _guard_product("inv", [left])
            return np.linalg.inv(left)
    _guard_broadcast(left, right)
    result = _BINARY[type(node.op)](left, right)
    if isinstance(node.op, ast.Pow) and np.ndim(result) == 0 and np.isinf(result) \
            and np.isfinite(left) and np.isfinite(right):
        raise AnswerError(_("refused: that power is too large to compute."))
    return result


def _index(node: ast.AST, env: dict):
    """One index of a subscript: a slice of whole numbers, None (a new axis), a whole number
    or a mask (a comparison)."""
    if isinstance(node, ast.Slice):
        parts = [None if n is None else _whole(_eval(n, env), _("a slice bound"))
                 for n in (node.lower, node.upper, node.step)]
        return slice(*parts)
    if isinstance(node, ast.Constant) and node.value is None:
        return None
    value = _eval(node, env)
    if isinstance(value, np.ndarray) and value.dtype == bool:
        return value
    return _whole(value, _("an index (or a mask such as w[pred != y])"))


def _subscript(node: ast.Subscript, env: dict):
    value = _eval(node.value, env)
    if isinstance(value, tuple):  # x.shape[0]
        return np.float64(value[_whole(_eval(node.slice, env), _("an index of a shape"))])
    value = _plain(value)
    parts = node.slice.elts if isinstance(node.slice, ast.Tuple) else [node.slice]
    index = tuple(_index(part, env) for part in parts)
    return np.asarray(value)[index if len(index) > 1 else index[0]]


def _eval(node: ast.AST, env: dict):
    """Evaluate a tree that :func:`parse_answer` accepted (array mode) on ``env``'s arrays."""
    _check_budget()
    if isinstance(node, ast.Expression):
        return _eval(node.body, env)
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, (bool, str)) or node.value is None else np.float64(node.value)
    if isinstance(node, ast.Name):
        if node.id in env:
            return env[node.id]
        if node.id == "e":
            return np.float64(math.e)
        if node.id == "pi":
            return np.float64(math.pi)
        if node.id == "I":
            return Identity()
        raise AnswerError(_("unknown name {name!r}.").format(name=node.id))
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, env)
        if isinstance(value, Identity):
            return Identity(-value.scale if isinstance(node.op, ast.USub) else value.scale)
        value = _plain(value)
        return np.negative(value) if isinstance(node.op, ast.USub) else np.positive(value)
    if isinstance(node, ast.BinOp):
        return _binary(node, _eval(node.left, env), _eval(node.right, env), _IN_SUM in env)
    if isinstance(node, ast.Compare):
        left = _plain(_eval(node.left, env))
        result = np.bool_(True)
        for op, comparator in zip(node.ops, node.comparators):
            right = _plain(_eval(comparator, env))
            _guard_broadcast(left, right, result)
            result = np.logical_and(result, _COMPARE[type(op)](left, right))
            left = right
        return np.asarray(result)
    if isinstance(node, ast.Attribute):
        value = _eval(node.value, env)
        if isinstance(value, Identity):
            return value
        if node.attr == "shape":
            return tuple(np.shape(_plain(value)))
        if node.attr == "size":
            return np.float64(np.size(_plain(value)))
        return _transpose(_plain(value))
    if isinstance(node, ast.Subscript):
        return _subscript(node, env)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name):
            return _call(node.func.id, node, None, env)
        return _call(node.func.attr, node, _eval(node.func.value, env), env)
    raise AnswerError(_("refused: {what} is not allowed.").format(what=type(node).__name__))


def _array_tree(text: str, card: Card) -> ast.Expression:
    return parse_answer(text, mode="array", names=card.array_names, functions=card.functions, forbid=card.forbid)


def _array_value(tree: ast.Expression, env: dict) -> np.ndarray:
    with np.errstate(all="ignore"):
        value = _eval(tree, env)
    if isinstance(value, _TextbookSum):
        value = value.value
    if isinstance(value, Identity):
        raise AnswerError(_("the answer is the identity matrix I alone: its size is unknown; write eye(D)."))
    if isinstance(value, (tuple, str)) or value is None:
        raise AnswerError(_("the answer must be a number or an array."))
    return np.asarray(value, dtype=float)


def evaluate_array(text: str, card: Card, env: dict):
    """Evaluate a numpy-style expression (typed, or from the card) on ``env``."""
    return _array_value(_array_tree(text, card), env)


def random_arrays(card: Card, rng: np.random.Generator, style: str = "normal") -> tuple[dict, dict[str, int]]:
    """Random inputs of the card's declared shapes and domains, then its derived arrays.

    Each dimension name gets its own size (2 to 9, distinct; 4 to 16 in integer and sparse
    draws, for more chances of a tie), so ``x @ W`` and ``x.T @ W``
    cannot both fit. ``style`` (:data:`ARRAY_DRAWS`): ``"normal"`` draws, ``"integer"``
    values (-2 to 2, so that ties and zeros occur, one zero and one tie with a threshold
    scalar at least), ``"sparse"`` ones (mostly 0, some ±1, scalars ±1: sums such as
    ``y (X w + b)`` are then often exactly 1), ``"large"`` values (ten times as spread)."""
    dims = card.dims
    choices = np.arange(4, 17) if style in ("integer", "sparse") else np.arange(2, 10)
    sizes = dict(zip(dims, (int(s) for s in rng.choice(choices, size=len(dims), replace=False))))
    env: dict = {name: np.float64(size) for name, size in sizes.items()}
    for name, shape in sorted(card.shapes.items(), key=lambda item: len(item[1])):  # scalars first
        shape = tuple(sizes[d] if isinstance(d, str) else d for d in shape)
        domain = card.domains.get(name, "real")
        if domain == "binary":
            value = rng.integers(0, 2, size=shape).astype(float)
        elif domain == "sign":
            value = rng.choice(np.array([-1.0, 1.0]), size=shape)
        elif style in ("integer", "sparse"):
            if domain == "positive":
                value = rng.integers(1, 4, size=shape).astype(float)
            elif domain == "unit":
                value = rng.choice(np.array([0.25, 0.5, 0.75]), size=shape)
            elif style == "integer":
                value = rng.integers(-2, 3, size=shape).astype(float)
            elif shape == ():  # an offset of ±1 over sparse inputs: margins of exactly 1
                value = rng.choice(np.array([-1.0, 1.0]))
            else:
                value = rng.choice(np.array([-1.0, 0.0, 1.0]), p=[0.3, 0.4, 0.3], size=shape)
            value = np.asarray(value)
            if domain == "real" and value.size >= 2:
                value.flat[rng.integers(value.size)] = 0.0  # a score of exactly 0
                thresholds = [v for n, v in env.items() if np.ndim(v) == 0 and n in card.shapes
                              and card.domains.get(n, "real") == "real"]
                if thresholds:  # x exactly at a threshold t
                    value.flat[rng.integers(value.size)] = float(rng.choice(thresholds))
        elif domain == "positive":
            value = rng.uniform(3.0, 20.0, size=shape) if style == "large" else rng.uniform(0.5, 2.0, size=shape)
        elif domain == "unit":
            value = rng.uniform(0.001, 0.999, size=shape) if style == "large" else rng.uniform(0.05, 0.95, size=shape)
        else:
            value = rng.standard_normal(size=shape) * (10.0 if style == "large" else 1.0)
        env[name] = np.float64(value) if shape == () else value
    for name, definition in card.derived.items():
        env[name] = np.asarray(evaluate_array(definition, card, env), dtype=float)
    return env, sizes


def _numpy_message(exc: Exception) -> str:
    text = str(exc)
    sizes = re.search(r"\(size (\d+) is different from (\d+)\)", text)
    if "mismatch in its core dimension" in text:
        if sizes:
            return _("the shapes do not fit for @ (size {size} is different from {other})").format(
                size=sizes.group(1), other=sizes.group(2))
        return _("the shapes do not fit for @ ")
    if text.startswith("operands could not be broadcast together"):
        rest = text[len("operands could not be broadcast together"):]
        shapes = re.fullmatch(r" with shapes (.*)", rest, re.S)
        if shapes:
            return _("the shapes cannot be broadcast together with shapes {shapes}").format(
                shapes=shapes.group(1))
        return _("the shapes cannot be broadcast together") + rest
    return text


def _draw_name(style: str) -> str:
    """The name of a draw of random arrays (``ARRAY_DRAWS``) in the learner's language."""
    return {"normal": _("normal"), "integer": _("integer"), "sparse": _("sparse"),
            "large": _("large")}.get(style, style)


def _dims_text(sizes: dict[str, int]) -> str:
    return ", ".join(f"{name}={size}" for name, size in sizes.items()) or _("scalars")


def compare_arrays(card: Card, text: str, *, seed: int | None = None) -> Verdict:
    """Evaluate the typed expression and the card's on the same random arrays
    (:data:`ARRAY_DRAWS`); compared where the expected values are finite."""
    tree = _array_tree(text, card)
    rng = np.random.default_rng(seed)
    used = 0
    for style in ARRAY_DRAWS:
        try:
            env, sizes = random_arrays(card, rng, style)
            expected = evaluate_array(card.answer_numpy, card, env)
        except (ValueError, ArithmeticError, np.linalg.LinAlgError):
            continue  # e.g. a singular matrix in this draw
        defined = np.isfinite(expected)
        if not defined.any():
            continue
        used += 1
        try:
            got = _array_value(tree, env)
        except AnswerError:
            raise  # a refusal (AnswerError is a ValueError), not a wrong answer
        except (ValueError, TypeError, IndexError, ArithmeticError, np.linalg.LinAlgError) as exc:
            return Verdict(
                "wrong", "random arrays",
                _("Not equivalent: on arrays of the declared shapes ({sizes}) your answer fails: "
                  "{error}").format(sizes=_dims_text(sizes), error=_numpy_message(exc)),
            )
        if got.shape != expected.shape:
            return Verdict(
                "wrong", "random arrays",
                _("Not equivalent: with {sizes} your answer has shape {got}, the expected one "
                  "{want}.").format(sizes=_dims_text(sizes), got=got.shape, want=expected.shape),
            )
        if not np.all(np.isfinite(got[defined])):
            return Verdict("wrong", "random arrays",
                           _("Not equivalent: your answer is undefined (not finite) where the "
                             "expected one is defined ({style} draw, {sizes}).").format(
                               style=_draw_name(style), sizes=_dims_text(sizes)))
        want = expected[defined]
        scale = 1.0 + float(np.max(np.abs(want))) if want.size else 1.0
        if not np.allclose(got[defined], want, rtol=RTOL * 10, atol=RTOL * scale):
            worst = float(np.max(np.abs(got[defined] - want))) if want.size else 0.0
            return Verdict(
                "wrong", "random arrays",
                _("Not equivalent: on random arrays ({style} draw, {sizes}) your values differ "
                  "from the expected ones by up to {worst:.3g}.").format(
                    style=_draw_name(style), sizes=_dims_text(sizes), worst=worst),
            )
    if used < 2:
        return Verdict("invalid", "", _("The expected answer could not be evaluated on enough random arrays."))
    return Verdict(
        "correct", "random arrays",
        _("Correct: your expression equals the expected one on {n} draws of random arrays of "
          "the declared shapes (integer draws with ties and zeros, and large values, "
          "included).").format(n=used),
    )


# --- the entry points -----------------------------------------------------------------------

def _check(card: Card, text: str, seed: int | None, proof_seconds: float) -> Verdict:
    if card.kind == "array":
        tree = _array_tree(text, card)
        verdict = compare_arrays(card, text, seed=seed)
        names = card.array_names
    else:
        table = card_symbols(card)
        tree = _formula_tree(text, card, table)
        given = _substitute_derived(_formula(tree, table), card, table)
        expected = _substitute_derived(expected_formula(card, table), card, table)
        domains = {table[name]: domain for name, domain in card.symbols.items()}
        verdict = compare_formulas(expected, given, domains, seed=seed, proof_seconds=proof_seconds)
        names = set(table)
    if _uses_euler(tree, names):
        return Verdict(verdict.status, verdict.method, verdict.message + _(" (e was read as Euler's number, 2.718…)"))
    return verdict


def check_answer(card: Card, text: str, *, seed: int | None = None, proof_seconds: float = PROOF_SECONDS,
                 cpu_seconds: float = ANSWER_CPU_SECONDS) -> Verdict:
    """Check a typed answer against ``card`` within ``cpu_seconds`` of CPU time; never raises
    for bad input (the verdict says)."""
    if card.kind == "display":
        return Verdict("unchecked", "", _("This card is not checked automatically: compare with the answer."))
    try:
        with cpu_limit(cpu_seconds):
            return _check(card, text, seed, proof_seconds)
    except _Timeout:
        return Verdict("invalid", "", _("refused: checking this answer needs more than {seconds:g} s "
                                        "of computation; type a simpler form.").format(
                                            seconds=cpu_seconds))
    except AnswerError as exc:
        return Verdict("invalid", "", str(exc))
    except RecursionError:
        return Verdict("invalid", "", _("The answer is nested too deeply."))
    except Exception as exc:  # noqa: BLE001 - a typed answer never ends a session with a traceback
        return Verdict("invalid", "", _("The answer could not be evaluated ({error}).").format(
            error=f"{type(exc).__name__}: {exc}"))


def check_request(line: str) -> dict:
    """One line of ``mlquiz check``: a JSON object ``{"card": ID, "answer": TEXT}`` in, the
    verdict out as a dict: ``card``, ``answer``, ``status`` (``correct``, ``wrong``,
    ``invalid``), ``method``, ``message`` and ``seconds``, the CPU time of the check. A
    malformed line, an unknown card or a display-only one is ``invalid``, with the reason."""
    started = time.process_time()
    try:
        request = json.loads(line)
    except ValueError as exc:
        request, problem = {}, _("not a JSON line ({error})").format(error=exc.msg)
    else:
        problem = ""
    if not problem and not (isinstance(request, dict) and isinstance(request.get("card"), str)
                            and isinstance(request.get("answer"), str)):
        problem = _("expected a JSON object {example} with two strings").format(
            example='{"card": ID, "answer": TEXT}')
    card_id, answer = request.get("card") if isinstance(request, dict) else None, None
    if isinstance(request, dict):
        answer = request.get("answer")
    card = None if problem else get_card(card_id)
    if card is None and not problem:
        problem = _("unknown card {card!r}").format(card=card_id)
    elif card is not None and card.kind == "display":
        problem = _("card {card} is display-only: its answer is not checked automatically").format(
            card=card_id)
    verdict = Verdict("invalid", "", problem) if problem else check_answer(card, answer)
    return {
        "card": card_id, "answer": answer, "status": verdict.status, "method": verdict.method,
        "message": verdict.message, "seconds": round(time.process_time() - started, 4),
    }


def pretty_answer(card: Card) -> str:
    """The answer for the terminal: the card's own textbook formula (``answer_latex``) as
    unicode text, never a computer algebra system's rearrangement of it."""
    return latex_to_text(card.answer_latex)


def warm_up() -> None:
    """Import and exercise what a first check needs (run in a background thread)."""
    x = sympy.Symbol("x", real=True)
    sympy.simplify(SIGMA(x).replace(SIGMA, _SIGMOID) - 1 / (1 + sympy.exp(-x)))
