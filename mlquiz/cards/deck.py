"""The flashcard deck: one TOML file per topic beside this module, loaded and validated.

Cheap: loading needs only ``tomllib`` (no sympy, no numpy), so ``mlquiz next`` and the first
question of ``mlquiz review`` do not wait for a computer algebra system.

A card (``[[card]]`` in ``<topic>.toml``) has:

=================  ==========================================================================
``id``             stable id, ``<topic>.<name>``; its schedule item is ``card:<id>``
``topic``          the exercise id of ``curriculum.toml`` it belongs to (its file's name)
``question_en``    the question in English; ``question_zh``: in Chinese
``lhs_latex``      optional: what the answer equals (``\\frac{\\partial L}{\\partial \\gamma}``)
``answer_latex``   the answer in LaTeX, shown in Anki (MathJax) and, as text, in the terminal
``answer_sympy``   a scalar formula, checked by sympy; ``symbols``: name -> domain
``answer_numpy``   an array formula, checked on random arrays; ``shapes``: name -> list of
                   dimension names or sizes (``[]`` for a scalar); ``domains``: name -> domain
``display_only``   ``true`` when nothing can be checked (constraints, definitions): the
                   learner reveals the answer and rates it
``derived``        optional: names defined from the others, in order (``mu = "x.mean(0)"``),
                   which a typed answer may use
``functions``      optional: extra function names for this card (``g = "sigma"``)
``forbid``         optional: names a typed answer may not use (the sigmoid card refuses
                   ``sigma``)
``accept``         optional: other correct answers, ``reject``: wrong ones (both tested)
=================  ==========================================================================

Domains: ``real`` (default), ``positive``, ``unit`` (between 0 and 1), ``binary`` (0 or 1),
``sign`` (-1 or +1): where random values are drawn when checking.
"""

from __future__ import annotations

import os
import re
import tomllib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from mlquiz.curriculum import exercises, get_exercise

CARDS_DIR = Path(__file__).resolve().parent
DOMAINS = ("real", "positive", "unit", "binary", "sign")
LANGUAGES = ("en", "zh")

_ID = re.compile(r"^[a-z0-9_]+\.[a-z0-9_]+$")
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_CJK = re.compile(r"[\u4e00-\u9fff]")
_KEYS = {
    "id", "topic", "question_en", "question_zh", "lhs_latex", "answer_latex", "answer_sympy",
    "symbols", "answer_numpy", "shapes", "domains", "display_only", "derived", "functions",
    "forbid", "accept", "reject",
}


class DeckError(ValueError):
    """A card file is malformed; the message names the file and the card."""


@dataclass(frozen=True, eq=False)
class Card:
    id: str
    topic: str
    question_en: str
    question_zh: str
    answer_latex: str
    lhs_latex: str = ""
    answer_sympy: str | None = None
    symbols: dict[str, str] = field(default_factory=dict)
    answer_numpy: str | None = None
    shapes: dict[str, tuple] = field(default_factory=dict)
    domains: dict[str, str] = field(default_factory=dict)
    display_only: bool = False
    derived: dict[str, str] = field(default_factory=dict)
    functions: dict[str, str] = field(default_factory=dict)
    forbid: tuple[str, ...] = ()
    accept: tuple[str, ...] = ()
    reject: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        """``"formula"`` (checked by sympy), ``"array"`` (checked on random arrays) or
        ``"display"`` (not checked)."""
        if self.answer_sympy is not None:
            return "formula"
        if self.answer_numpy is not None:
            return "array"
        return "display"

    @property
    def item_id(self) -> str:
        """The id of this card in the schedule."""
        return f"card:{self.id}"

    def question(self, lang: str = "en") -> str:
        return self.question_zh if lang == "zh" else self.question_en

    @property
    def dims(self) -> tuple[str, ...]:
        """Dimension names of the declared shapes, in order of appearance."""
        out: list[str] = []
        for shape in self.shapes.values():
            for dim in shape:
                if isinstance(dim, str) and dim not in out:
                    out.append(dim)
        return tuple(out)

    @property
    def array_names(self) -> frozenset[str]:
        """Names an array answer may use: inputs, derived arrays, dimension sizes."""
        return frozenset(self.shapes) | frozenset(self.derived) | frozenset(self.dims)

    @property
    def answer_text(self) -> str:
        """The answer as plain unicode text (no sympy needed)."""
        return latex_to_text(self.answer_latex)

    @property
    def lhs_text(self) -> str:
        return latex_to_text(self.lhs_latex) if self.lhs_latex else ""


def _fail(path: Path, card_id: str, problem: str) -> None:
    raise DeckError(f"{path.name}: card {card_id or '?'}: {problem}")


def _card_from_entry(entry: dict, path: Path) -> Card:
    card_id = entry.get("id", "") if isinstance(entry.get("id"), str) else ""
    fail = lambda problem: _fail(path, card_id, problem)  # noqa: E731

    unknown = set(entry) - _KEYS
    if unknown:
        fail(f"unknown keys {sorted(unknown)}")
    for key in ("id", "topic", "question_en", "question_zh", "answer_latex"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            fail(f"{key!r} is missing or empty")
    topic = entry["topic"]
    if topic != path.stem:
        fail(f"topic {topic!r} differs from its file name {path.stem!r}")
    if not _ID.match(card_id) or card_id.split(".")[0] != topic:
        fail(f"the id must look like '{topic}.name' (lower case, digits, underscores)")
    if not _CJK.search(entry["question_zh"]):
        fail("question_zh has no Chinese text")

    kinds = [k for k in ("answer_sympy", "answer_numpy") if k in entry]
    display_only = entry.get("display_only", False)
    if not isinstance(display_only, bool):
        fail("display_only must be true or false")
    if len(kinds) + display_only != 1:
        fail("needs exactly one of answer_sympy, answer_numpy, display_only = true")

    def names_table(key: str, check_value) -> dict:
        table = entry.get(key, {})
        if not isinstance(table, dict):
            fail(f"{key} must be a table")
        for name, value in table.items():
            if not _NAME.match(name):
                fail(f"{key}: {name!r} is not a valid name")
            check_value(name, value)
        return dict(table)

    def domain_value(name, value):
        if value not in DOMAINS:
            fail(f"domain of {name!r} must be one of {DOMAINS}")

    def shape_value(name, value):
        if not isinstance(value, list) or not all(
            (isinstance(d, str) and _NAME.match(d)) or (isinstance(d, int) and not isinstance(d, bool) and d > 0)
            for d in value
        ):
            fail(f"shape of {name!r} must be a list of dimension names or sizes")

    def string_value(name, value):
        if not isinstance(value, str) or not value.strip():
            fail(f"{name!r} must be a non-empty string")

    def function_value(name, value):
        from mlquiz.cards.parse import ARRAY_FUNCTIONS, SCALAR_FUNCTIONS

        if value not in SCALAR_FUNCTIONS and value not in ARRAY_FUNCTIONS:
            fail(f"function {name!r} must map to a known function, not {value!r}")

    symbols = names_table("symbols", domain_value)
    shapes = {k: tuple(v) for k, v in names_table("shapes", shape_value).items()}
    domains = names_table("domains", domain_value)
    derived = names_table("derived", string_value)
    functions = names_table("functions", function_value)

    def string_list(key: str) -> tuple[str, ...]:
        value = entry.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            fail(f"{key} must be a list of non-empty strings")
        return tuple(value)

    forbid, accept, reject = string_list("forbid"), string_list("accept"), string_list("reject")

    if "answer_sympy" in entry:
        if not isinstance(entry["answer_sympy"], str) or not symbols:
            fail("answer_sympy needs a formula and its symbols")
        if shapes or domains:
            fail("shapes and domains belong to answer_numpy cards; use symbols")
    if "answer_numpy" in entry:
        if not isinstance(entry["answer_numpy"], str) or not shapes:
            fail("answer_numpy needs an expression and its shapes")
        if symbols:
            fail("symbols belong to answer_sympy cards; use shapes")
        if set(domains) - set(shapes):
            fail(f"domains of undeclared arrays: {sorted(set(domains) - set(shapes))}")
        dims = {d for shape in shapes.values() for d in shape if isinstance(d, str)}
        if dims & (set(shapes) | set(derived)):
            fail(f"dimension names clash with array names: {sorted(dims & (set(shapes) | set(derived)))}")
    if display_only and (symbols or shapes or derived or accept or reject):
        fail("a display-only card has no symbols, shapes, derived names or test answers")
    if set(derived) & (set(symbols) | set(shapes)):
        fail("derived names clash with symbols or arrays")

    return Card(
        id=card_id,
        topic=topic,
        question_en=entry["question_en"].strip(),
        question_zh=entry["question_zh"].strip(),
        answer_latex=entry["answer_latex"].strip(),
        lhs_latex=entry.get("lhs_latex", "").strip(),
        answer_sympy=entry.get("answer_sympy"),
        symbols=symbols,
        answer_numpy=entry.get("answer_numpy"),
        shapes=shapes,
        domains=domains,
        display_only=display_only,
        derived=derived,
        functions=functions,
        forbid=forbid,
        accept=accept,
        reject=reject,
    )


def load_file(path: Path) -> list[Card]:
    """The cards of one topic file."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except tomllib.TOMLDecodeError as exc:
        raise DeckError(f"{path.name}: not valid TOML: {exc}") from None
    if set(data) - {"card"} or not isinstance(data.get("card"), list):
        raise DeckError(f"{path.name}: expected only [[card]] tables")
    cards = [_card_from_entry(entry, path) for entry in data["card"]]
    seen: set[str] = set()
    for card in cards:  # ids start with the topic, the file's name: duplicates are in one file
        if card.id in seen:
            raise DeckError(f"{path.name}: duplicate card id {card.id}")
        seen.add(card.id)
    return cards


def load_topic(topic: str, directory: Path | None = None) -> tuple[Card, ...]:
    """The cards of one topic (none when it has no file). ``get_card`` loads only the file
    of the card's topic, so the first question of a review does not wait for the deck."""
    return _load_topic(topic, CARDS_DIR if directory is None else Path(directory))


@cache
def _load_topic(topic: str, directory: Path) -> tuple[Card, ...]:
    path = directory / f"{topic}.toml"
    return tuple(load_file(path)) if path.is_file() else ()


@cache
def load_deck(directory: Path | None = None) -> tuple[Card, ...]:
    """Every card, in curriculum order (topic by topic, each file in its own order)."""
    folder = CARDS_DIR if directory is None else Path(directory)
    topics = [exercise.id for exercise in exercises()]
    strays = sorted({path.stem for path in folder.glob("*.toml")} - set(topics))
    if strays:
        raise DeckError(f"card files without a topic in curriculum.toml: {strays}")
    return tuple(card for topic in topics for card in load_topic(topic, directory))


def card_ids() -> list[str]:
    """Card ids in curriculum order (schedule items are ``card:<id>``)."""
    return [card.id for card in load_deck()]


def get_card(card_id: str) -> Card | None:
    """A card by id (``card:`` prefix accepted), or None."""
    card_id = card_id.removeprefix("card:")
    topic = card_id.split(".", 1)[0]
    if topic not in {exercise.id for exercise in exercises()}:
        return None
    return next((card for card in load_topic(topic) if card.id == card_id), None)


def cards_for_exercise(exercise_id: str) -> list[str]:
    """The ids of the cards of an exercise's formulas (by exercise id or file name).

    Raises ``ValueError`` for an unknown exercise."""
    exercise = get_exercise(exercise_id)
    if exercise is None:
        raise ValueError(f"unknown exercise {exercise_id!r}")
    return [card.id for card in load_deck() if card.topic == exercise.id]


def cards_by_topic(topic: str | None = None) -> list[Card]:
    """Every card, or those of one topic (``ValueError`` for an unknown topic)."""
    if topic is None:
        return list(load_deck())
    if topic not in {exercise.id for exercise in exercises()}:
        raise ValueError(f"unknown topic {topic!r}")
    return [card for card in load_deck() if card.topic == topic]


def default_lang() -> str:
    """The question language from ``MLQUIZ_LANG`` (``zh``, ``zh_CN.UTF-8``: ``zh``), English
    otherwise (the command line refuses an unknown one before this is asked)."""
    from mlquiz.i18n import normalise

    try:
        return normalise(os.environ.get("MLQUIZ_LANG"))
    except ValueError:
        return "en"


# --- LaTeX as terminal text -----------------------------------------------------------------

_COMMANDS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε",
    "eta": "η", "theta": "θ", "lambda": "λ", "mu": "μ", "nu": "ν", "pi": "π", "rho": "ρ",
    "sigma": "σ", "tau": "τ", "phi": "φ", "xi": "ξ", "omega": "ω", "Delta": "Δ", "Sigma": "Σ",
    "partial": "∂", "nabla": "∇", "ell": "ℓ", "infty": "∞", "cdot": "·", "times": "×",
    "odot": "⊙", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥", "neq": "≠", "approx": "≈",
    "in": "∈", "sum": "Σ", "prod": "Π", "top": "ᵀ", "to": "→", "quad": "  ", "qquad": "    ",
    "mid": "|", "lVert": "‖", "rVert": "‖", "|": "‖", "log": "log", "ln": "ln", "exp": "exp",
    "max": "max", "min": "min", "arg": "arg", "sign": "sign", "forall": "∀", "ldots": "…",
    "cdots": "⋯", "{": "{", "}": "}", "Rightarrow": "⇒", "iff": "⇔", "ne": "≠", ",": " ",
    ";": " ", "!": "", ":": " ", "prime": "′", "circ": "∘", "propto": "∝", "sim": "~",
    "tanh": "tanh", "det": "det", "sqrt": "√", "left": "", "right": "", "max_": "max",
    "operatorname*": "", "argmax": "argmax", "argmin": "argmin", "dots": "…",
}
_SUP = dict(zip(
    "0123456789+-=()abcdefghijklmnoprstuvwxyzABDEGHIJKLMNOPRTUVWᵀ*′",
    "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ᵃᵇᶜᵈᵉᶠᵍʰⁱʲᵏˡᵐⁿᵒᵖʳˢᵗᵘᵛʷˣʸᶻᴬᴮᴰᴱᴳᴴᴵᴶᴷᴸᴹᴺᴼᴾᴿᵀᵁⱽᵂᵀ*′",
))
_SUB = dict(zip("0123456789+-=()aehijklmnoprstuvxβγρφχ", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓᵦᵧᵨᵩᵪ"))
_FUNCTION_WORDS = {"log", "ln", "exp", "sign", "max", "min", "tanh"}
_BLACKBOARD = {"I": "𝟙", "E": "𝔼", "R": "ℝ", "N": "ℕ"}


def _group(s: str, i: int) -> tuple[str, int]:
    """The argument starting at ``s[i]``: a braced group, a command, or one character."""
    while i < len(s) and s[i] == " ":
        i += 1
    if i >= len(s):
        return "", i
    if s[i] == "{":
        depth, j = 0, i
        while j < len(s):
            if s[j] == "{" and (j == 0 or s[j - 1] != "\\"):
                depth += 1
            elif s[j] == "}" and s[j - 1] != "\\":
                depth -= 1
                if depth == 0:
                    return s[i + 1:j], j + 1
            j += 1
        return s[i + 1:], len(s)
    if s[i] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", s[i:])
        return m.group(0), i + len(m.group(0))
    return s[i], i + 1


def _wrap(text: str) -> str:
    text = text.strip()
    if re.fullmatch(r"[\w∂∇ℓ\u0302\u0304′ᵀ⁰¹²³⁴⁵⁶⁷⁸⁹₀-₉ₐ-ₜᵢ-ᵪ⁽⁾₍₎ⁱʲᵏᵐⁿᵗˣʸ*^.]+", text) or (
        text.startswith("(") and text.endswith(")") and text.count("(") == 1
    ):
        return text
    return f"({text})"


def _script(text: str, table: dict[str, str], mark: str) -> str:
    text = text.strip()
    if text and all(ch in table for ch in text):
        return "".join(table[ch] for ch in text)
    return f"{mark}{text}" if re.fullmatch(r"\w+", text) else f"{mark}({text})"


def latex_to_text(latex: str) -> str:
    """Render LaTeX as readable unicode for the terminal (no sympy): ``\\frac{a}{b}`` ->
    ``a/b``, ``\\hat{x}_i`` -> ``x̂ᵢ``, ``\\sum_{i=1}^{N}`` -> ``Σᵢ₌₁ᴺ``."""
    out: list[str] = []
    s, i = latex, 0
    while i < len(s):
        ch = s[i]
        if ch == "\\":
            if s.startswith("\\\\", i):
                out.append("; ")
                i += 2
                continue
            m = re.match(r"\\([A-Za-z]+\*?|.)", s[i:])
            name, i = m.group(1), i + len(m.group(0))
            if name == "frac" or name == "dfrac" or name == "tfrac":
                top, i = _group(s, i)
                bottom, i = _group(s, i)
                text = f"{_wrap(latex_to_text(top))}/{_wrap(latex_to_text(bottom))}"
                if out and out[-1].strip() in _FUNCTION_WORDS:
                    text = f"({text})"
                out.append(text)
                rest = s[i:].lstrip()
                if rest and (rest[0].isalnum() or (rest[0] == "\\" and not re.match(r"\\(right|cdot|times|quad)", rest))):
                    out.append(" ")
            elif name in ("sum", "prod"):
                text = _COMMANDS[name]
                while True:
                    j = i
                    while j < len(s) and s[j] == " ":
                        j += 1
                    if j >= len(s) or s[j] not in "^_":
                        break
                    mark = s[j]
                    arg, i = _group(s, j + 1)
                    text += _script(latex_to_text(arg), _SUP if mark == "^" else _SUB, mark)
                out.append(text + " ")
            elif name == "sqrt":
                arg, i = _group(s, i)
                out.append("√" + _wrap(latex_to_text(arg)))
            elif name in ("hat", "bar", "tilde"):
                arg, i = _group(s, i)
                inner = latex_to_text(arg)
                accent = {"hat": "\u0302", "bar": "\u0304", "tilde": "\u0303"}[name]
                out.append(inner + accent if len(inner) == 1 else f"{name}({inner})")
            elif name in ("operatorname", "operatorname*", "mathrm", "text", "mathit", "mathbf", "textbf", "boldsymbol"):
                arg, i = _group(s, i)
                out.append(latex_to_text(arg) if name in ("mathbf", "boldsymbol") else arg.replace("\\,", " "))
            elif name == "mathbb":
                arg, i = _group(s, i)
                out.append(_BLACKBOARD.get(arg, arg))
            elif name in ("begin", "end"):
                arg, i = _group(s, i)
                if name == "begin" and arg == "cases":
                    out.append("{ ")
            elif name in ("left", "right"):
                if i < len(s) and s[i] == ".":
                    i += 1
            else:
                text = _COMMANDS.get(name, name)
                out.append(text)
                if name.isalpha() and (text.isalpha() or text in ("∂", "∇", "")):
                    while i < len(s) and s[i] == " ":
                        i += 1
                    if i < len(s) and s[i].isalnum() and text.isascii() and text.isalpha():
                        out.append(" ")
        elif ch in "^_":
            arg, i = _group(s, i + 1)
            inner = latex_to_text(arg)
            out.append(_script(inner, _SUP if ch == "^" else _SUB, ch))
        elif ch == "&":
            i += 1
        elif ch in "{}":
            i += 1
        elif ch == "~":
            out.append(" ")
            i += 1
        else:
            out.append(ch)
            i += 1
    return re.sub(r" {2,}", " ", "".join(out)).strip()
