"""The answer checker: notations accepted, wrong answers rejected, hostile input refused."""

import builtins
import re
import time
from pathlib import Path

import pytest

from mlquiz.cards import check
from mlquiz.cards.deck import Card, get_card
from mlquiz.cards.parse import AnswerError, parse_answer


def formula_card(answer, symbols, **extra):
    return Card(
        id="test.card", topic="backprop", question_en="q", question_zh="问题",
        answer_latex="x", answer_sympy=answer, symbols=symbols, **extra,
    )


def array_card(answer, shapes, **extra):
    return Card(
        id="test.card", topic="backprop", question_en="q", question_zh="问题",
        answer_latex="x", answer_numpy=answer, shapes=shapes, **extra,
    )


def verdict(card_id, text, **kwargs):
    return check.check_answer(get_card(card_id), text, seed=7, **kwargs)


# --- notations of issue 5 -------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    "1/(1+exp(-z))",
    "1/(1+e^(-z))",
    "1 / (1 + e^-z)",
    "(1 + e^(-z))^-1",
    "exp(z)/(1+exp(z))",
    r"\frac{1}{1+e^{-z}}",
    r"\frac{1}{1+\exp(-z)}",
    "g(z) = 1/(1+exp(-z))",
])
def test_sigmoid_notations_are_accepted(text):
    result = verdict("logistic_regression.sigmoid", text)
    assert result.correct, result.message


@pytest.mark.parametrize("text", [
    "sigma(z)*(1-sigma(z))",
    "sigma(z)(1 - sigma(z))",
    "σ(z)(1−σ(z))",
    "sigmoid(z) * sigmoid(-z)",
    "exp(-z)/(1+exp(-z))^2",
    r"\sigma(z)(1-\sigma(z))",
    r"\frac{e^{-z}}{(1+e^{-z})^2}",
])
def test_sigmoid_derivative_notations_are_accepted(text):
    result = verdict("backprop.sigmoid_prime", text)
    assert result.correct, result.message


@pytest.mark.parametrize("text", ["2x", "2 x", "2*x", "x + x", "x2", "(1+1)x", r"2 \cdot x", r"\frac{4x}{2}"])
def test_implicit_multiplication(text):
    card = formula_card("2*x", {"x": "real"})
    if text == "x2":  # not a product: an unknown name, and the message says so
        result = check.check_answer(card, text)
        assert result.status == "invalid" and "unknown name" in result.message
        return
    result = check.check_answer(card, text, seed=1)
    assert result.correct, result.message
    assert result.method == "proof"


def test_products_of_names_and_parentheses():
    card = formula_card("lam * w * (1 - w)", {"w": "real", "lam": "positive"})
    for text in ["lam w (1 - w)", "lamw(1-w)", "λw(1-w)", "w lam - lam w^2", "lambda_ * w * (1 - w)"]:
        result = check.check_answer(card, text, seed=2)
        if text == "lambda_ * w * (1 - w)":
            assert result.status == "invalid"
        else:
            assert result.correct, (text, result.message)


def test_absolute_value_bars():
    card = get_card("l1.soft_threshold")
    assert check.check_answer(card, "sign(w) max(|w| - t, 0)", seed=3).correct
    assert check.check_answer(card, "max(||w| - t|, 0) sign(w)", seed=3).status == "wrong"


def test_left_hand_side_is_ignored():
    assert verdict("l2.grad", "d/dw = lam * w").correct
    assert verdict("l2.grad", "grad = lam * w").correct
    assert verdict("backprop.dense_dw", "dW = x.T @ dz").correct


# --- proof or random points -----------------------------------------------------------------

def test_the_verdict_says_how_it_decided():
    proved = verdict("logistic_regression.sigmoid_grad", "e^(-z)/(1+e^(-z))^2")
    assert proved.correct and proved.method == "proof"
    assert "proved" in proved.message
    sampled = verdict("l1.soft_threshold", "max(w - t, 0) - max(-w - t, 0)")
    assert sampled.correct and sampled.method == "random points"
    assert "random points" in sampled.message
    arrays = verdict("bn_backward.dbeta", "dout.sum(0)")
    assert arrays.correct and arrays.method == "random arrays"


def test_labels_are_drawn_from_their_domain():
    # y h + (1 - y)(1 - h) equals h^y (1 - h)^(1 - y) only for y in {0, 1}
    result = verdict("logistic_regression.probability", "y*h + (1 - y)*(1 - h)")
    assert result.correct and result.method == "random points"


def test_a_hanging_simplification_is_cut_short(monkeypatch):
    def hang(*args, **kwargs):
        while True:  # burns CPU: the limit is CPU time, not wall time
            pass

    monkeypatch.setattr(check.sympy, "simplify", hang)
    card = formula_card("exp(-z)/(1 + exp(-z))**2", {"z": "real"})
    started = time.process_time()
    result = check.check_answer(card, "sigma(z)*(1 - sigma(z))", proof_seconds=0.3)
    elapsed = time.process_time() - started
    assert result.correct and result.method == "random points"
    assert "inconclusive" in result.message
    assert elapsed < 1.0


def test_checks_are_fast():
    slowest = 0.0
    for card_id, text in [
        ("adaboost.alpha", "0.5*ln((1-e_m)/e_m)"),
        ("priors.gaussian_density", "1/(sigma sqrt(2 pi)) exp(-w^2/(2 sigma^2))"),
        ("taylor.split_gain", "0.5*(GL^2/(HL+lam) + GR^2/(HR+lam) - (GL+GR)^2/(HL+HR+lam)) - gamma"),
        ("bn_backward.dx_compact", "gamma/(N*sqrt(var+eps)) * (N*dout - dout.sum(0) - x_hat*(dout*x_hat).sum(0))"),
        ("logistic_regression.sigmoid", r"\frac{1}{1+e^{-z}}"),
    ]:
        started = time.perf_counter()
        assert verdict(card_id, text).correct
        slowest = max(slowest, time.perf_counter() - started)
    assert slowest < 1.0


# --- wrong answers --------------------------------------------------------------------------

@pytest.mark.parametrize("card_id, text", [
    ("logistic_regression.sigmoid", "1/(1+exp(z))"),
    ("logistic_regression.sigmoid", r"\frac{1}{1-e^{-z}}"),
    ("backprop.sigmoid_prime", "sigma(z)*(1+sigma(z))"),
    ("adaboost.alpha", "log((1-e_m)/e_m)"),
    ("l2.weight_decay_step", "w - eta*g"),
])
def test_wrong_formulas_are_rejected_with_a_counterexample(card_id, text):
    result = verdict(card_id, text)
    assert result.status == "wrong"
    assert "expected answer is" in result.message


@pytest.mark.parametrize("card_id, text, expected", [
    ("backprop.dense_dw", "x.T @ dz", "correct"),
    ("backprop.dense_dw", "dz.T @ x", "wrong"),
    ("backprop.dense_dw", "x @ dz", "wrong"),
    ("bn_backward.dgamma", "sum(dout * x_hat, axis=0)", "correct"),
    ("bn_backward.dgamma", "np.sum(dout * x_hat, 0)", "correct"),
    ("bn_backward.dgamma", "sum(dout * x_hat)", "wrong"),
    ("bn_backward.dgamma", "sum(dout * x_hat, axis=1)", "wrong"),
    ("bn_backward.dbeta", "dout.sum(0)", "correct"),
    ("bn_backward.dbeta", "dout.sum(axis=0)", "correct"),
    ("bn_backward.dbeta", "dout.mean(0)", "wrong"),
    ("bn_backward.dx_hat", "dout * gamma", "correct"),
    ("svm_primal.objective", "0.5 * w @ w + C * sum(max(0, 1 - y * (X @ w + b)))", "correct"),
])
def test_array_answers(card_id, text, expected):
    result = verdict(card_id, text)
    assert result.status == expected, result.message


def test_a_transposition_is_caught_by_distinct_sizes():
    result = verdict("backprop.dense_dx", "dz @ W")
    assert result.status == "wrong"
    assert "do not fit" in result.message


def test_derived_names_may_be_used():
    # mu and var are defined by the card from x
    assert verdict("bn_forward.x_hat", "(x - mu) / sqrt(var + eps)").correct
    assert verdict("bn_forward.x_hat", "(x - x.mean(0)) / sqrt(x.var(0) + eps)").correct
    assert verdict("taylor.g_logistic", "p - y").correct
    assert verdict("taylor.g_logistic", "1/(1+exp(-y_hat)) - y").correct


# --- hostile input: refused, and nothing runs -----------------------------------------------

def hostile_inputs(marker: Path) -> list[str]:
    return [
        f"__import__('os').system('touch {marker}')",
        f'__import__("os").system("touch {marker}")',
        "__import__",
        "().__class__.__bases__[0].__subclasses__()",
        "z.__class__",
        "x.T.__class__",
        "z.real",
        "lambda: 1",
        "lambda z: z",
        "import os",
        "exec",
        f"exec('open(\"{marker}\", \"w\")')",
        f"eval('1')",
        f"open('{marker}', 'w')",
        "globals()",
        "__builtins__",
        "[c for c in (1,)]",
        "z if z else z",
        "9**9**9**9",
        "2^(2^(2^(2^10)))",
        "x; import os",
        "np.load",
        "np.save(x)",
        "numpy.__dict__",
        f"\\input{{{marker}}}",
        f"\\immediate\\write18{{touch {marker}}}",
        "z" * 500,
    ]


@pytest.mark.parametrize("card_id", ["logistic_regression.sigmoid", "backprop.dense_dw"])
def test_hostile_input_is_refused_and_does_not_run(card_id, tmp_path):
    marker = tmp_path / "marker"
    for text in hostile_inputs(marker):
        result = check.check_answer(get_card(card_id), text)
        assert result.status in ("invalid", "wrong"), (text, result)
        assert result.message, text
        assert not result.correct
        assert not marker.exists(), text


@pytest.mark.parametrize("text, reason", [
    ("__import__('os')", "double underscores"),
    ("os.system('ls')", "unknown name 'os'"),
    ("z + 'ls'", "quotes"),
    ("__import__", "double underscores"),
    ("z.real", "attribute access"),
    ("lambda: 1", "unknown name 'lambda'"),
    ("import os", "keyword"),
    ("open(z)", "unknown name"),
    ("9**9**9**9", "too large"),
    (r"\input{/etc/passwd}", "not supported"),
])
def test_refusals_say_why(text, reason):
    result = verdict("logistic_regression.sigmoid", text)
    assert result.status == "invalid"
    assert reason in result.message


def test_array_attribute_access_is_limited():
    card = get_card("backprop.dense_dw")
    for text in ["x.base", "x.tofile", "x.T.ctypes", "x.__array__()", "x.sum.__self__"]:
        result = check.check_answer(card, text)
        assert result.status == "invalid" and "refused" in result.message, text


def test_typed_text_never_reaches_eval(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval or exec was called")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    card = get_card("backprop.sigmoid_prime")
    table = check.card_symbols(card)
    expr = check.parse_formula("sigma(z)*(1 - sigma(z)) + 0.5 - 1/2", card, table)
    assert expr.free_symbols == {table["z"]}
    parse_answer("x.T @ dz", mode="array", names={"x", "dz"})
    with pytest.raises(AnswerError):
        parse_answer("__import__('os')", mode="scalar", names={"z"})


def test_the_checker_source_has_no_eval():
    for name in ("parse.py", "check.py"):
        source = (Path(check.__file__).parent / name).read_text()
        code = "\n".join(line for line in source.splitlines() if not line.strip().startswith("#"))
        assert not re.search(r"(?<![\w.])(eval|exec|compile|sympify|parse_expr|__import__)\s*\(", code), name


def test_display_only_cards_are_not_checked():
    result = check.check_answer(get_card("svm_dual.kkt"), "alpha >= 0")
    assert result.status == "unchecked"


def test_latex_is_read_on_array_cards_too():
    assert verdict("backprop.dense_dw", r"x^{\top} dz").correct
    assert verdict("backprop.dense_dw", r"dz^{\top} x").status == "wrong"


def test_the_answer_shown_is_the_cards_own_textbook_formula():
    for card_id, shown in [
        ("logistic_regression.sigmoid", "1/(1 + e⁻ᶻ)"),
        ("backprop.dense_dw", "xᵀ ∂C/∂z"),
        ("l1.soft_threshold", "sign(w) max(|w| - t, 0)"),
        ("adaboost.factor_correct", "√(eₘ/(1 - eₘ))"),
    ]:
        assert check.pretty_answer(get_card(card_id)) == shown


@pytest.mark.parametrize("card_id, text", [
    ("backprop.dense_dw", "outer(outer(x, dz), outer(x, dz))"),
    ("backprop.dense_dw", "outer(x, x) * outer(dz, dz).sum() + outer(outer(x, x), x)"),
    ("l2.grad", "lam" * 100),
    ("l2.grad", "w" * 24),
    ("l2.grad", "(" * 150 + "w" + ")" * 150),
    ("l2.grad", "(w + 1)^1000 - (w + 1)^999 * (w + 1)"),
    ("logistic_regression.sigmoid", r"\frac{1}{" * 25 + "z" + "}" * 25),
    ("logistic_regression.sigmoid", "exp(exp(exp(exp(exp(z)))))"),
])
def test_expensive_answers_are_bounded(card_id, text):
    started = time.perf_counter()
    result = verdict(card_id, text)
    assert time.perf_counter() - started < 1.5
    assert result.message and not result.correct
    if text.startswith("outer(outer"):
        assert result.status == "invalid" and "elements" in result.message
