"""The answer checker: notations accepted, wrong answers rejected, hostile input refused."""

import builtins
import json
import os
import re
import select
import subprocess
import sys
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


@pytest.mark.parametrize("domain, values", [("sign", (1.0, -1.0)), ("binary", (1.0, 0.0))])
def test_every_special_value_meets_every_sign_and_bit(domain, values):
    """Special points go through each special value of a real symbol once with each value of
    a discrete one (a label y), within the first fourteen: an answer that parts from the
    expected one only at y f = 0.5 meets y = +1, f = 0.5 and y = -1, f = -0.5."""
    y, f = check.sympy.symbols("y f")
    rng = check.random.Random(0)
    met = {(point[y], point[f]) for point in
           (check.draw_point({y: domain, f: "real"}, rng, "special", turn) for turn in range(14))}
    assert met == {(label, value) for label in values for value in check._SPECIAL["real"]}


@pytest.mark.parametrize("card_id, text", [
    ("svm_primal.hinge", "(1 - y f) I(y f <= 0)"),  # parts from max(0, 1 - y f) only for 0 < y f < 1
    ("svm_primal.hinge", "max(0, 1 - y f) + I(y f > 0) I(y f < 1) (y f - 1) / 2"),
])
def test_an_answer_wrong_only_between_a_margin_of_0_and_1_is_rejected_on_every_seed(card_id, text):
    card = get_card(card_id)
    accepted = [seed for seed in range(400)
                if check.check_answer(card, text, seed=seed, proof_seconds=0.0).correct]
    assert accepted == []


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
        "eval('1')",
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


# --- textbook notations (cards of this file's own, so that the deck may change) -----------------

MATRIX = {"A": ["N", "K"], "B": ["K", "M"], "c": ["M"]}
LEAST_SQUARES = {"A": ["N", "K"], "u": ["N"], "s": []}


@pytest.mark.parametrize("expected, shapes, text", [
    ("A @ B + c", MATRIX, "A B + c"),  # juxtaposed matrices: a matrix product
    ("A @ B + c", MATRIX, "c + A B"),
    ("A.T @ u", LEAST_SQUARES, "A.T u"),
    ("A.T @ u", LEAST_SQUARES, "A^T u"),
    ("A.T @ u", LEAST_SQUARES, "Aᵀ u"),
    ("A.T @ u", LEAST_SQUARES, r"A^{\top} u"),
    ("A.T @ u", LEAST_SQUARES, r"A^{T}u"),
    ("A.T @ (u - s)", LEAST_SQUARES, "A^T (u - s)"),
    ("A.T @ (u - s)", LEAST_SQUARES, "(u - s) A"),
    ("u @ u", LEAST_SQUARES, "uᵀu"),  # a transposed vector times a vector: the inner product
    ("s / 2 * (u @ u)", LEAST_SQUARES, "s/2 u^T u"),
    ("s * u", LEAST_SQUARES, "s u"),  # a scalar: elementwise
    ("u * (A @ (A.T @ u))", LEAST_SQUARES, "u ⊙ (A Aᵀ u)"),
    ("u * (A @ (A.T @ u))", LEAST_SQUARES, "u (A A^T u)"),  # two vectors: elementwise
])
def test_juxtaposition_and_transposes_on_array_cards(expected, shapes, text):
    result = check.check_answer(array_card(expected, shapes), text, seed=1)
    assert result.correct, (text, result.message)


@pytest.mark.parametrize("expected, shapes, text", [
    ("A @ B + c", MATRIX, "B A + c"),
    ("A @ B + c", MATRIX, "A * B + c"),
    ("A.T @ u", LEAST_SQUARES, "A u"),
    ("u * (A @ (A.T @ u))", LEAST_SQUARES, "u^T (A A^T u)"),
])
def test_wrong_products_are_rejected(expected, shapes, text):
    assert check.check_answer(array_card(expected, shapes), text, seed=1).status == "wrong", text


@pytest.mark.parametrize("expected, text", [
    ("sqrt(sum(v**2))", "||v||"),
    ("sqrt(sum(v**2))", "‖v‖"),
    ("sqrt(sum(v**2))", r"\|v\|"),
    ("sqrt(sum(v**2))", r"\left\| v \right\|"),
    ("sqrt(sum(v**2))", "norm(v)"),
    ("sqrt(sum(v**2))", "np.linalg.norm(v)"),
    ("k * sum(v**2) / 2", "½ k ||v||²"),
    ("k * sum(v**2) / 2", r"\frac{k}{2}\lVert v \rVert^2"),
    ("sum(abs(v)) + k", "||v||_1 + k"),
    ("sum(abs(v)) + k", "‖v‖₁ + k"),
    ("sum(abs(v)) + k", r"\sum |v| + k"),
    ("sum(abs(v)) + k", "Σ|v| + k"),
])
def test_norms_and_sums(expected, text):
    card = array_card(expected, {"v": ["K"], "k": []})
    result = check.check_answer(card, text, seed=2)
    assert result.correct, (text, result.message)
    assert check.check_answer(card, text.replace("v", "(2 v)", 1), seed=2).status == "wrong"


def test_absolute_bars_are_not_a_norm():
    card = formula_card("abs(abs(a) - b)", {"a": "real", "b": "positive"})
    assert check.check_answer(card, "||a| - b|", seed=1).correct
    assert check.check_answer(card, "|a||b|", seed=1).status == "wrong"


@pytest.mark.parametrize("text", [
    "(A^T A + s I)^{-1} A^T u",
    "inv(A.T @ A + s * np.identity(K)) @ A.T @ u",
    "np.linalg.solve(A.T A + s eye(K), A.T u)",
    "np.linalg.solve(A.T @ A + s * np.eye(A.shape[1]), A.T @ u)",
    r"\left(A^{\top} A + s I\right)^{-1} A^{\top} u",
])
def test_the_identity_and_the_inverse(text):
    card = array_card("solve(A.T @ A + s * eye(K), A.T @ u)", LEAST_SQUARES, domains={"s": "positive"})
    result = check.check_answer(card, text, seed=3)
    assert result.correct, (text, result.message)


def test_the_identity_alone_is_refused():
    card = array_card("solve(A.T @ A + s * eye(K), A.T @ u)", LEAST_SQUARES, domains={"s": "positive"})
    assert "identity" in check.check_answer(card, "s I", seed=3).message
    assert check.check_answer(card, "(A^T A + s I)^{-1} A u", seed=3).status == "wrong"


@pytest.mark.parametrize("text", [
    "½√a + b²", r"\frac{1}{2}\sqrt{a} + b^2", "sqrt(a)/2 + b^2", "0.5 np.sqrt(a) + np.square(b)",
    "np.power(a, 0.5) / 2 + np.power(b, 2)", "√a/2 + b b", "½√𝐚 + 𝐛²", r"\frac{\sqrt{\vec{a}}}{2} + \mathbf{b}^2",
])
def test_unicode_and_numpy_spellings_of_a_formula(text):
    card = formula_card("sqrt(a) / 2 + b**2", {"a": "positive", "b": "real"})
    result = check.check_answer(card, text, seed=4)
    assert result.correct, (text, result.message)


@pytest.mark.parametrize("text", [
    "β₁ κ_j + σ_n", "beta_1 kappa_j + sigma_n", r"\beta_{1}\kappa_{j} + \sigma_n", "β_1 κ_j + σ_n",
    "kappa_j*beta_1 + sigma_n",
])
def test_greek_letters_with_subscripts(text):
    card = formula_card("beta_1 * kappa_j + sigma_n", {"beta_1": "real", "kappa_j": "real", "sigma_n": "positive"})
    result = check.check_answer(card, text, seed=5)
    assert result.correct, (text, result.message)


@pytest.mark.parametrize("text", ["lambda mu", "λμ", "λ μ", r"\lambda\mu", "lambda * mu", "lmbda mu", "λµ",
                                  "ｌａｍ * ｍｕ"])
def test_spelled_lambda_is_the_greek_letter(text):
    card = formula_card("lam * mu", {"lam": "positive", "mu": "real"})
    assert check.check_answer(card, text, seed=5).correct, text


@pytest.mark.parametrize("text", [
    "np.log1p(np.exp(-a)) * np.sign(b)", "np.multiply(np.log(1 + np.exp(-a)), sgn(b))",
    "math.log(1 + math.exp(-a)) * sign(b)", r"\log(1 + e^{-a}) \operatorname{sign}(b)",
    r"\ln\left(1 + \exp(-a)\right) \mathrm{sgn}(b)",
    r"\log(1 + e^{-a})\,\operatorname{sgn} b",
])
def test_numpy_spellings_on_a_scalar_card(text):
    card = formula_card("log(1 + exp(-a)) * sign(b)", {"a": "real", "b": "real"})
    result = check.check_answer(card, text, seed=6)
    assert result.correct, (text, result.message)


@pytest.mark.parametrize("expected, text", [
    ("sum(q * (u != v))", "q[u != v].sum()"),  # indexing with a mask
    ("sum(q * (u != v))", "np.sum(q[u != v])"),
    ("sum(q * (u != v))", "sum(q * I(u != v))"),  # the indicator
    ("sum(q * (u != v))", r"\sum q \mathbb{1}(u \ne v)"),
    ("sum(q * (u != v))", r"\sum_{i} q_i \mathbb{1}_{\{u_i \ne v_i\}}"),
    ("sum(q * (u == v))", "Σ q 𝟙[u = v]"),
    ("sum(q * (u != v))", "q @ (u != v)"),
    ("sum(q) / N", "np.mean(q)"),
    ("sum(q) / N", "q.sum() / len(q)"),
    ("sum(q) / N", "q.sum() / q.shape[0]"),
    ("sum(q) / N", "np.ones(N) @ q / N"),
    ("sum(q) / N", "np.einsum('i->', q) / N"),
    ("sum((q - q.mean())**2) / (N - 1)", "np.var(q, ddof=1)"),
    ("sum((q - q.mean())**2) / (N - 1)", "q.std(ddof=1)**2"),
    ("sum(q[:, None] * P, axis=0)", "q @ P"),
    ("sum(q[:, None] * P, axis=0)", "(q[:, None] * P).sum(0)"),
    ("sum(q[:, None] * P, axis=0)", "np.einsum('n,nk->k', q, P)"),
])
def test_numpy_indexing_and_helpers(expected, text):
    card = array_card(expected, {"q": ["N"], "u": ["N"], "v": ["N"], "P": ["N", "K"]},
                      domains={"u": "sign", "v": "sign"})
    result = check.check_answer(card, text, seed=7)
    assert result.correct, (text, result.message)


@pytest.mark.parametrize("text", [
    r"\left[1 + e^{-z}\right]^{-1}", r"\frac{1}{1 + \exp\left(-z\right)}", r"\dfrac{1}{1+e^{-z}}",
])
def test_latex_brackets(text):
    assert verdict("logistic_regression.sigmoid", text).correct, text


def test_latex_bars_sign_and_indicator():
    card = formula_card("sign(a) * max(abs(a) - b, 0)", {"a": "real", "b": "positive"})
    for text in [r"\operatorname{sign}(a)\max(\lvert a \rvert - b, 0)",
                 r"\operatorname{sign}(a) \max\left(\left|a\right| - b, 0\right)",
                 r"\operatorname{sign}(a) (|a| - b) \mathbb{1}(|a| > b)",
                 "sign(a) (|a| - b) I(|a| > b)"]:
        result = check.check_answer(card, text, seed=8)
        assert result.correct, (text, result.message)


@pytest.mark.parametrize("text, status", [
    ("½ log 2πa²", "correct"),  # a function without parentheses takes the factors written together
    (r"\frac{1}{2}\log 2\pi a^2", "correct"),
    ("½ log(2π) a²", "wrong"),
    ("√2π a", "wrong"),  # but √ only the next one
])
def test_functions_without_parentheses(text, status):
    card = formula_card("log(2 * pi * a**2) / 2", {"a": "positive"})
    assert check.check_answer(card, text, seed=1).status == status, text


def test_e_is_a_cards_variable_where_it_has_one():
    card = formula_card("log(e_k) - e_k", {"e_k": "unit"})
    assert check.check_answer(card, "log(e) - e", seed=1).correct
    assert check.check_answer(card, r"\ln e_{k} - e_{k}", seed=1).correct
    euler = check.check_answer(formula_card("exp(-a)", {"a": "real"}), "e^(-2a)", seed=1)
    assert euler.status == "wrong" and "Euler's number" in euler.message
    both = formula_card("(1 - e_k) * exp(-a) + e_k * exp(a)", {"e_k": "unit", "a": "real"})
    for text in [r"(1 - e_k) e^{-a} + e_k e^{a}", "(1 − e) e^(−a) + e e^a"]:  # e raised: Euler's
        assert check.check_answer(both, text, seed=1).correct, text


@pytest.mark.parametrize("expected, text", [
    ("sum(q * log(r) + (1 - q) * log(1 - r))", "Σ q log r + (1 − q) log(1 − r)"),  # the sum runs on
    ("sum(q * log(r) + (1 - q) * log(1 - r))", r"\sum_{i=1}^{N} q_i \log r_i + (1 - q_i)\log(1 - r_i)"),
    ("sum(q * log(r) + (1 - q) * log(1 - r))", "Σ_i [q log r + (1 - q) log(1 - r)]"),
    ("prod(r**q)", "Π r^q"),
    ("prod(r**q)", r"\prod_{i} r_i^{q_i}"),
    ("sum((q - r)**2) + N", "Σ (q − r)² + N"),  # a scalar after it does not join the sum
    ("mean(q)", "q̄"),
    ("mean(q)", r"\bar{q}"),
    ("sum(maximum(0, 1 - q))", "Σ (1 - q)_+"),
    ("sum(maximum(0, 1 - q))", "Σ [1 - q]_+"),
    ("P.T @ (q * r)", "Σ q r P"),  # in a sum, vectors and a matrix indexed alike: row by row
    ("P.T @ (q * r)", r"\sum_{i=1}^{N} q_i r_i P_i"),
    ("P.T @ (q * r)", "P^T (q ⊙ r)"),
])
def test_textbook_sums_bars_and_positive_parts(expected, text):
    card = array_card(expected, {"q": ["N"], "r": ["N"], "P": ["N", "K"]}, domains={"q": "binary", "r": "unit"})
    result = check.check_answer(card, text, seed=9)
    assert result.correct, (text, result.message)


@pytest.mark.parametrize("text, status", [
    (r"\frac{1}{2}\sum_{i=1}^{N}(u_i - a_i^{\top} v)^2", "correct"),  # a_i: the i-th row of A
    ("½ Σ (u_i − v^T a_i)²", "correct"),
    ("½ Σ (u − A v)²", "correct"),
    ("½ Σ (u − A^T v)²", "wrong"),  # without the index, A^T is a transpose: the sizes do not fit
])
def test_index_notation_reads_rows(text, status):
    card = array_card("0.5 * sum((u - A @ v)**2)", {"A": ["N", "K"], "u": ["N"], "v": ["K"]})
    result = check.check_answer(card, text, seed=10)
    assert result.status == status, (text, result.message)


@pytest.mark.parametrize("text", [
    r"\sigma(h^{l-1} V^{l} + c^{l})", r"\sigma\left(h^{(t)} V^{(t)} + c^{(t)}\right)", "σ(h^L V^L + c^L)",
    r"\sigma(h^{l-1}_{n} V^{l} + c^{l})",
])
def test_superscripts_that_are_no_names_label_a_layer_or_a_step(text):
    card = array_card("sigma(h @ V + c)", {"h": ["N", "K"], "V": ["K", "M"], "c": ["M"]})
    result = check.check_answer(card, text, seed=11)
    assert result.correct, (text, result.message)
    assert check.check_answer(card, text.replace("V", "V^2", 1), seed=11).status != "correct"


def test_a_superscript_that_is_a_name_stays_a_power():
    card = formula_card("h**y * (1 - h)**(1 - y)", {"h": "unit", "y": "binary"})
    assert check.check_answer(card, r"h^{y}(1 - h)^{1 - y}", seed=1).correct
    assert check.check_answer(card, "h^y (1 - h)", seed=1).status == "wrong"


def test_a_prime_is_a_transpose_on_array_cards_only():
    assert check.check_answer(array_card("A.T @ u", LEAST_SQUARES), "A' u", seed=1).correct
    assert check.check_answer(array_card("A.T @ u", LEAST_SQUARES), "A' u'", seed=1).correct
    prime = check.check_answer(formula_card("a", {"a": "real"}), "a'", seed=1)
    assert prime.status == "invalid" and "prime" in prime.message
    assert check.check_answer(formula_card("2 * (a + 1)", {"a": "real"}), "2[a + 1]", seed=1).correct


# --- where formulas part ----------------------------------------------------------------------

@pytest.mark.parametrize("expected, symbols, text", [
    ("c * sign(a)", {"a": "real", "c": "positive"}, "c a / |a|"),  # undefined at a = 0
    ("sign(a - b)", {"a": "real", "b": "real"}, "(a - b) / abs(a - b)"),  # a tie
    ("max(a, 3)", {"a": "real"}, "3"),  # parts beyond ±3 only
    ("max(0, 1 - y * a)", {"y": "sign", "a": "real"}, "(1 - y a) I(y a <= 1) + 0.001 I(y a == 1)"),
])
def test_answers_that_part_at_special_values_are_wrong(expected, symbols, text):
    for seed in range(5):
        result = check.check_answer(formula_card(expected, symbols), text, seed=seed)
        assert result.status == "wrong", (text, seed, result.message)


@pytest.mark.parametrize("expected, text", [
    ("where(u <= s, k, -k)", "k * sign(s - u)"),  # u exactly at the threshold s
    ("where(u <= s, k, -k)", "where(u < s, k, -k)"),
    ("sum(A.T @ (r * (r * (A @ v + s) < 1)))", "sum(A.T @ (r * (r * (A @ v + s) <= 1)))"),  # margin 1
    ("sign(u)", "u / abs(u)"),  # a score of exactly 0
])
def test_array_answers_that_part_at_ties_are_wrong(expected, text):
    shapes = {"u": ["N"], "s": [], "k": [], "A": ["N", "K"], "v": ["K"], "r": ["N"]}
    card = array_card(expected, shapes, domains={"k": "sign", "r": "sign"})
    for seed in range(20):
        result = check.check_answer(card, text, seed=seed)
        assert result.status == "wrong", (text, seed, result.message)


@pytest.mark.parametrize("card, text", [
    (formula_card("exp(-a) / (1 + exp(-a))", {"a": "real"}), "1.00001 * exp(-a) / (1 + exp(-a))"),
    (formula_card("pi * a**2", {"a": "positive"}), "3.1416 a^2"),
    (formula_card("log((1 - a) / a) / 2", {"a": "unit"}), "0.49999 log((1 - a)/a)"),
    (array_card("A @ v", {"A": ["N", "K"], "v": ["K"]}), "1.0001 * A @ v"),
    (array_card("sum(v**2) / 2", {"v": ["K"]}), "0.49999 * sum(v**2)"),
])
def test_near_misses_are_wrong(card, text):
    """Within 1e-3 of the right answer, but not equal to it: RTOL must stay tight."""
    assert check.check_answer(card, text, seed=1).status == "wrong", text


# --- reading whole, bounded work ----------------------------------------------------------------

@pytest.mark.parametrize("text, position", [
    (r"\frac{1}{1+e^{-z}} )( 7", 20),
    (r"\frac{1}{1+e^{-z}} \foo", 20),
    ("1/(1+exp(-z)) + ", None),
    ("1/(1+exp(-z)))", 14),
    ("(1/(1+exp(-z))", 1),
])
def test_latex_and_text_are_read_whole_or_refused_with_the_position(text, position):
    result = verdict("logistic_regression.sigmoid", text)
    assert result.status == "invalid", result.message
    if position is not None:
        assert f"at character {position}" in result.message, result.message


@pytest.mark.parametrize("text", ["$x W + b$", "x W + b.", r"\(x W + b\)", r"\[ x W + b \]", "  x W + b ;"])
def test_math_delimiters_and_a_full_stop(text):
    assert verdict("backprop.dense_forward", text).correct, text


def test_positions_count_from_the_text_as_typed():
    assert "at character 5" in verdict("logistic_regression.sigmoid", "    )z").message


def test_a_latex_tail_is_graded_not_dropped():
    assert verdict("logistic_regression.sigmoid", r"\frac{1}{1+e^{-z}} + \left|z\right|").status == "wrong"
    assert verdict("logistic_regression.sigmoid", r"\frac{1}{1+e^{-z}} \cdot 1").correct


@pytest.mark.parametrize("card_id, text, reason", [
    ("logistic_regression.sigmoid", "9^{9^{9}}", "too large"),
    ("logistic_regression.sigmoid", "2^{2^{30}}", "too large"),
    ("logistic_regression.sigmoid", "(10^{6})!", "factorial"),
    ("logistic_regression.sigmoid", "1000!", "factorial"),
    ("logistic_regression.sigmoid", "1e999", "range"),
    ("logistic_regression.sigmoid", "z + 1e400", "range"),
    ("logistic_regression.sigmoid", "10^300 * 10^300 + z", "range"),
    ("backprop.dense_dw", "1e999 * x.T @ dz", "range"),
    ("backprop.dense_dw", "9**9**9 + x.T @ dz", "too large"),
    ("backprop.dense_dw", "outer(outer(eye(100), eye(10)), 1) @ outer(outer(eye(100), eye(10)), 1).T", "elements"),
    ("backprop.dense_dw", "eye(1000) @ eye(1000) @ eye(1000)", "multiplications"),
    ("backprop.dense_dw", "np.ones((100000, 100000))", "elements"),
    ("backprop.dense_dw", "np.einsum('ij,kl->ijkl', eye(100), eye(100))", "multiplications"),
    ("backprop.dense_dw", "(x.T @ dz)**2**2**2**2**2", ""),
])
def test_huge_numbers_and_arrays_are_refused_quickly(card_id, text, reason):
    started = time.process_time()
    result = verdict(card_id, text)
    assert time.process_time() - started < 1.0
    assert not result.correct and result.message
    if reason:
        assert result.status == "invalid" and reason in result.message, result.message


def test_small_factorials_are_read():
    assert verdict("taylor.exp", r"1 + x + \frac{x^2}{2!}").correct
    assert verdict("taylor.exp", "1 + x + x^2/3!").status == "wrong"


def test_the_cpu_limit_holds_on_a_busy_machine():
    """Two processes burning CPU do not make a correct LaTeX answer time out: the limit is
    the checking process's CPU time, not the clock."""
    burn = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(2)]
    try:
        for _ in range(5):
            for text in [r"\frac{1}{1+e^{-z}}", r"\frac{e^{z}}{1 + e^{z}}"]:
                assert verdict("logistic_regression.sigmoid", text).correct
    finally:
        for process in burn:
            process.kill()
            process.wait()


def test_any_expensive_step_is_cut_at_the_cpu_limit(monkeypatch):
    def burn(*args, **kwargs):
        while True:
            pass

    monkeypatch.setattr(check, "_build", burn)
    started = time.process_time()
    result = check.check_answer(formula_card("a", {"a": "real"}), "a", cpu_seconds=0.5)
    assert time.process_time() - started < 1.0
    assert result.status == "invalid" and "computation" in result.message


def test_checks_in_a_worker_thread_are_bounded_too():
    """No timer signal outside the main thread: only the cheap proof runs, and the random
    points still decide."""
    import threading

    results = {}

    def work():
        for text in [r"\frac{1}{1+e^{-z}}", "9^{9^{9}}", "(1 + tanh(z/4)^2 + 2 tanh(z/4))/(2 + 2 tanh(z/4)^2)"]:
            started = time.process_time()
            results[text] = (verdict("logistic_regression.sigmoid", text), time.process_time() - started)

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    assert [r.status for r, _ in results.values()] == ["correct", "invalid", "correct"]
    assert all(seconds < 1.0 for _, seconds in results.values())


def test_the_cpu_limit_is_not_swallowed_by_a_catch_all(monkeypatch):
    def stubborn(*args, **kwargs):
        while True:
            try:
                while True:
                    pass
            except Exception:  # noqa: BLE001 - what a library might do
                pass

    monkeypatch.setattr(check, "_build", stubborn)
    started = time.process_time()
    result = check.check_answer(formula_card("a", {"a": "real"}), "a", cpu_seconds=0.3)
    assert time.process_time() - started < 1.0 and result.status == "invalid"


TOKEN_SOUP = [
    "x", "W", "b", "z", "w", "lam", "λ", "σ", "(", ")", "[", "]", "{", "}", "^", "_", "+", "-", "*", "/",
    "@", "|", "||", "‖", "ᵀ", "'", "!", "Σ", "Π", "½", "²", "√", "e", "pi", "exp", "log", "sum", "np.",
    "np.sum", ".T", ".shape", "[0]", ":", ",", "None", "axis=0", "\\frac", "\\sqrt", "\\left(",
    "\\right)", "\\sum_{i}", "\\|", "\\lvert", "1", "0.5", "1e308", "9", "_+", "I", "eye(3)", "outer",
    "einsum('ij->', ", "<", "!=", " ", "x_i", "α", "dz", "X", "y", "h", "θ", "e_m", "t", "f", "G", "\\",
]


@pytest.mark.parametrize("card_id, text", [
    ("adaboost.factor_correct", "epi _+/9α/wGh||"),  # a split name before a positive part
    ("svm_dual.stationarity_w", "  (x_i[0]½t"),  # an indexed name before a bracket
    ("logistic_regression.sigmoid", "t||dz|+None-\\frac\\"),  # a lone backslash at the end
])
def test_odd_texts_get_a_reason(card_id, text):
    result = verdict(card_id, text)
    assert result.status == "invalid" and "could not be evaluated" not in result.message, result


def test_any_text_gets_a_verdict_or_a_reason():
    """Random soups of the tokens answers are made of, on every card: never an exception, never
    the catch-all message of an evaluation the checker did not foresee, never a second of CPU."""
    import random

    from mlquiz.cards.deck import load_deck

    rng = random.Random(11)
    cards = [card for card in load_deck() if card.kind != "display"]
    for _ in range(3000):
        text = "".join(rng.choice(TOKEN_SOUP) for _ in range(rng.randint(1, 14)))
        card = rng.choice(cards)
        started = time.process_time()
        result = check.check_answer(card, text)
        assert time.process_time() - started < 1.0, (card.id, text)
        assert result.message and "could not be evaluated" not in result.message, (card.id, text, result)


# --- mlquiz check ------------------------------------------------------------------------------

def mlquiz() -> list[str]:
    script = Path(sys.executable).with_name("mlquiz")
    return [str(script)] if script.exists() else [sys.executable, "-m", "mlquiz"]


def test_mlquiz_check_answers_json_lines():
    lines = "\n".join([
        json.dumps({"card": "backprop.dense_forward", "answer": "x W + b"}),
        json.dumps({"card": "backprop.dense_forward", "answer": "W x + b"}),
        json.dumps({"card": "logistic_regression.sigmoid", "answer": "σ(z)"}),
        "not json",
        json.dumps({"card": "no.such_card", "answer": "1"}),
        json.dumps(["card", "answer"]),
        "",
        json.dumps({"card": "logistic_regression.sigmoid", "answer": "1e999"}),
        json.dumps({"card": "svm_dual.kkt", "answer": "alpha >= 0"}),
    ]) + "\n"
    process = subprocess.run(mlquiz() + ["check"], input=lines, capture_output=True, text=True, timeout=300)
    assert process.returncode == 0 and not process.stderr
    out = [json.loads(line) for line in process.stdout.splitlines()]
    assert [o["status"] for o in out] == ["correct", "wrong"] + ["invalid"] * 6
    assert set(out[0]) == {"card", "answer", "status", "method", "message", "seconds"}
    assert out[0]["method"] == "random arrays" and out[1]["method"] == "random arrays"
    assert "JSON" in out[3]["message"] and "unknown card" in out[4]["message"]
    assert "range" in out[6]["message"] and "display-only" in out[7]["message"]
    assert all(0 <= o["seconds"] < 1 for o in out)


# --- the answer prompt ---------------------------------------------------------------------

@pytest.mark.skipif(not hasattr(os, "openpty"), reason="needs a pseudo-terminal")
def test_arrow_keys_and_history_edit_the_answer(tmp_path):
    """At a terminal the answer line is edited with readline: a left arrow moves the cursor
    (it does not insert ^[[D), and the up arrow brings back the previous answer."""
    pytest.importorskip("readline")
    import pty

    env = dict(os.environ, MLQUIZ_DB=str(tmp_path / "m.db"), MLQUIZ_NOW="2026-03-02T08:00:00Z",
               TERM="xterm", MLQUIZ_LANG="en")
    pid, fd = pty.fork()
    if pid == 0:  # the child: mlquiz at a terminal
        os.execve(mlquiz()[0], mlquiz() + ["review", "--topic", "logistic_regression", "--new",
                                           "--limit", "1"], env)
    transcript = b""

    def read_until(marker: bytes, times: int = 1, timeout: float = 60.0) -> None:
        nonlocal transcript
        deadline = time.monotonic() + timeout
        while transcript.count(marker) < times:
            ready, _, _ = select.select([fd], [], [], max(0.0, deadline - time.monotonic()))
            assert ready, transcript[-500:]
            transcript += os.read(fd, 4096)

    try:
        read_until(b"Your answer")
        os.write(fd, b"1/(1+exp(z)\r")  # a parenthesis short: refused
        read_until(b"Your answer", times=2)
        os.write(fd, b"\x1b[A)\x1b[D\x1b[D\x1b[D-\r")  # up: the last answer; fix it with the arrows
        read_until(b"Rate")
        os.write(fd, b"\r")
        read_until(b"Saved")
    finally:
        os.close(fd)
        os.waitpid(pid, 0)
    text = transcript.decode(errors="replace")
    assert "Try again" in text and "✓" in text and "Correct" in text, text
    assert "^[[" not in text
