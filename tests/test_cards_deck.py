"""The deck: every card loads, is bilingual, is checkable by the checker, and says what the
curriculum says.

Every checkable card's answer is proved against an oracle written here, independently of the
card: the references in ``reference/`` evaluated on random inputs, scipy's distributions and
special functions, finite differences for the derivative cards, linear programs and scalar
minimisation for the closed forms, or the contract's formula written out by hand. The card's
answer is evaluated by this file's own reading of its text (numpy for arrays, sympy for
formulas), not by the checker, so that a wrong card fails whatever the checker does.
"""

import math
import re
import subprocess
import sys
import textwrap
from functools import cache
from types import SimpleNamespace

import numpy as np
import pytest
import sympy
from scipy import optimize, special, stats
from sympy.parsing.sympy_parser import (
    convert_xor,
    implicit_multiplication,
    parse_expr,
    standard_transformations,
)

from mlquiz.cards import check
from mlquiz.cards.deck import (
    DeckError,
    card_ids,
    cards_by_topic,
    cards_for_exercise,
    get_card,
    latex_to_text,
    load_deck,
)
from mlquiz.curriculum import exercises
from mlquiz.grading.numeric import numerical_gradient
from mlquiz.grading.references import load_reference

DECK = load_deck()
CHECKABLE = [card for card in DECK if card.kind != "display"]
CJK = re.compile(r"[\u4e00-\u9fff]")

#: every graded function of the curriculum, and the card of its formula
FUNCTION_CARDS = {
    "backprop": {
        "dense_forward": "backprop.dense_forward", "dense_backward": "backprop.dense_dw",
        "backprop": "backprop.bp2",
    },
    "bn_forward": {
        "batchnorm_forward": "bn_forward.x_hat", "batchnorm_train_step": "bn_forward.running",
        "batchnorm_inference": "bn_forward.inference",
    },
    "bn_backward": {"batchnorm_backward": "bn_backward.dx"},
    "l2": {
        "l2_penalty": "l2.penalty", "l2_grad": "l2.grad", "weight_decay_step": "l2.weight_decay_step",
        "ridge_fit": "l2.ridge_closed_form",
    },
    "l1": {
        "l1_penalty": "l1.penalty", "l1_subgradient": "l1.subgradient",
        "soft_threshold": "l1.soft_threshold", "lasso_fit": "l1.coordinate_update",
    },
    "priors": {
        "gaussian_neg_log_prior": "priors.gaussian_neg_log_prior",
        "laplace_neg_log_prior": "priors.laplace_neg_log_prior",
        "ridge_lambda_from_prior": "priors.ridge_lambda", "lasso_lambda_from_prior": "priors.lasso_lambda",
    },
    "logistic_regression": {
        "sigmoid": "logistic_regression.sigmoid", "sigmoid_grad": "logistic_regression.sigmoid_grad",
        "predict_proba": "logistic_regression.predict", "log_likelihood": "logistic_regression.log_likelihood",
        "gradient": "logistic_regression.gradient", "gradient_ascent_step": "logistic_regression.ascent_step",
        "fit": "logistic_regression.fit_step",
    },
    "svm_primal": {
        "hinge_objective": "svm_primal.objective", "hinge_subgradient": "svm_primal.subgradient_w",
        "fit_primal": "svm_primal.soft_margin",
    },
    "svm_dual": {
        "linear_kernel": "svm_dual.linear_kernel", "rbf_kernel": "svm_dual.rbf_matrix",
        "dual_objective": "svm_dual.dual_objective", "weights_from_dual": "svm_dual.stationarity_w",
        "bias_from_dual": "svm_dual.bias_mean", "decision_function": "svm_dual.decision",
        "smo_fit": "svm_dual.smo_alpha2",
    },
    "adaboost": {
        "weighted_error": "adaboost.error", "compute_alpha": "adaboost.alpha",
        "update_weights": "adaboost.update", "fit_stump": "adaboost.error",
        "stump_predict": "adaboost.stump", "adaboost_fit": "adaboost.initial_weights",
        "adaboost_predict": "adaboost.final_classifier",
    },
    "gbdt": {
        "negative_gradient": "gbdt.negative_gradient", "fit_tree": "gbdt.split_sse",
        "tree_predict": "gbdt.tree", "gbdt_fit": "gbdt.f0", "gbdt_predict": "gbdt.final_prediction",
    },
    "taylor": {
        "taylor_polynomial": "taylor.series", "grad_hess": "taylor.g_logistic",
        "leaf_weight": "taylor.leaf_weight", "structure_score": "taylor.structure_score",
        "split_gain": "taylor.split_gain",
    },
}

#: the derivations of the notes (CURRICULUM.md's Flashcards section, and the steps behind them)
DERIVATION_CARDS = [
    # backprop: δ = ∂C/∂z, the four equations, BP1 in general, BP2's chain rule, cross-entropy
    "backprop.delta_definition", "backprop.bp1", "backprop.bp1_general", "backprop.bp2",
    "backprop.bp2_chain", "backprop.bp2_local", "backprop.bp3", "backprop.bp4",
    "backprop.cross_entropy_cost", "backprop.cross_entropy_delta",
    # batch norm: the gradients, the local partials, inference as one affine map
    "bn_backward.dx_hat", "bn_backward.dvar", "bn_backward.dmu", "bn_backward.dx",
    "bn_backward.dgamma", "bn_backward.dbeta", "bn_backward.dmu_dx", "bn_backward.dvar_dx",
    "bn_backward.dxhat_dvar", "bn_backward.dxhat_dmu", "bn_backward.dxhat_dx",
    "bn_forward.inference_scale", "bn_forward.inference_shift",
    # L2, L1 and the priors
    "l2.generic_objective", "l2.generic_gradient", "l2.constrained", "l2.shrinkage",
    "l1.subdifferential", "l1.ista_step", "l1.ista_lasso_step",
    "priors.ridge_from_map", "priors.lasso_from_map", "priors.ridge_lambda_unit_noise",
    "priors.lasso_lambda_unit_noise",
    # logistic regression
    "logistic_regression.likelihood", "logistic_regression.log_likelihood",
    "logistic_regression.gradient", "logistic_regression.cost", "logistic_regression.dl_dtheta_j",
    "logistic_regression.log_odds", "logistic_regression.decision_boundary",
    # SVM
    "svm_primal.functional_margin", "svm_primal.slack_hinge", "svm_dual.lagrangian",
    "svm_dual.dual_from_substitution", "svm_dual.dual_objective", "svm_dual.kkt",
    "svm_dual.kkt_soft", "svm_dual.rbf_matrix", "svm_dual.bias_mean",
    "svm_dual.smo_low_unequal", "svm_dual.smo_high_unequal", "svm_dual.smo_low_equal",
    "svm_dual.smo_high_equal", "svm_dual.smo_alpha1", "svm_dual.smo_b1", "svm_dual.smo_b2",
    # AdaBoost
    "adaboost.initial_weights", "adaboost.error", "adaboost.alpha", "adaboost.exp_loss_alpha",
    "adaboost.z", "adaboost.factor_wrong", "adaboost.f", "adaboost.final_classifier",
    "adaboost.training_error_bound",
    # GBDT and XGBoost
    "gbdt.final_model", "gbdt.f0_general", "gbdt.leaf_value_general", "gbdt.stagewise",
    "taylor.series", "taylor.second_order", "taylor.objective", "taylor.objective_unexpanded",
    "taylor.leaf_set", "taylor.g_leaf_sum", "taylor.h_leaf_sum", "taylor.newton_step",
]


# --- the deck as data -----------------------------------------------------------------------

def test_the_deck_is_large_and_covers_every_topic():
    assert len(DECK) >= 175
    topics = {card.topic for card in DECK}
    assert topics == {exercise.id for exercise in exercises()}
    for exercise in exercises():
        assert len(cards_by_topic(exercise.id)) >= 8, exercise.id


def test_ids_are_unique_stable_and_in_curriculum_order():
    ids = card_ids()
    assert len(ids) == len(set(ids)) == len(DECK)
    order = [exercise.id for exercise in exercises()]
    positions = [order.index(get_card(card_id).topic) for card_id in ids]
    assert positions == sorted(positions)
    for card in DECK:
        assert re.fullmatch(r"[a-z0-9_]+\.[a-z0-9_]+", card.id)
        assert card.id.split(".")[0] == card.topic
        assert card.item_id == f"card:{card.id}"
        assert get_card(card.item_id) is card


def test_every_question_is_in_english_and_in_chinese():
    for card in DECK:
        assert card.question_en.strip() and card.question_zh.strip(), card.id
        assert not CJK.search(card.question_en), card.id
        assert CJK.search(card.question_zh), card.id
        assert card.question("zh") == card.question_zh and card.question("en") == card.question_en


#: Greek letters spelled as code names (``lam``, ``eta``, ``sigma_n``): a Chinese sentence
#: writes the symbol (λ, η, σ_n) instead
GREEK_CODE_NAME = re.compile(
    r"(?<![A-Za-z0-9])(lam|lambda|eta|eps|epsilon|alpha|beta|gamma|theta|sigma|mu|nu|rho|"
    r"delta|xi|tau|phi|omega)(_\w*)?(?![A-Za-z0-9])"
)


def test_chinese_questions_write_symbols_not_code_names():
    offenders = [(c.id, m.group(0)) for c in DECK if (m := GREEK_CODE_NAME.search(c.question_zh))]
    assert not offenders
    # the pattern itself: code names are found, symbols and ordinary words are not
    assert GREEK_CODE_NAME.search("学习率 eta 和 lam") and GREEK_CODE_NAME.search("已知 sigma_n")
    assert not GREEK_CODE_NAME.search("学习率 η 和 λ，sigmoid 函数，σ_n，dmu，x_hat")


def test_chinese_terminology():
    text = "\n".join(card.question_zh for card in DECK)
    assert "原形式" not in text and "原始形式" in text
    assert "滑动平均" in get_card("bn_forward.running").question_zh
    assert "内积" in get_card("l1.rho").question_zh
    assert "logistic 函数" in get_card("logistic_regression.sigmoid").question_zh
    assert "对数损失" in get_card("logistic_regression.cost").question_zh
    assert "逻辑损失" not in text


def test_every_curriculum_function_has_its_card():
    for exercise in exercises():
        assert set(FUNCTION_CARDS[exercise.id]) == set(exercise.functions), exercise.id
        for function, card_id in FUNCTION_CARDS[exercise.id].items():
            card = get_card(card_id)
            assert card is not None, (function, card_id)
            assert card.topic == exercise.id


def test_every_derivation_of_the_notes_has_its_card():
    missing = [card_id for card_id in DERIVATION_CARDS if get_card(card_id) is None]
    assert not missing


def test_every_card_can_be_checked_or_is_display_only():
    kinds = {card.kind for card in DECK}
    assert kinds == {"formula", "array", "display"}
    assert len(CHECKABLE) >= 0.75 * len(DECK)  # formula and array cards are the rule
    for card in DECK:
        if card.kind == "display":
            assert card.display_only and not card.accept
        else:
            assert not card.display_only


def test_cards_for_exercise():
    assert cards_for_exercise("bn_backward") == [c.id for c in DECK if c.topic == "bn_backward"]
    assert cards_for_exercise("l2_regularization.py") == cards_for_exercise("l2")
    assert "bn_backward.dgamma" in cards_for_exercise("bn_backward")
    for exercise in exercises():
        assert cards_for_exercise(exercise.id)
    with pytest.raises(ValueError):
        cards_for_exercise("no_such_exercise")


def test_card_ids_need_neither_sympy_nor_numpy():
    code = textwrap.dedent("""
        import sys
        from mlquiz.cards.deck import card_ids, load_deck
        assert len(card_ids()) >= 175 and load_deck()[0].answer_text
        heavy = [m for m in ("sympy", "numpy", "genanki", "antlr4") if m in sys.modules]
        assert not heavy, heavy
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


# --- checkable by the checker ---------------------------------------------------------------

#: a name labelled by a superscript (α₂ⁿᵉʷ), which the checker's LaTeX reading takes for a power
SUPERSCRIPT_LABEL = re.compile(r"\^\{\\mathrm\{(\w+)\}\}")


def plain_from_latex(latex: str) -> str:
    """``\\alpha_2^{\\mathrm{new}} - K_{12}`` -> ``alpha_2_new - K_12`` (simple LaTeX only)."""
    text = SUPERSCRIPT_LABEL.sub(r"_\1", latex)
    text = re.sub(r"_\{(\w+)\}", r"_\1", text)
    return re.sub(r"\\([A-Za-z]+)", r"\1", text)


@pytest.mark.parametrize("card", CHECKABLE, ids=lambda c: c.id)
def test_the_checker_accepts_the_cards_own_answer(card):
    """The stored answer is read by the checker; a formula card's LaTeX, typed as an answer,
    is read too and judged equal to it (the LaTeX shown is the answer that is checked).
    LaTeX with superscript-labelled names is read by this file instead."""
    own = card.answer_sympy if card.kind == "formula" else card.answer_numpy
    verdict = check.check_answer(card, own, seed=2)
    assert verdict.correct, verdict.message
    if card.kind == "formula" and SUPERSCRIPT_LABEL.search(card.answer_latex):
        rng = np.random.default_rng(2)
        for _ in range(10):
            point = {name: float(_draw(domain, rng)) for name, domain in card.symbols.items()}
            assert formula_value(card, point, plain_from_latex(card.answer_latex)) == pytest.approx(
                formula_value(card, point), rel=1e-12, abs=1e-12)
    elif card.kind == "formula":
        check.warm_up()  # the LaTeX parser loads on first use
        for _ in range(5):  # a time limit on reading LaTeX may refuse it on a busy machine
            verdict = check.check_answer(card, card.answer_latex, seed=2)
            if "too long" not in verdict.message:
                break
        assert verdict.correct, (card.answer_latex, verdict.message)


@pytest.mark.parametrize("card", [c for c in DECK if c.accept or c.reject], ids=lambda c: c.id)
def test_listed_answers_are_judged_as_listed(card):
    for text in card.accept:
        verdict = check.check_answer(card, text, seed=3, proof_seconds=0.1)
        assert verdict.correct, (text, verdict.message)
    for text in card.reject:
        verdict = check.check_answer(card, text, seed=3, proof_seconds=0.1)
        assert not verdict.correct, (text, verdict.message)


_COMMAND = re.compile(r"\\([A-Za-z]+|.)")
#: LaTeX commands the deck may use (MathJax knows them all; the terminal renders them)
LATEX_COMMANDS = {
    "frac", "sqrt", "sum", "prod", "partial", "nabla", "odot", "cdot", "top", "hat", "bar",
    "tilde", "left", "right", "operatorname", "mathrm", "text", "mathbf", "mathbb", "mathcal",
    "log", "ln", "exp", "max", "min", "arg", "in", "ne", "le", "ge", "leq", "iff", "Rightarrow",
    "mid", "quad", "dots", "infty", "lVert", "rVert", "alpha", "beta", "gamma", "delta",
    "epsilon", "eta", "theta", "lambda", "mu", "nu", "pi", "rho", "sigma", "xi", "ell", "Omega",
    "Theta", "|", "{", "}", ",", ";", "!", " ",
}


def latex_problems(latex: str) -> list[str]:
    """Unbalanced braces, unpaired \\left/\\right, commands outside LATEX_COMMANDS (environments
    such as \\begin{cases} included: the terminal does not render them)."""
    problems = []
    depth = 0
    for match in re.finditer(r"\\[{}]|[{}]", latex):
        if match.group() in "{}":
            depth += 1 if match.group() == "{" else -1
            if depth < 0:
                problems.append("a } closes nothing")
    if depth:
        problems.append("unbalanced braces")
    commands = _COMMAND.findall(latex)
    if commands.count("left") != commands.count("right"):
        problems.append("\\left and \\right differ in number")
    problems += [f"unknown command \\{c}" for c in commands if c not in LATEX_COMMANDS]
    return problems


def test_latex_problems_are_found():
    assert not latex_problems(r"\left(\frac{1}{2}\|w\|^2\right) \quad \text{s.t.}\ \{x\}")
    assert latex_problems(r"\frac{1}{2") and latex_problems(r"\left(x") and latex_problems(r"\fracc{1}{2}")
    assert latex_problems(r"x}") and latex_problems(r"\begin{cases} x \end{cases}")


@pytest.mark.parametrize("card", DECK, ids=lambda c: c.id)
def test_every_latex_answer_is_well_formed(card):
    for latex in (card.answer_latex, card.lhs_latex):
        assert not latex_problems(latex), (latex, latex_problems(latex))


# --- the cards' answers, read by this file (not by the checker) -----------------------------

def _sigmoid(t):
    return 1.0 / (1.0 + np.exp(-t))


def _extremum(elementwise, reduction):
    def call(*args, **kwargs):  # as the checker reads it: max(0, 1 - m) is elementwise
        return elementwise(*args) if len(args) == 2 and not kwargs else reduction(*args, **kwargs)

    return call


NUMPY_NAMES = {
    "sum": np.sum, "mean": np.mean, "prod": np.prod, "var": np.var, "std": np.std,
    "max": _extremum(np.maximum, np.max), "min": _extremum(np.minimum, np.min),
    "exp": np.exp, "log": np.log, "log1p": np.log1p, "sqrt": np.sqrt, "abs": np.abs,
    "sign": np.sign, "tanh": np.tanh, "square": np.square, "maximum": np.maximum,
    "minimum": np.minimum, "where": np.where, "clip": np.clip, "dot": np.dot, "outer": np.outer,
    "matmul": np.matmul, "transpose": np.transpose, "sigma": _sigmoid, "inv": np.linalg.inv,
    "solve": np.linalg.solve, "norm": np.linalg.norm, "eye": lambda n: np.eye(int(n)),
    "diag": np.diag, "ones_like": np.ones_like, "zeros_like": np.zeros_like,
    "e": math.e, "pi": math.pi,
}


_NO_BUILTINS = {"__builtins__": {"__import__": __import__}}  # numpy's methods import lazily


def numpy_value(card, env: dict, text: str | None = None) -> np.ndarray:
    """The card's numpy answer (or ``text``) on ``env``: the deck's own text (trusted data of
    this repository, never a learner's answer) evaluated by numpy itself."""
    scope = dict(NUMPY_NAMES)
    scope.update({name: NUMPY_NAMES[target] for name, target in card.functions.items()})
    scope.update(env)
    with np.errstate(all="ignore"):
        for name, definition in card.derived.items():
            scope[name] = eval(definition, _NO_BUILTINS, scope)  # noqa: S307
        return np.asarray(eval(text or card.answer_numpy, _NO_BUILTINS, scope), dtype=float)  # noqa: S307


_T = sympy.Dummy("t")
SYMPY_NAMES = {
    "sigma": sympy.Lambda(_T, 1 / (1 + sympy.exp(-_T))), "max": sympy.Max, "min": sympy.Min,
    "abs": sympy.Abs, "sign": sympy.sign, "log": sympy.log, "ln": sympy.log, "exp": sympy.exp,
    "sqrt": sympy.sqrt, "tanh": sympy.tanh, "pi": sympy.pi, "e": sympy.E,
}
_TRANSFORMS = standard_transformations + (implicit_multiplication, convert_xor)


def card_symbols(card) -> dict[str, sympy.Symbol]:
    return {name: sympy.Symbol(name, real=True) for name in card.symbols}


def sympy_value(card, text: str | None = None) -> sympy.Expr:
    """The card's formula (or ``text``) as a sympy expression over its symbols, derived names
    and function aliases substituted, read by sympy's own parser."""
    local = dict(SYMPY_NAMES)
    local.update({name: SYMPY_NAMES[target] for name, target in card.functions.items()})
    local.update(card_symbols(card))
    for name, definition in card.derived.items():
        local[name] = parse_expr(definition, local_dict=dict(local), transformations=_TRANSFORMS)
    return parse_expr(text or card.answer_sympy, local_dict=local, transformations=_TRANSFORMS)


def formula_value(card, point: dict, text: str | None = None) -> float:
    symbols = card_symbols(card)
    expr = sympy_value(card, text).subs({symbols[name]: sympy.Float(value, 30) for name, value in point.items()})
    return float(sympy.N(expr, 20))


def test_this_files_readings_of_answers():
    """The readings above: another spelling of an answer gives its value (the checker's
    two-argument max is elementwise), and the sigmoid's derivative has its known values."""
    card = get_card("svm_primal.objective")
    rng = np.random.default_rng(0)
    env = draw_inputs(card, rng, 0)
    assert np.isclose(numpy_value(card, env, "0.5 * w @ w + C * sum(max(0, 1 - y * (X @ w + b)))"),
                      numpy_value(card, env))
    card = get_card("backprop.sigmoid_prime")
    assert formula_value(card, {"z": 0.0}) == pytest.approx(0.25)
    assert formula_value(card, {"z": 1.0}, "sigma(z)(1 - sigma(z))") == pytest.approx(special.expit(1) * special.expit(-1))


# --- random inputs, with the values where formulas part ---------------------------------------

def _draw(domain: str, rng, shape=()):
    if domain == "positive":
        return rng.uniform(0.2, 3.0, size=shape)
    if domain == "unit":
        return rng.uniform(0.05, 0.95, size=shape)
    if domain == "binary":
        return rng.integers(0, 2, size=shape).astype(float)
    if domain == "sign":
        return rng.choice([-1.0, 1.0], size=shape)
    scale = 4.0 if rng.random() < 0.25 else 1.5  # sometimes large, beyond ±3
    return scale * rng.standard_normal(size=shape)


def draw_inputs(card, rng, index: int) -> dict:
    """Random inputs of the card (its arrays with distinct dimension sizes, or its symbols),
    then the card's oracle may move some of them onto an edge (``prepare``)."""
    if card.kind == "array":
        sizes = dict(zip(card.dims, (int(s) for s in rng.permutation(np.arange(2, 9))[: len(card.dims)])))
        env = {dim: size for dim, size in sizes.items()}
        for name, shape in card.shapes.items():
            value = _draw(card.domains.get(name, "real"), rng, tuple(sizes.get(d, d) for d in shape))
            env[name] = float(value) if not shape else value
    else:
        env = {name: float(_draw(domain, rng)) for name, domain in card.symbols.items()}
    prepare = ORACLES[card.id].prepare
    if prepare is not None:
        prepare(env, rng, index)
    return env


# --- oracles --------------------------------------------------------------------------------

ORACLES: dict = {}


def oracle(*card_ids, prepare=None, rtol=1e-7, atol=1e-9):
    """Register ``f(v) -> expected value`` (``v``: the inputs as attributes) for cards."""

    def register(f):
        for card_id in card_ids:
            ORACLES[card_id] = SimpleNamespace(f=f, prepare=prepare, rtol=rtol, atol=atol)
        return f

    return register


@cache
def ref(topic: str):
    return load_reference(topic)


FD = {"rtol": 1e-5, "atol": 1e-6}  # tolerances of finite differences


def derivative(f, x: float, h: float = 1e-5) -> float:
    return (f(x + h) - f(x - h)) / (2 * h)


def second_derivative(f, x: float, h: float = 1e-3) -> float:
    return (f(x + h) - 2 * f(x) + f(x - h)) / h**2


def log_loss(y, z):
    """−log P(y | logit z) for y in {0, 1}, from scipy's Bernoulli distribution."""
    return -stats.bernoulli.logpmf(y, special.expit(z))


# backprop ------------------------------------------------------------------------------------

@oracle("backprop.dense_forward")
def _(v):
    return ref("backprop").dense_forward(v.x, v.W, v.b)


@oracle("backprop.dense_dx", **FD)
def _(v):
    return numerical_gradient(lambda x: np.sum(v.dz * (x @ v.W)), np.zeros((v.N, v.D_in)))


@oracle("backprop.dense_dw", **FD)
def _(v):
    return numerical_gradient(lambda W: np.sum(v.dz * (v.x @ W)), np.zeros((v.D_in, v.D_out)))


@oracle("backprop.dense_db", **FD)
def _(v):
    return numerical_gradient(lambda b: np.sum(v.dz * b), np.zeros(v.D_out))


@oracle("backprop.forward")
def _(v):
    return special.expit(ref("backprop").dense_forward(v.a_prev, v.W, v.b))


@oracle("backprop.cost")
def _(v):
    return sum(0.5 * (a - t) ** 2 for a, t in zip(v.a.ravel(), v.y.ravel()))


@oracle("backprop.sigmoid_prime", **FD)
def _(v):
    return derivative(special.expit, v.z)


@oracle("backprop.bp1", **FD)
def _(v):  # δ = ∂C/∂z with C = ½ Σ (σ(z) − y)²
    return numerical_gradient(lambda z: 0.5 * np.sum((special.expit(z) - v.y) ** 2), v.z)


@oracle("backprop.bp2", **FD)
def _(v):  # C depends on z^l through z^{l+1} = σ(z^l) W + b, with ∂C/∂z^{l+1} = δ^{l+1}
    return numerical_gradient(lambda z: np.sum(v.delta_next * (special.expit(z) @ v.W_next)), v.z)


@oracle("backprop.bp3", **FD)
def _(v):
    return numerical_gradient(lambda b: np.sum(v.delta * b), np.zeros(v.D))


@oracle("backprop.bp4", **FD)
def _(v):
    return numerical_gradient(lambda W: np.sum(v.delta * (v.a_prev @ W)), np.zeros((v.D_in, v.D_out)))


@oracle("backprop.bp1_general", **FD)
def _(v):  # any cost with ∂C/∂a = dC_da, to first order C = Σ dC_da · σ(z)
    return numerical_gradient(lambda z: np.sum(v.dC_da * special.expit(z)), v.z)


@oracle("backprop.bp2_local", **FD)
def _(v):
    return derivative(lambda z: v.w * special.expit(z), v.z_j)


def cross_entropy(a, y):
    return -sum(stats.bernoulli.logpmf(t, p) for p, t in zip(a.ravel(), y.ravel()))


@oracle("backprop.cross_entropy_cost")
def _(v):
    return cross_entropy(v.a, v.y)


@oracle("backprop.cross_entropy_delta", **FD)
def _(v):
    return numerical_gradient(lambda z: cross_entropy(special.expit(z), v.y), v.z)


# batch norm ----------------------------------------------------------------------------------

@oracle("bn_forward.mean")
def _(v):
    return np.array([math.fsum(column) / len(column) for column in v.x.T])


@oracle("bn_forward.var")
def _(v):
    return np.var(v.x, axis=0)


@oracle("bn_forward.unbiased_var")
def _(v):
    return np.var(v.x, axis=0, ddof=1)


@oracle("bn_forward.x_hat")
def _(v):  # γ = 1, β = 0
    return ref("bn_forward").batchnorm_forward(v.x, np.ones(v.D), np.zeros(v.D), v.eps)


@oracle("bn_forward.out")
def _(v):
    return np.array([[g * x + b for x, g, b in zip(row, v.gamma, v.beta)] for row in v.x_hat])


@oracle("bn_forward.running")
def _(v):  # a batch whose mean is s: the running mean moves from r with momentum m
    batch = np.array([[v.s - 1.0], [v.s + 1.0]])
    return ref("bn_forward").batchnorm_train_step(
        batch, np.ones(1), np.zeros(1), np.array([v.r]), np.ones(1), momentum=v.m
    )[1][0]


@oracle("bn_forward.inference")
def _(v):
    return ref("bn_forward").batchnorm_inference(v.x, v.gamma, v.beta, v.running_mean, v.running_var, v.eps)


def _inference_at(v, x):
    beta = getattr(v, "beta", np.zeros(v.D))
    mean = getattr(v, "running_mean", np.zeros(v.D))
    return ref("bn_forward").batchnorm_inference(x, v.gamma, beta, mean, v.running_var, v.eps)[0]


@oracle("bn_forward.inference_scale")
def _(v):  # the slope of the affine map: its values at x = 1 and x = 0
    return _inference_at(v, np.ones((1, v.D))) - _inference_at(v, np.zeros((1, v.D)))


@oracle("bn_forward.inference_shift")
def _(v):  # the map at x = 0
    return _inference_at(v, np.zeros((1, v.D)))


def batchnorm(x, gamma, beta, eps):
    return ref("bn_forward").batchnorm_forward(x, gamma, beta, eps)


@oracle("bn_backward.dx_hat", **FD)
def _(v):  # y = γ x̂ + β
    return numerical_gradient(lambda xh: np.sum(v.dout * (v.gamma * xh)), np.zeros((v.N, v.D)))


@oracle("bn_backward.dvar", **FD)
def _(v):  # L through σ² alone (μ held fixed)
    mu = v.x.mean(0)
    return numerical_gradient(
        lambda var: np.sum(v.dout * v.gamma * (v.x - mu) / np.sqrt(var + v.eps)), np.var(v.x, 0)
    )


@oracle("bn_backward.dmu", **FD)
def _(v):  # L through μ, directly and through σ²(μ) = mean((x − μ)²)
    def loss(mu):
        var = np.mean((v.x - mu) ** 2, axis=0)
        return np.sum(v.dout * v.gamma * (v.x - mu) / np.sqrt(var + v.eps))

    return numerical_gradient(loss, v.x.mean(0))


@oracle("bn_backward.dx", "bn_backward.dx_compact", **FD)
def _(v):
    return numerical_gradient(lambda x: np.sum(v.dout * batchnorm(x, v.gamma, np.zeros(v.D), v.eps)), v.x)


@oracle("bn_backward.dgamma", **FD)
def _(v):
    return numerical_gradient(lambda g: np.sum(v.dout * batchnorm(v.x, g, np.zeros(v.D), v.eps)), np.ones(v.D))


@oracle("bn_backward.dbeta", **FD)
def _(v):
    return numerical_gradient(lambda b: np.sum(v.dout * b), np.zeros(v.D))


def _whole_batch(v, rng, index):
    v["N"] = float(rng.integers(2, 9))


@oracle("bn_backward.dmu_dx", prepare=_whole_batch, **FD)
def _(v):
    batch = np.random.default_rng(1).standard_normal(int(v.N))
    return derivative(lambda x0: np.mean(np.r_[x0, batch[1:]]), batch[0])


def _batch_with_mean(v, rng, index):
    n = int(rng.integers(2, 9))
    batch = rng.standard_normal(n)
    batch += v["mu"] - batch.mean()
    v.update(N=float(n), x_i=float(batch[0]), batch=batch)


@oracle("bn_backward.dvar_dx", prepare=_batch_with_mean, **FD)
def _(v):  # the biased variance of the whole batch, x_i moving (μ moves with it)
    return derivative(lambda x0: np.var(np.r_[x0, v.batch[1:]]), v.batch[0])


@oracle("bn_backward.dxhat_dvar", **FD)
def _(v):
    return derivative(lambda var: (v.x_i - v.mu) / np.sqrt(var + v.eps), v.sigma**2)


@oracle("bn_backward.dxhat_dmu", **FD)
def _(v):
    return derivative(lambda mu: (0.7 - mu) / np.sqrt(v.sigma**2 + v.eps), 0.2)


@oracle("bn_backward.dxhat_dx", **FD)
def _(v):
    return derivative(lambda x: (x - 0.2) / np.sqrt(v.sigma**2 + v.eps), 0.7)


# L2 ------------------------------------------------------------------------------------------

@oracle("l2.penalty")
def _(v):
    return ref("l2").l2_penalty(v.w, v.lam)


@oracle("l2.grad", **FD)
def _(v):
    return derivative(lambda w: ref("l2").l2_penalty(np.array([w]), v.lam), v.w)


@oracle("l2.weight_decay_step")
def _(v):
    return ref("l2").weight_decay_step(np.array([v.w]), np.array([v.g]), v.eta, v.lam)[0]


@oracle("l2.decay_factor")
def _(v):  # one step from w = 1 with a zero data gradient
    return ref("l2").weight_decay_step(np.ones(1), np.zeros(1), v.eta, v.lam)[0]


def ridge_objective(X, y, w, lam):
    return 0.5 * np.linalg.norm(y - X @ w) ** 2 + lam / 2 * np.linalg.norm(w) ** 2


@oracle("l2.ridge_objective")
def _(v):
    return ridge_objective(v.X, v.y, v.w, v.lam)


@oracle("l2.ridge_gradient", **FD)
def _(v):
    return numerical_gradient(lambda w: ridge_objective(v.X, v.y, w, v.lam), v.w)


@oracle("l2.ridge_closed_form", rtol=1e-6)
def _(v):  # the reference, and the minimiser found by a general-purpose optimiser agree
    closed = ref("l2").ridge_fit(v.X, v.y, v.lam)
    found = optimize.minimize(lambda w: ridge_objective(v.X, v.y, w, v.lam), np.zeros(v.D),
                              jac=lambda w: v.X.T @ (v.X @ w - v.y) + v.lam * w, tol=1e-14).x
    np.testing.assert_allclose(found, closed, rtol=1e-4, atol=1e-6)
    return closed


@oracle("l2.generic_objective")
def _(v):
    return v.L + ref("l2").l2_penalty(v.w, v.lam)


@oracle("l2.generic_gradient", **FD)
def _(v):
    return v.grad_L + numerical_gradient(lambda w: ref("l2").l2_penalty(w, v.lam), v.w)


@oracle("l2.shrinkage")
def _(v):  # one singular direction: X = d u with |u| = 1; the ridge fit over the least-squares fit
    u = np.array([0.6, 0.8, 0.0])
    X, y = (v.d * u)[:, None], np.array([1.0, 2.0, 3.0])
    ridge = X @ ref("l2").ridge_fit(X, y, v.lam)
    least_squares = X @ np.linalg.lstsq(X, y, rcond=None)[0]
    return ridge[0] / least_squares[0]


# L1 ------------------------------------------------------------------------------------------

@oracle("l1.penalty")
def _(v):
    return ref("l1").l1_penalty(v.w, v.lam)


def _sometimes_zero(v, rng, index):
    if index % 3 == 0:
        v["w"] = 0.0


@oracle("l1.subgradient", prepare=_sometimes_zero)
def _(v):
    return ref("l1").l1_subgradient(np.array([v.w]), v.lam)[0]


def _at_threshold(v, rng, index):
    if index < 3:
        v["w"] = [0.0, v["t"], -v["t"]][index]


@oracle("l1.soft_threshold", prepare=_at_threshold)
def _(v):
    return ref("l1").soft_threshold(np.array([v.w]), v.t)[0]


@oracle("l1.lasso_objective")
def _(v):
    return 0.5 * np.linalg.norm(v.y - v.X @ v.w) ** 2 + v.lam * np.linalg.norm(v.w, 1)


@oracle("l1.rho")
def _(v):
    residual = [v.y[i] - sum(v.X[i, k] * v.w[k] for k in range(v.D)) + v.x_j[i] * v.w_j for i in range(v.N)]
    return sum(a * r for a, r in zip(v.x_j, residual))


def _some_at_threshold(v, rng, index):
    v["rho"][0] = v["lam"]  # |ρ| exactly λ: w_j is 0


@oracle("l1.coordinate_update", prepare=_some_at_threshold, rtol=1e-6, atol=1e-7)
def _(v):  # minimise the lasso objective along w_j: ½ |x_j|² w² − ρ w + λ |w|
    a = float(np.sum(v.x_j**2))
    out = []
    for rho in v.rho:
        f = lambda w, rho=rho: 0.5 * a * w**2 - rho * w + v.lam * abs(w)  # noqa: E731
        bound = abs(rho) / a + 1
        out.append(optimize.minimize_scalar(f, bounds=(-bound, bound), method="bounded",
                                            options={"xatol": 1e-12}).x)
    return np.array(out)


@oracle("l1.ista_step")
def _(v):
    return ref("l1").soft_threshold(v.w - v.eta * v.grad_L, v.eta * v.lam)


@oracle("l1.ista_lasso_step", rtol=1e-5, atol=1e-6)
def _(v):
    grad = numerical_gradient(lambda w: 0.5 * np.linalg.norm(v.y - v.X @ w) ** 2, v.w)
    return ref("l1").soft_threshold(v.w - v.eta * grad, v.eta * v.lam)


# priors --------------------------------------------------------------------------------------

#: the prior of one weight, as a scipy distribution of the card's parameter
PRIORS = {"gaussian": lambda v: stats.norm(scale=v.sigma), "laplace": lambda v: stats.laplace(scale=v.b)}
for _family, _prior in PRIORS.items():
    oracle(f"priors.{_family}_density")(lambda v, prior=_prior: prior(v).pdf(v.w))
    oracle(f"priors.{_family}_neg_log_one")(lambda v, prior=_prior: -prior(v).logpdf(v.w))
    oracle(f"priors.{_family}_neg_log_prior")(lambda v, prior=_prior: -np.sum(prior(v).logpdf(v.w)))


def gaussian_nll(v):
    return -np.sum(stats.norm.logpdf(v.y, loc=v.X @ v.w, scale=v.sigma_n))


@oracle("priors.gaussian_neg_log_likelihood")
def _(v):
    return gaussian_nll(v)


@oracle("priors.ridge_from_map")
def _(v):  # σ_n² (−log likelihood − log prior), without the normalising constants
    constants = -v.N * stats.norm.logpdf(0, scale=v.sigma_n) - v.D * stats.norm.logpdf(0, scale=v.sigma)
    return v.sigma_n**2 * (gaussian_nll(v) - np.sum(stats.norm.logpdf(v.w, scale=v.sigma)) - constants)


@oracle("priors.lasso_from_map")
def _(v):
    constants = -v.N * stats.norm.logpdf(0, scale=v.sigma_n) - v.D * stats.laplace.logpdf(0, scale=v.b)
    return v.sigma_n**2 * (gaussian_nll(v) - np.sum(stats.laplace.logpdf(v.w, scale=v.b)) - constants)


@oracle("priors.ridge_lambda")
def _(v):
    return ref("priors").ridge_lambda_from_prior(v.sigma_n**2, v.sigma)


@oracle("priors.lasso_lambda")
def _(v):
    return ref("priors").lasso_lambda_from_prior(v.sigma_n**2, v.b)


@oracle("priors.ridge_lambda_unit_noise")
def _(v):
    return ref("priors").ridge_lambda_from_prior(1.0, v.sigma)


@oracle("priors.lasso_lambda_unit_noise")
def _(v):
    return ref("priors").lasso_lambda_from_prior(1.0, v.b)


# logistic regression -------------------------------------------------------------------------

#: one-line oracles: scipy's logistic function, its logarithm and the Bernoulli distribution
for _card_id, _f in {
    "logistic_regression.sigmoid": lambda v: special.expit(v.z),
    "logistic_regression.sigmoid_symmetry": lambda v: special.expit(-v.z),
    "logistic_regression.predict": lambda v: ref("logistic_regression").predict_proba(v.theta, v.X),
    "logistic_regression.probability": lambda v: stats.bernoulli.pmf(v.y, v.h),
    "logistic_regression.likelihood": lambda v: np.prod(stats.bernoulli.pmf(v.y, v.h)),
    "logistic_regression.log_likelihood": lambda v: np.sum(stats.bernoulli.logpmf(v.y, v.h)),
    "logistic_regression.log_likelihood_z": lambda v: -log_loss(v.y, v.z),
    "logistic_regression.log_h_stable": lambda v: special.log_expit(v.z),
}.items():
    oracle(_card_id)(_f)
for _card_id, _f in {  # derivatives, by finite differences
    "logistic_regression.sigmoid_grad": lambda v: derivative(special.expit, v.z),
    "logistic_regression.dlog_g": lambda v: derivative(special.log_expit, v.z),
    "logistic_regression.dlog_one_minus_g": lambda v: derivative(lambda z: special.log_expit(-z), v.z),
}.items():
    oracle(_card_id, **FD)(_f)


@oracle("logistic_regression.dl_dz", **FD)
def _(v):
    return derivative(lambda z: -log_loss(v.y, z), v.z)


@oracle("logistic_regression.dl_dtheta_j", **FD)
def _(v):  # θ_j moves the logit by x_j per unit
    return derivative(lambda t: -log_loss(v.y, v.z + t * v.x_j), 0.0)


def log_likelihood(v, theta):
    return ref("logistic_regression").log_likelihood(theta, v.X, v.y)


@oracle("logistic_regression.gradient", **FD)
def _(v):
    return numerical_gradient(lambda t: log_likelihood(v, t), v.theta)


@oracle("logistic_regression.ascent_step")
def _(v):
    return ref("logistic_regression").gradient_ascent_step(v.theta, v.X, v.y, v.lr)


@oracle("logistic_regression.fit_step", **FD)
def _(v):  # one step along the gradient of the mean log-likelihood
    return v.theta + v.lr * numerical_gradient(lambda t: log_likelihood(v, t) / v.N, v.theta)


@oracle("logistic_regression.cost")
def _(v):
    return -np.mean(stats.bernoulli.logpmf(v.y, v.h))


@oracle("logistic_regression.cost_gradient", **FD)
def _(v):
    return numerical_gradient(lambda t: -log_likelihood(v, t) / v.N, v.theta)


@oracle("logistic_regression.log_odds")
def _(v):  # log P(y = 1 | x) − log P(y = 0 | x), each from the reference's log-likelihood
    log_p = lambda row, label: ref("logistic_regression").log_likelihood(v.theta, row[None], np.array([label]))  # noqa: E731
    return np.array([log_p(row, 1.0) - log_p(row, 0.0) for row in v.X])


# SVM -----------------------------------------------------------------------------------------

def _margin_one(v, rng, index):
    if index % 2 == 0:  # sample 0 exactly on the margin, in exact arithmetic: x_0 = e_1, w_1 = 3/4
        v["X"][0] = 0.0
        v["X"][0, 0] = 1.0
        v["w"][0] = 0.75
        v["b"] = float(v["y"][0]) - 0.75


def _hinge_edge(v, rng, index):
    if index % 3 == 0:
        v["f"] = v["y"]  # y f = 1 exactly


@oracle("svm_primal.hinge", prepare=_hinge_edge)
def _(v):  # one sample at x = 0 with bias f and w = 0: the objective is its hinge loss
    return ref("svm_primal").hinge_objective(np.zeros(1), v.f, np.zeros((1, 1)), np.array([v.y]), 1.0)


@oracle("svm_primal.objective", prepare=_margin_one)
def _(v):
    return ref("svm_primal").hinge_objective(v.w, v.b, v.X, v.y, v.C)


@oracle("svm_primal.subgradient_w", prepare=_margin_one)
def _(v):
    return ref("svm_primal").hinge_subgradient(v.w, v.b, v.X, v.y, v.C)[0]


@oracle("svm_primal.subgradient_b", prepare=_margin_one)
def _(v):
    return ref("svm_primal").hinge_subgradient(v.w, v.b, v.X, v.y, v.C)[1]


def _projection(w, b, x):
    """The point of the hyperplane w·x + b = 0 nearest to x."""
    return x - (w @ x + b) / (w @ w) * w


@oracle("svm_primal.margin_width")
def _(v):  # the distance between a point of w·x + b = 1 and its nearest point of w·x + b = −1
    point = _projection(v.w, -1.0, np.zeros(v.D))
    return np.linalg.norm(point - _projection(v.w, 1.0, point))


@oracle("svm_primal.geometric_margin")
def _(v):
    return np.array([
        label * np.sign(v.w @ x + v.b) * np.linalg.norm(x - _projection(v.w, v.b, x))
        for x, label in zip(v.X, v.y)
    ])


@oracle("svm_primal.functional_margin")
def _(v):
    return np.array([label * (sum(a * c for a, c in zip(x, v.w)) + v.b) for x, label in zip(v.X, v.y)])


@oracle("svm_primal.slack_hinge", prepare=_margin_one)
def _(v):  # the smallest ξ_i >= 0 with y_i (w·x_i + b) >= 1 − ξ_i, by a linear program
    out = []
    for x, label in zip(v.X, v.y):
        margin = label * (x @ v.w + v.b)
        out.append(optimize.linprog([1.0], A_ub=[[-1.0]], b_ub=[margin - 1.0], bounds=[(0, None)]).x[0])
    return np.array(out)


def lagrangian(X, y, w, b, alpha):
    return 0.5 * w @ w - sum(a * (t * (x @ w + b) - 1) for x, t, a in zip(X, y, alpha))


@oracle("svm_dual.lagrangian")
def _(v):
    return lagrangian(v.X, v.y, v.w, v.b, v.alpha)


@oracle("svm_dual.stationarity_w", **FD)
def _(v):  # L is ½|w|² plus a linear term in w: its minimiser is minus the gradient at w = 0
    w = -numerical_gradient(lambda w: lagrangian(v.X, v.y, w, 0.0, v.alpha), np.zeros(v.D))
    np.testing.assert_allclose(w, ref("svm_dual").weights_from_dual(v.alpha, v.X, v.y), rtol=1e-6)
    return w


@oracle("svm_dual.dual_from_substitution")
def _(v):  # b multiplies Σ α_i y_i, which is 0: evaluate at b = 0
    w = sum(a * t * x for x, t, a in zip(v.X, v.y, v.alpha))
    return lagrangian(v.X, v.y, w, 0.0, v.alpha)


@oracle("svm_dual.dual_objective")
def _(v):
    return ref("svm_dual").dual_objective(v.alpha, v.K, v.y)


@oracle("svm_dual.linear_kernel")
def _(v):
    return ref("svm_dual").linear_kernel(v.X1, v.X2)


@oracle("svm_dual.rbf_kernel")
def _(v):
    return ref("svm_dual").rbf_kernel(v.x[None], v.x2[None], v.gamma)[0, 0]


@oracle("svm_dual.rbf_matrix")
def _(v):
    return np.array([[math.exp(-v.gamma * np.linalg.norm(a - c) ** 2) for c in v.X2] for a in v.X1])


@oracle("svm_dual.bias")
def _(v):
    return v.y_s - sum(a * t * k for a, t, k in zip(v.alpha, v.y, v.K_s))


@oracle("svm_dual.bias_mean")
def _(v):
    per_vector = [label - sum(a * t * k for a, t, k in zip(v.alpha, v.y, row)) for row, label in zip(v.K_free, v.y_free)]
    return math.fsum(per_vector) / len(per_vector)


@oracle("svm_dual.decision")
def _(v):
    return ref("svm_dual").decision_function(v.alpha, v.b, v.K_test, v.y)


def two_point_dual(K, y, alpha):
    return ref("svm_dual").dual_objective(np.asarray(alpha, dtype=float), K, y)


@oracle("svm_dual.smo_eta", rtol=1e-5, atol=1e-5)
def _(v):  # −d²W/dα_2² along α_1 y_1 + α_2 y_2 = ζ
    K = np.array([[v.K_11, v.K_12], [v.K_12, v.K_22]])
    y, zeta = np.array([1.0, -1.0]), 0.3
    return -second_derivative(lambda a2: two_point_dual(K, y, [y[0] * (zeta - y[1] * a2), a2]), 0.4)


@oracle("svm_dual.smo_alpha2", rtol=1e-6, atol=1e-7)
def _(v):  # a two-point problem with these errors, maximised along the constraint line
    y = np.array([1.0, v.y_2])
    K = np.array([[v.eta, 0.0], [0.0, 0.0]])  # K_11 + K_22 − 2 K_12 = η
    # E_i = f(x_i) − y_i with f = Σ α_j y_j K(x_j, ·) + b: choose α_1 so E_1 − E_2 is as given
    alpha_1 = (v.E_1 - v.E_2 + y[0] - y[1]) / (y[0] * v.eta)
    zeta = alpha_1 * y[0] + v.alpha_2 * y[1]
    W = lambda a2: two_point_dual(K, y, [y[0] * (zeta - y[1] * a2), a2])  # noqa: E731
    return optimize.minimize_scalar(lambda a2: -W(a2), tol=1e-12).x


def _inside_box(v, rng, index):
    v["C"] = max(v["C"], v["alpha_1"], v["alpha_2"])


def _alpha2_range(v, same_labels):
    """The feasible interval of α_2 on the constraint line inside [0, C]², by linear programs."""
    y1, y2 = 1.0, (1.0 if same_labels else -1.0)
    zeta = y1 * v.alpha_1 + y2 * v.alpha_2
    bounds = [(0, v.C), (0, v.C)]
    low = optimize.linprog([0, 1], A_eq=[[y1, y2]], b_eq=[zeta], bounds=bounds).x[1]
    high = optimize.linprog([0, -1], A_eq=[[y1, y2]], b_eq=[zeta], bounds=bounds).x[1]
    return low, high


for _labels, _same in (("unequal", False), ("equal", True)):
    for _end, _name in enumerate(("low", "high")):
        oracle(f"svm_dual.smo_{_name}_{_labels}", prepare=_inside_box, atol=1e-7)(
            lambda v, same=_same, end=_end: _alpha2_range(v, same_labels=same)[end]
        )


def _ordered_bounds(v, rng, index):
    v["L"], v["H"] = sorted((v["L"], v["H"]))
    if index % 3 == 0:
        v["alpha_2_unc"] = v["H"]


@oracle("svm_dual.smo_clip", prepare=_ordered_bounds)
def _(v):  # the point of [L, H] nearest to the unclipped maximiser of a concave quadratic
    return min((v.L, v.H, v.alpha_2_unc), key=lambda a: (a - v.alpha_2_unc) ** 2 if v.L <= a <= v.H else np.inf)


@oracle("svm_dual.smo_alpha1")
def _(v):  # keep α_1 y_1 + α_2 y_2
    (alpha_1,) = np.linalg.solve([[v.y_1]], [v.alpha_1 * v.y_1 + v.alpha_2 * v.y_2 - v.alpha_2_new * v.y_2])
    return alpha_1


def _bias_making_f_equal_label(v, i):
    """The bias with which the updated decision function gives f(x_i) = y_i."""
    y_i, error = (v.y_1, v.E_1) if i == 1 else (v.y_2, v.E_2)
    k1, k2 = (v.K_11, v.K_12) if i == 1 else (v.K_12, v.K_22)
    old_f = error + y_i  # E_i = f(x_i) − y_i
    new_f = lambda b: old_f - v.b + b + v.y_1 * (v.alpha_1_new - v.alpha_1) * k1 + v.y_2 * (v.alpha_2_new - v.alpha_2) * k2  # noqa: E731
    return optimize.brentq(lambda b: new_f(b) - y_i, -1e3, 1e3, xtol=1e-13)


@oracle("svm_dual.smo_b1", rtol=1e-9, atol=1e-9)
def _(v):
    return _bias_making_f_equal_label(v, 1)


@oracle("svm_dual.smo_b2", rtol=1e-9, atol=1e-9)
def _(v):
    return _bias_making_f_equal_label(v, 2)


# AdaBoost ------------------------------------------------------------------------------------

@oracle("adaboost.error")
def _(v):
    return ref("adaboost").weighted_error(v.w, v.y, v.pred)


@oracle("adaboost.alpha")
def _(v):
    return ref("adaboost").compute_alpha(v.e_m)


@oracle("adaboost.z")
def _(v):  # the reference normalises by Z: unnormalised / normalised
    updated = ref("adaboost").update_weights(v.w, v.alpha, v.y, v.pred)
    return v.w[0] * math.exp(-v.alpha * v.y[0] * v.pred[0]) / updated[0]


@oracle("adaboost.update")
def _(v):
    return ref("adaboost").update_weights(v.w, v.alpha, v.y, v.pred)


def _normalised_round(e):
    """Five samples with weights summing to 1, the first two (weight e) misclassified."""
    w = np.array([e / 2, e / 2, (1 - e) / 3, (1 - e) / 3, (1 - e) / 3])
    y, pred = np.ones(5), np.array([-1.0, -1.0, 1.0, 1.0, 1.0])
    return w, y, pred


def _exp_loss_of_round(e, alpha):
    w, y, pred = _normalised_round(e)
    return math.fsum(w * np.exp(-alpha * y * pred))


@oracle("adaboost.z_closed_form")
def _(v):
    return _exp_loss_of_round(v.e_m, ref("adaboost").compute_alpha(v.e_m))


@oracle("adaboost.exp_loss_alpha")
def _(v):
    return _exp_loss_of_round(v.e_m, v.alpha)


def _edge_below_half(v, rng, index):
    v["gamma"] *= 0.5


@oracle("adaboost.z_gamma", prepare=_edge_below_half)
def _(v):
    e = 0.5 - v.gamma
    return _exp_loss_of_round(e, ref("adaboost").compute_alpha(e))


@oracle("adaboost.factor_correct")
def _(v):
    return math.exp(-ref("adaboost").compute_alpha(v.e_m))


@oracle("adaboost.factor_wrong")
def _(v):
    return math.exp(ref("adaboost").compute_alpha(v.e_m))


@oracle("adaboost.f")
def _(v):
    return np.array([math.fsum(a * g for a, g in zip(v.alpha, column)) for column in v.G.T])


def _zero_score(v, rng, index):
    v["f"][0] = 0.0


@oracle("adaboost.final_classifier", prepare=_zero_score)
def _(v):  # a model of one stump predicting +1 at x = 0 with vote f_i scores exactly f_i
    predict = ref("adaboost").adaboost_predict
    return np.array([predict([(score, (0, 1.0, 1))], np.zeros((1, 1)))[0] for score in v.f])


@oracle("adaboost.exp_loss")
def _(v):
    return math.fsum(math.exp(-t * s) for t, s in zip(v.y, v.f))


def _on_threshold(v, rng, index):
    v["x"][0] = v["t"]
    v["x"][1] = np.nextafter(v["t"], np.inf)


@oracle("adaboost.stump", prepare=_on_threshold)
def _(v):
    return ref("adaboost").stump_predict((0, v.t, int(v.p)), v.x[:, None])


@oracle("adaboost.initial_weights")
def _(v):
    return np.full(v.N, 1.0 / v.N)


# GBDT ----------------------------------------------------------------------------------------

@oracle("gbdt.negative_gradient", **FD)
def _(v):
    value = -derivative(lambda f: 0.5 * (v.y - f) ** 2, v.f)
    assert np.isclose(value, ref("gbdt").negative_gradient(np.array([v.y]), np.array([v.f]))[0])
    return value


@oracle("gbdt.f0", rtol=1e-6, atol=1e-7)
def _(v):
    return optimize.minimize_scalar(lambda c: 0.5 * np.sum((v.y - c) ** 2), tol=1e-12).x


@oracle("gbdt.leaf_value")
def _(v):  # a tree of depth 0 is one leaf
    gbdt = ref("gbdt")
    X = np.zeros((v.n, 1))
    return gbdt.tree_predict(gbdt.fit_tree(X, v.r, 0), X[:1])[0]


@oracle("gbdt.split_sse")
def _(v):  # the reference's depth-1 tree on a feature that separates the sides exactly
    gbdt = ref("gbdt")
    X = np.r_[np.zeros(v.L), np.ones(v.R)][:, None]
    r = np.r_[v.r_left, v.r_right]
    fitted = gbdt.tree_predict(gbdt.fit_tree(X, r, 1), X)
    return math.fsum((r - fitted) ** 2)


@oracle("gbdt.update")
def _(v):
    return np.array([f + v.nu * h for f, h in zip(v.f_prev, v.h)])


@oracle("gbdt.final_prediction")
def _(v):
    return np.array([v.f0 + v.nu * math.fsum(column) for column in v.T.T])


@oracle("gbdt.squared_loss_total")
def _(v):
    return math.fsum(0.5 * (a - b) ** 2 for a, b in zip(v.y, v.f))


# Taylor and XGBoost --------------------------------------------------------------------------

@oracle("taylor.second_order")
def _(v):
    return ref("taylor").taylor_polynomial(np.array([v.f_0, v.f_1, v.f_2]), 0.0, v.t)


@oracle("taylor.exp")
def _(v):  # the derivatives of e^x at 0 are all 1
    return ref("taylor").taylor_polynomial(np.ones(3), 0.0, v.x)


@oracle("taylor.loss_expansion")
def _(v):
    return ref("taylor").taylor_polynomial(np.array([v.l, v.g, v.h]), 0.0, v.f)


@oracle("taylor.g_squared", **FD)
def _(v):
    return derivative(lambda p: 0.5 * (v.y - p) ** 2, v.y_hat)


@oracle("taylor.h_squared", **FD)
def _(v):
    return second_derivative(lambda p: 0.5 * (v.y - p) ** 2, v.y_hat)


@oracle("taylor.g_logistic", **FD)
def _(v):
    return derivative(lambda p: log_loss(v.y, p), v.y_hat)


@oracle("taylor.h_logistic", rtol=1e-4, atol=1e-5)
def _(v):
    return second_derivative(lambda p: log_loss(v.y, p), v.y_hat)


@oracle("taylor.regularizer")
def _(v):
    return v.gamma * len(v.w) + 0.5 * v.lam * math.fsum(v.w**2)


@oracle("taylor.objective")
def _(v):
    data = math.fsum(g * f + 0.5 * h * f**2 for g, h, f in zip(v.g, v.h, v.ft))
    return data + v.gamma * len(v.w) + 0.5 * v.lam * math.fsum(v.w**2)


@oracle("taylor.objective_by_leaf")
def _(v):
    return math.fsum(G * w + 0.5 * (H + v.lam) * w**2 for G, H, w in zip(v.G, v.H, v.w)) + v.gamma * len(v.w)


@oracle("taylor.leaf_weight")
def _(v):
    return ref("taylor").leaf_weight(v.G, v.H, v.lam)


@oracle("taylor.leaf_score", rtol=1e-6, atol=1e-8)
def _(v):
    return optimize.minimize_scalar(lambda w: v.G * w + 0.5 * (v.H + v.lam) * w**2, tol=1e-12).fun


@oracle("taylor.structure_score")
def _(v):
    return ref("taylor").structure_score(v.G, v.H, v.lam, v.gamma)


@oracle("taylor.split_gain")
def _(v):
    return ref("taylor").split_gain(v.G_L, v.H_L, v.G_R, v.H_R, v.lam, v.gamma)


@oracle("taylor.g_leaf_sum")
def _(v):
    return math.fsum(g for g, member in zip(v.g, v.in_leaf) if member == 1)


@oracle("taylor.h_leaf_sum")
def _(v):
    return math.fsum(h for h, member in zip(v.h, v.in_leaf) if member == 1)


@oracle("taylor.newton_step", rtol=1e-6, atol=1e-7)
def _(v):
    return optimize.minimize_scalar(lambda f: v.g * f + 0.5 * v.h * f**2, tol=1e-12).x


# --- every card against its oracle ----------------------------------------------------------

def test_every_checkable_card_has_an_oracle():
    assert {card.id for card in CHECKABLE} == set(ORACLES)


#: random inputs per card: arrays (each draw with fresh dimension sizes), formula points
DRAWS = {"array": 6, "formula": 16}


def oracle_disagreement(card, text: str | None = None, seed: int = 0) -> str | None:
    """Evaluate the card's answer (or ``text``) and its oracle on random inputs; the first
    disagreement as a message, or None."""
    rng = np.random.default_rng(seed)
    spec = ORACLES[card.id]
    for index in range(DRAWS[card.kind]):
        env = draw_inputs(card, rng, index)
        expected = np.asarray(spec.f(SimpleNamespace(**env)), dtype=float)
        if card.kind == "array":
            got = numpy_value(card, {k: v for k, v in env.items() if k in card.array_names}, text)
        else:
            got = np.asarray(formula_value(card, {k: env[k] for k in card.symbols}, text))
        if got.shape != expected.shape:
            return f"shape {got.shape}, expected {expected.shape}"
        scale = 1.0 + float(np.max(np.abs(expected))) if expected.size else 1.0
        if not np.allclose(got, expected, rtol=spec.rtol, atol=spec.atol * scale):
            return f"on {env}: {got} != {expected}"
    return None


@pytest.mark.parametrize("card", CHECKABLE, ids=lambda c: c.id)
def test_every_card_answer_equals_its_oracle(card):
    problem = oracle_disagreement(card)
    assert problem is None, problem


@pytest.mark.parametrize("card", CHECKABLE, ids=lambda c: c.id)
def test_the_oracles_reject_the_cards_wrong_answers(card):
    """Each oracle can fail: the card's listed wrong answers, put in place of its answer,
    disagree with it (so a wrong card answer would fail the test above)."""
    assert card.reject, "every checkable card lists wrong answers"
    evaluated = 0
    for text in card.reject:
        try:
            problem = oracle_disagreement(card, text)
        except (SyntaxError, TypeError, ValueError, NameError, sympy.SympifyError):
            continue  # notation only the checker reads
        evaluated += 1
        assert problem is not None, f"{text!r} agrees with the oracle"
    assert evaluated, "no wrong answer could be evaluated"


@pytest.mark.parametrize("card_id, wrong", [
    ("adaboost.stump", "p * sign(t - x)"),  # 0 on the threshold, where the stump says p
    ("adaboost.final_classifier", "sign(f)"),  # 0 for a score of 0, where the model says +1
    ("svm_primal.subgradient_w", "w - C * X.T @ (y * (y * (X @ w + b) <= 1))"),  # margin exactly 1
    ("l1.subgradient", "lam * w / abs(w)"),  # undefined at w = 0
])
def test_the_oracles_see_the_edges(card_id, wrong):
    assert oracle_disagreement(get_card(card_id), wrong) is not None


def test_closed_forms_minimise_what_they_claim():
    """Stationary points, solved by sympy, equal the cards' closed forms."""
    a, e = sympy.symbols("a e", positive=True)
    (stationary,) = sympy.solve(sympy.diff((1 - e) * sympy.exp(-a) + e * sympy.exp(a), a), a)
    card = get_card("adaboost.alpha")
    assert sympy.simplify(stationary - sympy_value(card).subs(card_symbols(card)["e_m"], e)) == 0
    card = get_card("adaboost.exp_loss_alpha")
    symbols = card_symbols(card)
    loss = sympy_value(card).subs({symbols["e_m"]: e, symbols["alpha"]: a})
    assert sympy.simplify(sympy.solve(sympy.diff(loss, a), a)[0] - stationary) == 0
    G, H, L = sympy.symbols("G H lam", positive=True)
    v = sympy.Symbol("v", real=True)
    quadratic = G * v + (H + L) * v**2 / 2
    (best,) = sympy.solve(sympy.diff(quadratic, v), v)
    for card_id, value in [("taylor.leaf_weight", best), ("taylor.leaf_score", quadratic.subs(v, best))]:
        card = get_card(card_id)
        symbols = card_symbols(card)
        ours = sympy_value(card).xreplace({symbols["G"]: G, symbols["H"]: H, symbols["lam"]: L})
        assert sympy.simplify(ours - value) == 0, card_id


def test_the_edge_cards_follow_the_curriculum():
    """The conventions at the edges, read from the cards' questions."""
    assert "exactly 0 gives +1" in get_card("adaboost.final_classifier").question_en
    assert "x ≤ t" in get_card("adaboost.stump").question_en
    assert "f_0" in get_card("gbdt.final_model").answer_latex
    assert "lr" in get_card("logistic_regression.ascent_step").answer_latex
    for card_id in ("logistic_regression.ascent_step", "logistic_regression.fit_step"):
        assert "alpha" not in get_card(card_id).answer_latex
    assert get_card("logistic_regression.predict").answer_latex == r"g(X\theta)"
    for card_id in ("backprop.cost", "l2.ridge_objective", "l1.lasso_objective", "svm_primal.objective",
                    "logistic_regression.log_likelihood", "logistic_regression.cost", "taylor.objective",
                    "gbdt.split_sse", "gbdt.squared_loss_total", "backprop.cross_entropy_cost",
                    "svm_dual.dual_objective", "svm_dual.lagrangian", "l2.penalty", "l1.penalty",
                    "adaboost.exp_loss", "taylor.regularizer", "l2.generic_objective",
                    "priors.gaussian_neg_log_likelihood"):
        card = get_card(card_id)
        assert re.search(r"½|not averaged|mean|sum", card.question_en), card_id
        assert re.search(r"½|不取平均|平均|求和", card.question_zh), card_id
    for lang in ("question_en", "question_zh"):
        assert "r_left" in getattr(get_card("gbdt.split_sse"), lang) and "r_right" in getattr(get_card("gbdt.split_sse"), lang)

# --- validation of card files ---------------------------------------------------------------

GOOD = """
[[card]]
id = "backprop.one"
topic = "backprop"
question_en = "What?"
question_zh = "什么？"
answer_latex = 'x'
answer_sympy = "x"
symbols = { x = "real" }
"""


@pytest.mark.parametrize("change, message", [
    (lambda s: s + s, "duplicate card id"),
    (lambda s: s.replace('question_zh = "什么？"', 'question_zh = "what"'), "no Chinese"),
    (lambda s: s.replace('question_en = "What?"\n', ""), "question_en"),
    (lambda s: s.replace('answer_sympy = "x"', 'answer_sympy = "x"\nanswer_numpy = "x"'), "exactly one"),
    (lambda s: s.replace('id = "backprop.one"', 'id = "bn_forward.one"'), "the id must look like"),
    (lambda s: s.replace('topic = "backprop"', 'topic = "l2"'), "differs from its file name"),
    (lambda s: s + 'colour = "red"\n', "unknown keys"),
    (lambda s: s.replace('x = "real"', 'x = "complex"'), "domain"),
    (lambda s: s.replace("[[card]]", "[[cards]]"), "expected only"),
])
def test_malformed_cards_are_reported(tmp_path, change, message):
    (tmp_path / "backprop.toml").write_text(change(GOOD), encoding="utf-8")
    with pytest.raises(DeckError, match=message):
        load_deck(tmp_path)


def test_a_card_file_without_a_topic_is_reported(tmp_path):
    (tmp_path / "good").mkdir()
    (tmp_path / "good" / "backprop.toml").write_text(GOOD, encoding="utf-8")
    assert [c.id for c in load_deck(tmp_path / "good")] == ["backprop.one"]
    (tmp_path / "stray").mkdir()
    (tmp_path / "stray" / "backprop.toml").write_text(GOOD, encoding="utf-8")
    (tmp_path / "stray" / "calculus.toml").write_text(GOOD, encoding="utf-8")
    with pytest.raises(DeckError, match="calculus"):
        load_deck(tmp_path / "stray")


# --- LaTeX as terminal text -----------------------------------------------------------------

@pytest.mark.parametrize("latex, text", [
    (r"\frac{1}{1+e^{-z}}", "1/(1+e⁻ᶻ)"),
    (r"\frac{\partial L}{\partial \hat x_i}", "∂L/∂x̂ᵢ"),
    (r"\sum_{i=1}^{N} x_i", "Σᵢ₌₁ᴺ xᵢ"),
    (r"\frac{1}{2}\ln\frac{1 - e_m}{e_m}", "1/2 ln((1 - eₘ)/eₘ)"),
    (r"\sqrt{\sigma_B^2 + \epsilon}", "√(σ_B² + ε)"),
    (r"x^{\top} \delta", "xᵀ δ"),
    (r"\sum_{j=1}^{J} c_j I(x \in R_j)", "Σⱼ₌₁ᴶ cⱼ I(x ∈ Rⱼ)"),
])
def test_latex_to_text(latex, text):
    assert latex_to_text(latex) == text


def test_every_answer_renders_as_text_without_backslashes():
    for card in DECK:
        assert "\\" not in card.answer_text, (card.id, card.answer_text)
        assert "\\" not in card.lhs_text, (card.id, card.lhs_text)
