"""The deck: every card loads, is bilingual, parses, and says what the curriculum says.

Independent oracles: sympy's own differentiation for the derivative cards, centred finite
differences for the gradient cards, the defining minimisation for the closed forms.
"""

import re
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import sympy
from sympy.parsing.latex import parse_latex

from mlquiz.grading.numeric import numerical_gradient

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

DECK = load_deck()
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
        "linear_kernel": "svm_dual.linear_kernel", "rbf_kernel": "svm_dual.rbf_kernel",
        "dual_objective": "svm_dual.dual_objective", "weights_from_dual": "svm_dual.stationarity_w",
        "bias_from_dual": "svm_dual.bias", "decision_function": "svm_dual.decision",
        "smo_fit": "svm_dual.smo_alpha2",
    },
    "adaboost": {
        "weighted_error": "adaboost.error", "compute_alpha": "adaboost.alpha",
        "update_weights": "adaboost.update", "fit_stump": "adaboost.error",
        "stump_predict": "adaboost.stump", "adaboost_fit": "adaboost.z",
        "adaboost_predict": "adaboost.final_classifier",
    },
    "gbdt": {
        "negative_gradient": "gbdt.negative_gradient", "fit_tree": "gbdt.split_sse",
        "tree_predict": "gbdt.tree", "gbdt_fit": "gbdt.update", "gbdt_predict": "gbdt.final_prediction",
    },
    "taylor": {
        "taylor_polynomial": "taylor.series", "grad_hess": "taylor.g_logistic",
        "leaf_weight": "taylor.leaf_weight", "structure_score": "taylor.structure_score",
        "split_gain": "taylor.split_gain",
    },
}

#: the derivations CURRICULUM.md lists under Flashcards
DERIVATION_CARDS = [
    "backprop.bp1", "backprop.bp2", "backprop.bp3", "backprop.bp4",
    "bn_backward.dx_hat", "bn_backward.dvar", "bn_backward.dmu", "bn_backward.dx",
    "bn_backward.dgamma", "bn_backward.dbeta",
    "logistic_regression.likelihood", "logistic_regression.log_likelihood",
    "logistic_regression.gradient",
    "svm_dual.lagrangian", "svm_dual.dual_objective", "svm_dual.kkt", "svm_dual.kkt_soft",
    "adaboost.error", "adaboost.alpha", "adaboost.z", "adaboost.f", "adaboost.final_classifier",
    "gbdt.final_model", "taylor.series", "taylor.second_order", "taylor.objective",
]


# --- the deck as data -----------------------------------------------------------------------

def test_the_deck_is_large_and_covers_every_topic():
    assert len(DECK) >= 60
    topics = {card.topic for card in DECK}
    assert topics == {exercise.id for exercise in exercises()}
    for exercise in exercises():
        assert len(cards_by_topic(exercise.id)) >= 3, exercise.id


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
        assert len(card_ids()) >= 60 and load_deck()[0].answer_text
        heavy = [m for m in ("sympy", "numpy", "genanki", "antlr4") if m in sys.modules]
        assert not heavy, heavy
    """)
    subprocess.run([sys.executable, "-c", code], check=True)


# --- LaTeX and sympy answers ----------------------------------------------------------------

def test_every_latex_answer_parses_and_equals_its_sympy_answer():
    """parse_latex (strict: the whole text is read) for every checkable card; for formula
    cards, the parsed LaTeX is equivalent to answer_sympy."""
    for card in DECK:
        if card.kind == "display":
            continue
        try:
            parse_latex(card.answer_latex, strict=True)
        except Exception as exc:  # noqa: BLE001 - name the card in the failure
            pytest.fail(f"{card.id}: {card.answer_latex!r} does not parse: {exc}")
        if card.kind == "formula":
            table = check.card_symbols(card)
            expected = check._substitute_derived(check.expected_formula(card, table), card, table)
            from_latex = check._substitute_derived(check.latex_to_sympy(card.answer_latex, card, table, seconds=30), card, table)
            domains = {table[name]: domain for name, domain in card.symbols.items()}
            verdict = check.compare_formulas(expected, from_latex, domains, seed=0)
            assert verdict.correct, (card.id, verdict.message)


def test_every_sympy_answer_parses_over_its_symbols():
    for card in DECK:
        if card.kind != "formula":
            continue
        table = check.card_symbols(card)
        expr = check._substitute_derived(check.expected_formula(card, table), card, table)
        assert expr.free_symbols <= {table[name] for name in card.symbols}, card.id


def test_every_array_answer_evaluates_on_its_shapes():
    rng = np.random.default_rng(0)
    for card in DECK:
        if card.kind != "array":
            continue
        env, sizes = check.random_arrays(card, rng)
        value = np.asarray(check.evaluate_array(card.answer_numpy, card, env), dtype=float)
        assert np.all(np.isfinite(value)), card.id
        assert check.check_answer(card, card.answer_numpy, seed=1).correct, card.id


@pytest.mark.parametrize("card", [c for c in DECK if c.accept or c.reject], ids=lambda c: c.id)
def test_listed_answers_are_judged_as_listed(card):
    for text in card.accept:
        verdict = check.check_answer(card, text, seed=3, proof_seconds=0.1)
        assert verdict.correct, (text, verdict.message)
    for text in card.reject:
        verdict = check.check_answer(card, text, seed=3, proof_seconds=0.1)
        assert not verdict.correct, (text, verdict.message)


# --- independent oracles --------------------------------------------------------------------

z, y, f, w, lam, y_hat = sympy.symbols("z y f w lam y_hat", real=True)
SIGMOID = 1 / (1 + sympy.exp(-z))


@pytest.mark.parametrize("card_id, derivative", [
    ("backprop.sigmoid_prime", sympy.diff(SIGMOID, z)),
    ("logistic_regression.sigmoid_grad", sympy.diff(SIGMOID, z)),
    ("logistic_regression.dlog_g", sympy.diff(sympy.log(SIGMOID), z)),
    ("logistic_regression.dlog_one_minus_g", sympy.diff(sympy.log(1 - SIGMOID), z)),
    ("logistic_regression.dl_dz", sympy.diff(y * sympy.log(SIGMOID) + (1 - y) * sympy.log(1 - SIGMOID), z)),
    ("l2.grad", sympy.diff(lam / 2 * w**2, w)),
    ("gbdt.negative_gradient", -sympy.diff((y - f) ** 2 / 2, f)),
    ("taylor.g_squared", sympy.diff((y - y_hat) ** 2 / 2, y_hat)),
    ("taylor.h_squared", sympy.diff((y - y_hat) ** 2 / 2, y_hat, 2)),
    ("taylor.g_logistic", sympy.diff(-(y * sympy.log(SIGMOID) + (1 - y) * sympy.log(1 - SIGMOID)), z).subs(z, y_hat)),
    ("taylor.h_logistic", sympy.diff(-(y * sympy.log(SIGMOID) + (1 - y) * sympy.log(1 - SIGMOID)), z, 2).subs(z, y_hat)),
])
def test_derivative_cards_agree_with_sympy_diff(card_id, derivative):
    card = get_card(card_id)
    table = check.card_symbols(card)
    expected = check._substitute_derived(check.expected_formula(card, table), card, table)
    ours = {s.name: s for s in (z, y, f, w, lam, y_hat)}  # named like the cards' symbols
    mapping = {ours[name]: table[name] for name in card.symbols if name in ours}
    verdict = check.compare_formulas(expected, derivative.xreplace(mapping),
                                     {table[n]: d for n, d in card.symbols.items()}, seed=0)
    assert verdict.correct, verdict.message


def evaluate(card_id, env):
    card = get_card(card_id)
    env = dict(env)
    for name, definition in card.derived.items():
        env[name] = np.asarray(check.evaluate_array(definition, card, env), dtype=float)
    return np.asarray(check.evaluate_array(card.answer_numpy, card, env), dtype=float)


def batchnorm(x, gamma, beta, eps):
    mu = x.mean(0)
    var = ((x - mu) ** 2).mean(0)
    return gamma * (x - mu) / np.sqrt(var + eps) + beta


def test_batchnorm_backward_cards_match_finite_differences():
    rng = np.random.default_rng(5)
    n, d = 6, 3
    x, dout = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    gamma, beta, eps = rng.standard_normal(d), rng.standard_normal(d), 1e-3
    env = {"x": x, "dout": dout, "gamma": gamma, "eps": np.float64(eps), "N": np.float64(n), "D": np.float64(d)}
    loss = lambda x_, g_=gamma, b_=beta: float(np.sum(dout * batchnorm(x_, g_, b_, eps)))  # noqa: E731
    dx = numerical_gradient(loss, x.copy())
    dgamma = numerical_gradient(lambda g: loss(x, g), gamma.copy())
    dbeta = numerical_gradient(lambda b: loss(x, gamma, b), beta.copy())
    for card_id in ("bn_backward.dx", "bn_backward.dx_compact"):
        np.testing.assert_allclose(evaluate(card_id, env), dx, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(evaluate("bn_backward.dgamma", env), dgamma, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(evaluate("bn_backward.dbeta", {"dout": dout}), dbeta, rtol=1e-5, atol=1e-7)


def test_dense_layer_and_backprop_cards_match_finite_differences():
    rng = np.random.default_rng(6)
    x, W, b, dz = (rng.standard_normal(s) for s in [(5, 3), (3, 4), (4,), (5, 4)])
    loss = lambda x_, W_, b_: float(np.sum(dz * (x_ @ W_ + b_)))  # noqa: E731
    np.testing.assert_allclose(evaluate("backprop.dense_dx", {"dz": dz, "W": W}),
                               numerical_gradient(lambda v: loss(v, W, b), x.copy()), rtol=1e-6)
    np.testing.assert_allclose(evaluate("backprop.dense_dw", {"dz": dz, "x": x}),
                               numerical_gradient(lambda v: loss(x, v, b), W.copy()), rtol=1e-6)
    np.testing.assert_allclose(evaluate("backprop.dense_db", {"dz": dz}),
                               numerical_gradient(lambda v: loss(x, W, v), b.copy()), rtol=1e-6)
    # BP1 to BP4 on a two-layer sigmoid network with C = 0.5 sum((a2 - y)^2)
    sig = lambda t: 1 / (1 + np.exp(-t))  # noqa: E731
    W1, b1, W2, b2, target = (rng.standard_normal(s) for s in [(3, 4), (4,), (4, 2), (2,), (5, 2)])

    def cost(W1_, W2_):
        return 0.5 * np.sum((sig(sig(x @ W1_ + b1) @ W2_ + b2) - target) ** 2)

    z1 = x @ W1 + b1
    a1 = sig(z1)
    z2 = a1 @ W2 + b2
    delta2 = evaluate("backprop.bp1", {"z": z2, "y": target})
    delta1 = evaluate("backprop.bp2", {"delta_next": delta2, "W_next": W2, "z": z1})
    np.testing.assert_allclose(evaluate("backprop.bp4", {"a_prev": a1, "delta": delta2}),
                               numerical_gradient(lambda v: cost(W1, v), W2.copy()), rtol=1e-5)
    np.testing.assert_allclose(evaluate("backprop.bp4", {"a_prev": x, "delta": delta1}),
                               numerical_gradient(lambda v: cost(v, W2), W1.copy()), rtol=1e-5)
    np.testing.assert_allclose(evaluate("backprop.cost", {"a": sig(z2), "y": target}), cost(W1, W2))


def test_logistic_and_ridge_gradients_match_finite_differences():
    rng = np.random.default_rng(7)
    X, theta = rng.standard_normal((8, 3)), rng.standard_normal(3)
    labels = rng.integers(0, 2, 8).astype(float)

    def log_likelihood(t):
        h = 1 / (1 + np.exp(-X @ t))
        return float(np.sum(labels * np.log(h) + (1 - labels) * np.log(1 - h)))

    np.testing.assert_allclose(evaluate("logistic_regression.gradient", {"X": X, "theta": theta, "y": labels}),
                               numerical_gradient(log_likelihood, theta.copy()), rtol=1e-6)
    h = 1 / (1 + np.exp(-X @ theta))
    np.testing.assert_allclose(evaluate("logistic_regression.log_likelihood", {"h": h, "y": labels}),
                               log_likelihood(theta))
    targets, lam_value = rng.standard_normal(8), np.float64(0.7)
    ridge = lambda v: 0.5 * np.sum((targets - X @ v) ** 2) + lam_value / 2 * np.sum(v**2)  # noqa: E731
    env = {"X": X, "y": targets, "w": theta, "lam": lam_value, "N": np.float64(8), "D": np.float64(3)}
    np.testing.assert_allclose(evaluate("l2.ridge_gradient", env), numerical_gradient(ridge, theta.copy()), rtol=1e-6)
    np.testing.assert_allclose(evaluate("l2.ridge_objective", env), ridge(theta))
    best = evaluate("l2.ridge_closed_form", env)
    np.testing.assert_allclose(evaluate("l2.ridge_gradient", {**env, "w": best}), 0, atol=1e-10)


def test_closed_forms_minimise_what_they_claim():
    e_m = sympy.Rational(3, 10)
    alpha = sympy.log((1 - e_m) / e_m) / 2
    z_value = (1 - e_m) * sympy.exp(-alpha) + e_m * sympy.exp(alpha)  # weights sum to 1
    card = get_card("adaboost.z_closed_form")
    table = check.card_symbols(card)
    closed = check.expected_formula(card, table).subs(table["e_m"], e_m)
    assert sympy.simplify(closed - z_value) == 0
    # the vote alpha minimises Z_m(alpha) = (1 - e) exp(-alpha) + e exp(alpha)
    a, e = sympy.symbols("a e", positive=True)
    stationary = sympy.solve(sympy.diff((1 - e) * sympy.exp(-a) + e * sympy.exp(a), a), a)
    card = get_card("adaboost.alpha")
    table = check.card_symbols(card)
    assert sympy.simplify(stationary[0] - check.expected_formula(card, table).subs(table["e_m"], e)) == 0
    # XGBoost: w* minimises G w + 0.5 (H + lam) w^2, and the minimum is the leaf score
    G, H, L = sympy.symbols("G H lam", positive=True)
    v = sympy.Symbol("v", real=True)
    quadratic = G * v + (H + L) * v**2 / 2
    (best,) = sympy.solve(sympy.diff(quadratic, v), v)
    for card_id, value in [("taylor.leaf_weight", best), ("taylor.leaf_score", quadratic.subs(v, best))]:
        card = get_card(card_id)
        table = check.card_symbols(card)
        ours = check.expected_formula(card, table).xreplace({table["G"]: G, table["H"]: H, table["lam"]: L})
        assert sympy.simplify(ours - value) == 0, card_id


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
