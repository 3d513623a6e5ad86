"""Reading a typed answer safely: a whitelist tokenizer and a whitelisted syntax tree.

A typed answer is never evaluated as Python. Reading goes in four steps, each of which reads
the whole text or refuses it with the position (``at character 12``) of what it could not read:

1. *Notation*: unicode is mapped to plain text (``σ_n`` -> ``sigma_n``, ``x̂`` -> ``x_hat``,
   ``½`` -> ``(1/2)``, ``²`` -> ``^(2)``, ``ᵀ`` and a prime -> a transpose, ``⊙`` -> ``*``,
   ``·`` and ``×`` -> the textbook product, ``‖`` a norm bar, ``Σ``/``Π`` with their limits
   dropped), and LaTeX (any answer with a backslash or a brace) is translated command by
   command (``\\frac{a}{b}`` -> ``((a)/(b))``, ``\\left[`` -> ``(``, ``\\lvert`` -> ``|``,
   ``\\|`` -> ``‖``, ``^{\\top}`` -> a transpose, ``\\operatorname{sign}`` -> ``sign``,
   ``\\mathbb{1}`` -> the indicator, ``\\sum_{i=1}^{N}`` -> ``Σ``); an unknown command is
   refused.
2. *Tokens*: every token must be a number, an operator, or a name this card knows (its symbols
   or arrays, other spellings of them: ``lambda``, ``GL`` for ``G_L``, ``e`` for ``e_m``,
   ``w_j`` for ``w``; whitelisted functions, ``e`` and ``pi``, ``np.``/``math.`` spellings);
   anything else (dunder names, keywords, attribute access other than ``.T``, ``.shape`` and a
   few array methods) is refused. A superscript that is none of these labels a layer or a
   step and is dropped (``a^{L}``, ``α^{old}``).
3. *Textbook conventions*: ``|x|`` is ``abs``, ``||w||`` and ``‖w‖`` are ``norm``, ``n!`` a
   factorial, ``(x)_+`` the positive part, ``√x`` and ``log 2πσ²`` apply to the factors after
   them, ``Σ`` to the product term after it, juxtaposition is a product (``2x``, ``x(1-x)``,
   ``sigma(z)(1-sigma(z))``); on array cards juxtaposition is the *textbook product*
   (:data:`JUXTAPOSE`), which :mod:`mlquiz.cards.check` evaluates as a matrix product when one
   side is a matrix (``x W + b``, ``X^T (y - h)``) and elementwise otherwise; elementwise is
   always ``*`` or ``⊙``.
4. *Tree*: the rewritten tokens are parsed by ``ast.parse`` (which only parses) and every node
   of the tree is checked against a whitelist again.

Two modes: ``"scalar"`` (formulas checked with sympy) and ``"array"`` (numpy-style expressions
evaluated on random arrays). This module imports neither sympy nor numpy.
"""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata
from typing import NamedTuple

from mlquiz.i18n import _

MAX_LENGTH = 400

#: scalar-mode functions: name -> accepted numbers of arguments (``None``: two or more)
SCALAR_FUNCTIONS = {
    "exp": (1,), "log": (1, 2), "log1p": (1,), "expm1": (1,), "sqrt": (1,), "abs": (1,),
    "sign": (1,), "max": None, "min": None, "sigma": (1,), "tanh": (1,), "norm": (1, 2),
    "logaddexp": (2,), "where": (3,), "dot": (2,), "inner": (2,), "matmul": (2,),
    "negative": (1,), "reciprocal": (1,),
    "square": (1,), "multiply": (2,), "power": (2,), "divide": (2,), "add": (2,),
    "subtract": (2,), "maximum": (2,), "minimum": (2,), "indicator": (1,), "factorial": (1,),
}

#: array-mode functions (numpy's, called without ``np.``; ``np.sum`` is accepted too)
ARRAY_FUNCTIONS = {
    "sum", "mean", "prod", "var", "std", "max", "min", "exp", "log", "log1p", "expm1", "sqrt",
    "abs", "sign", "tanh", "square", "maximum", "minimum", "logaddexp", "where", "clip", "dot",
    "outer", "matmul", "transpose", "sigma", "inv", "solve", "norm", "eye", "diag", "ones_like",
    "zeros_like", "multiply", "power", "divide", "add", "subtract", "einsum", "ones", "zeros",
    "len", "indicator", "inner", "factorial", "negative", "reciprocal", "count_nonzero",
}
ARRAY_METHODS = {"sum", "mean", "prod", "var", "std", "max", "min", "dot", "transpose", "reshape",
                 "ravel", "flatten", "squeeze"}
ARRAY_ATTRIBUTES = {"T", "shape", "size"}
KEYWORD_ARGUMENTS = {"axis", "keepdims", "ddof", "ord"}
CONSTANTS = {"e", "pi"}
#: the internal function that marks a name written with an index (``x_i``, ``w_j``) on an array
#: card: the rows of a matrix taken one by one (``x_iᵀ w`` is ``X w``). Greek iota: a name the
#: tokenizer never reads, so it cannot be typed
ROWS = "ι"
#: the internal operator of a textbook product (juxtaposition) on array cards: ``%`` cannot be
#: typed (the tokenizer refuses it), so the only ``%`` in a tree is one the parser wrote
JUXTAPOSE = ast.Mod

#: other spellings of function names
FUNCTION_ALIASES = {
    "ln": "log", "sigmoid": "sigma", "expit": "sigma", "absolute": "abs", "fabs": "abs",
    "sgn": "sign", "identity": "eye", "true_divide": "divide", "amax": "max", "amin": "min",
    "np_abs": "abs",
}
#: module prefixes a learner may write before a function or constant (``np.exp``, ``math.pi``)
NAMESPACES = {"np", "numpy", "math"}

#: characters a learner may type that mean an ASCII operator or a short text
_CHAR_REPLACEMENTS = {
    "·": "⋅", "×": "⋅", "∙": "⋅", "⊙": "*", "∘": "*", "∗": "*", "−": "-", "–": "-",
    "÷": "/", "（": "(", "）": ")", "，": ",", "＝": "=", "√": " sqrt ", "½": "(1/2)",
    "¼": "(1/4)", "¾": "(3/4)", "⅓": "(1/3)", "≤": "<=", "≥": ">=", "≠": "!=", "∥": "‖",
    "𝟙": " indicator ", "ᵀ": "^⊤", "Σ": " Σ ", "∑": " Σ ", "∏": " ∏ ", "Π": " ∏ ",
}
_SUPERSCRIPTS = dict(zip("⁰¹²³⁴⁵⁶⁷⁸⁹⁻⁺", "0123456789-+"))
_SUBSCRIPTS = dict(zip("₀₁₂₃₄₅₆₇₈₉ₐₑₕᵢⱼₖₗₘₙₒₚᵣₛₜᵤᵥₓ", "0123456789aehijklmnoprstuvx"))
#: Greek letters typed directly, and the names they stand for
GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "ϵ": "eps", "η": "eta",
    "θ": "theta", "λ": "lam", "μ": "mu", "ν": "nu", "π": "pi", "ρ": "rho", "σ": "sigma",
    "τ": "tau", "φ": "phi", "ξ": "xi", "ω": "omega", "Δ": "Delta", "κ": "kappa", "ζ": "zeta",
    "χ": "chi", "ψ": "psi", "µ": "mu",
}
#: long names for the short ones used by cards (``lambda`` is a Python keyword: read as ``lam``)
NAME_ALIASES = {
    "lambda": "lam", "epsilon": "eps", "varepsilon": "eps", "lmbda": "lam", "lamda": "lam",
    "lmb": "lam", "lambd": "lam",
}
#: subscripts that index samples or features in textbook notation (``y_i``, ``w_j``): on array
#: cards, whose names are whole vectors, ``w_j`` is read as ``w``
_INDEX_SUBSCRIPTS = {"i", "j", "n", "k", "ij", "nj", "mi", "m", "B"}

_TOKEN = re.compile(
    r"""
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<str>'[^'\n]*'|"[^"\n]*")
  | (?P<op>\*\*|<=|>=|==|!=|\|\||[-+*/^@(),.=<>|‖⊤′⋅Σ∏!\[\]:])
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)

_SCALAR_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Load,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd, ast.Compare,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq,
)
_ARRAY_NODES = _SCALAR_NODES + (
    ast.MatMult, JUXTAPOSE, ast.Attribute, ast.keyword, ast.Subscript, ast.Slice, ast.Tuple,
)


class AnswerError(ValueError):
    """The answer cannot be read (or is refused); the message says why, for the learner."""


class Token(NamedTuple):
    kind: str  # num var const func attr method kw bool none str op
    value: str
    pos: int  # index in the typed text (-1: written by the parser)


def _at(pos: int) -> str:
    return _(" (at character {n})").format(n=pos + 1) if pos >= 0 else ""


# --- step 1: notation -----------------------------------------------------------------------

class _Text:
    """Text being rewritten, each character remembering where it was typed."""

    def __init__(self):
        self.chars: list[str] = []
        self.origin: list[int] = []

    def add(self, text: str, pos: int) -> None:
        for ch in text:
            self.chars.append(ch)
            self.origin.append(pos)

    def last(self) -> str:
        return self.chars[-1] if self.chars else ""

    def text(self) -> str:
        return "".join(self.chars)


def _add_name(out: _Text, name: str, pos: int, following: str) -> None:
    """A name from a Greek letter or a LaTeX command, kept apart from its neighbours but
    joined to a subscript (``σ_n`` -> ``sigma_n``)."""
    if out.last().isalnum() or out.last() == "_":
        out.add(" ", pos)
    out.add(name, pos)
    if following.isalnum():
        out.add(" ", pos)


def normalise(text: str) -> tuple[str, list[int]]:
    """Unicode notation as plain text, and for each character the index it was typed at."""
    out = _Text()
    i = 0
    while i < len(text):
        ch, pos = text[i], i
        i += 1
        following = text[i] if i < len(text) else ""
        after_value = out.last().isalnum() or out.last() in ")]_"
        if ch in "'′" and after_value:  # x' (a prime after a value): a transpose
            out.add("^′", pos)
        elif ch in "'\"" and text.find(ch, i) >= 0:  # a quoted string, kept as typed
            end = text.find(ch, i) + 1
            out.add(text[pos:end], pos)
            i = end
        elif ch in "Σ∑∏Π":  # a sum's limits (Σ_i, Σ_{i=1}^{N}) are its whole first axis
            out.add(_CHAR_REPLACEMENTS[ch], pos)
            i = _skip_limits(text, i)
        elif ch in _SUPERSCRIPTS:
            run = ch
            while i < len(text) and text[i] in _SUPERSCRIPTS:
                run += text[i]
                i += 1
            out.add("^(" + "".join(_SUPERSCRIPTS[c] for c in run) + ")", pos)
        elif ch in _SUBSCRIPTS:
            run = ch
            while i < len(text) and text[i] in _SUBSCRIPTS:
                run += text[i]
                i += 1
            out.add("_" + "".join(_SUBSCRIPTS[c] for c in run), pos)
        elif ch in _CHAR_REPLACEMENTS:
            out.add(_CHAR_REPLACEMENTS[ch], pos)
        elif ch in GREEK:
            _add_name(out, GREEK[ch], pos, "" if following in _SUBSCRIPTS else following)
        elif not ch.isascii() and unicodedata.normalize("NFKC", ch).isascii() and unicodedata.normalize("NFKC", ch).isalnum():
            out.add(unicodedata.normalize("NFKC", ch), pos)  # 𝐱, ℓ, ｘ: the letter itself
        else:
            for part in unicodedata.normalize("NFD", ch):
                if part == "\u0302":  # x̂ -> x_hat (NFD splits ŷ into y + circumflex)
                    out.add("_hat", pos)
                elif part == "\u0304":
                    out.add("_bar", pos)
                else:
                    out.add(part, pos)
    return out.text(), out.origin


def _skip_limits(text: str, i: int) -> int:
    """Index after the limits (``_i``, ``_{i=1}``, ``^N``, ``^{N}``, ``ᵢ``) starting at ``i``."""
    while i < len(text) and (text[i] in "_^" or text[i] in _SUBSCRIPTS):
        if text[i] in _SUBSCRIPTS:
            i += 1
            continue
        i += 1
        if i < len(text) and text[i] == "{":
            depth = 0
            while i < len(text):
                depth += (text[i] == "{") - (text[i] == "}")
                i += 1
                if depth == 0:
                    break
        else:
            while i < len(text) and text[i].isalnum():
                i += 1
    return i


def looks_like_latex(text: str) -> bool:
    return "\\" in text or "{" in text or "$" in text


#: LaTeX commands that are names: Greek letters (as :data:`GREEK` spells them) and functions
_LATEX_NAMES = {
    **{name: name for name in GREEK.values() if name not in ("eps", "lam")},
    "epsilon": "eps", "varepsilon": "eps", "lambda": "lam", "vartheta": "theta", "varphi": "phi",
    "ell": "l",
    **{name: name for name in ("exp", "log", "max", "min", "tanh", "sign")}, "ln": "log", "sgn": "sign",
}
_LATEX_OPERATORS = {
    **dict.fromkeys(("cdot", "times"), "⋅"),  # the textbook product
    **dict.fromkeys(("ast", "odot", "circ"), "*"),  # elementwise
    "div": "/", "lt": "<", "gt": ">",
    **dict.fromkeys(("le", "leq", "leqslant"), "<="), **dict.fromkeys(("ge", "geq", "geqslant"), ">="),
    **dict.fromkeys(("ne", "neq"), "!="), **dict.fromkeys(("top", "intercal"), "⊤"),
    **dict.fromkeys(("|", "lVert", "rVert", "Vert"), "‖"), **dict.fromkeys(("lvert", "rvert", "vert"), "|"),
    **dict.fromkeys(("{", "lbrack", "lparen"), "("), **dict.fromkeys(("}", "rbrack", "rparen"), ")"),
    **dict.fromkeys((",", ";", ":", " ", "quad", "qquad", "(", ")", "[", "]"), " "),  # \( \): math mode
    **dict.fromkeys(("!", "displaystyle", "limits"), ""),
}
_LATEX_SIZES = {"left", "right", "big", "Big", "bigg", "Bigg", "bigl", "bigr", "Bigl", "Bigr",
                "biggl", "biggr", "Biggl", "Biggr", "middle"}
_LATEX_FONTS = {"operatorname", "mathrm", "text", "textrm", "mathit", "mathbf", "boldsymbol",
                "bm", "mathsf", "textit", "textbf", "mathnormal"}
_LATEX_ACCENTS = {"hat": "_hat", "widehat": "_hat", "bar": "_bar", "overline": "_bar",
                  "tilde": "_tilde", "widetilde": "_tilde", "vec": "", "boldsymbol": ""}
_LATEX_UNCHECKABLE = {"int", "partial", "nabla", "lim", "infty", "prime",
                      "mathbb", "mathcal", "sin", "cos", "tan", "arg", "argmax", "argmin", "det"}


class _Latex:
    """Translates LaTeX (after :func:`normalise`) into the plain notation, command by command."""

    def __init__(self, text: str, origin: list[int]):
        self.s, self.origin = text, origin
        self.out = _Text()

    def pos(self, i: int) -> int:
        return self.origin[min(i, len(self.origin) - 1)] if self.origin else 0

    def fail(self, i: int, problem: str) -> None:
        raise AnswerError(_("could not read the LaTeX{at}: {problem}").format(at=_at(self.pos(i)),
                                                                         problem=problem))

    def skip_space(self, i: int) -> int:
        while i < len(self.s) and self.s[i] == " ":
            i += 1
        return i

    def argument(self, i: int) -> tuple[int, int, int]:
        """The argument starting at ``i``: ``(start, end, next)`` of its content (a braced
        group without its braces, a command, or one character)."""
        i = self.skip_space(i)
        if i >= len(self.s):
            self.fail(i, _("an argument is missing at the end"))
        if self.s[i] == "{":
            depth = 0
            for j in range(i, len(self.s)):
                if self.s[j] == "{" and self.s[j - 1:j] != "\\":
                    depth += 1
                elif self.s[j] == "}" and self.s[j - 1:j] != "\\":
                    depth -= 1
                    if depth == 0:
                        return i + 1, j, j + 1
            self.fail(i, _("this '{' is never closed"))
        if self.s[i] == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", self.s[i:])
            if m is None:
                self.fail(i, _("a lone backslash"))
            return i, i + len(m.group(0)), i + len(m.group(0))
        if self.s[i] == "}":
            self.fail(i, _("an argument is missing before '}'"))
        return i, i + 1, i + 1

    def plain_letters(self, start: int, end: int) -> str:
        """The letters of a font or accent argument (``\\mathrm{run}``), fonts unwrapped."""
        inner = re.sub(r"\\(?:" + "|".join(sorted(_LATEX_FONTS)) + r")\s*", "", self.s[start:end])
        inner = inner.replace("{", "").replace("}", "").replace(" ", "").replace("\\,", "")
        if inner.startswith("\\") and inner[1:] in _LATEX_NAMES:
            return _LATEX_NAMES[inner[1:]]
        if not re.fullmatch(r"[A-Za-z0-9_]+", inner):
            self.fail(start, _("expected letters or digits here, not {text!r}").format(
                text=self.s[start:end]))
        return inner

    def translate(self, start: int, end: int) -> None:
        s, out = self.s, self.out
        i = start
        while i < end:
            ch = s[i]
            if ch == "\\":
                i = self.command(i, end)
            elif ch in "{[":
                out.add("(", self.pos(i))
                i += 1
            elif ch in "}]":
                out.add(")", self.pos(i))
                i += 1
            elif ch in "^_":
                i = self.script(i)
            elif ch in "&~$":
                out.add(" ", self.pos(i))
                i += 1
            else:
                out.add(ch, self.pos(i))
                i += 1

    def group(self, i: int) -> int:
        """Translate the argument at ``i`` in parentheses; returns where the text goes on."""
        start, end, nxt = self.argument(i)
        self.out.add("(", self.pos(start))
        self.translate(start, end)
        self.out.add(")", self.pos(max(end - 1, start)))
        return nxt

    def script(self, i: int) -> int:
        """Translate the script at ``i``; returns where the text goes on. ``δ^{l}_{n}`` is read
        as ``δ_{n}^{l}``: the index joins the name first."""
        k = self.skip_space(self.argument(i + 1)[2])
        if self.s[i] == "^" and self.s[i + 1:i + 2] == "{" and self.s[k:k + 1] == "_":
            after = self.script(k)
            self.script_at(i)
            return after
        return self.script_at(i)

    def script_at(self, i: int) -> int:
        """Translate the script at ``i`` alone; returns where the text goes on."""
        s, out, pos = self.s, self.out, self.pos(i)
        mark = s[i]
        start, end, nxt = self.argument(i + 1)
        body = s[start:end].strip()
        if mark == "^":
            if body in ("T", "\\top", "\\intercal", "\\mathsf{T}", "\\mathrm{T}", "⊤"):
                out.add("^⊤", pos)
                return nxt
            if s[i + 1:i + 2] not in ("{", "\\") and not body.isalnum():
                out.add("^", pos)  # e^-z: the plain reading
                return i + 1
            digits = re.match(r"\s*\d+", s[i + 1:])
            if digits:  # x^10: the number, as typed
                out.add("^(" + digits.group().strip() + ")", pos)
                return i + 1 + digits.end()
            out.add("^", pos)
            return self.group(i + 1)
        out.add("_+" if body == "+" else "_" + self.plain_letters(start, end), pos)
        return nxt

    def command(self, i: int, end: int) -> int:
        s, out = self.s, self.out
        m = re.match(r"\\([A-Za-z]+\*?|.)", s[i:end])
        if m is None:
            self.fail(i, _("a lone backslash"))
        name, j, pos = m.group(1), i + len(m.group(0)), self.pos(i)
        following = s[j] if j < len(s) else ""
        if name in ("frac", "dfrac", "tfrac"):
            out.add("(", pos)
            j = self.group(j)
            out.add("/", pos)
            j = self.group(j)
            out.add(")", pos)
            return j
        if name == "sqrt":
            k = self.skip_space(j)
            if k < len(s) and s[k] == "[":
                close = s.find("]", k)
                if close < 0:
                    self.fail(k, _("this '[' is never closed"))
                out.add("(", pos)
                j = self.group(close + 1)
                out.add("^(1/(", pos)
                self.translate(k + 1, close)
                out.add(")))", pos)
                return j
            out.add(" sqrt", pos)
            return self.group(j)
        if name in ("sum", "prod"):  # \\sum_{i=1}^{N}: the limits are the whole first axis
            k = self.skip_space(j)
            while k < len(s) and s[k] in "_^":
                k = self.skip_space(self.argument(k + 1)[2])
            out.add(" Σ " if name == "sum" else " ∏ ", pos)
            return k
        if name in _LATEX_SIZES:
            k = self.skip_space(j)
            if k < len(s) and s[k] == ".":
                return k + 1
            if k < len(s) and s[k] in "()[]|":
                out.add({"[": "(", "]": ")"}.get(s[k], s[k]), self.pos(k))
                return k + 1
            if k < len(s) and s[k] == "\\":
                return self.command(k, end)
            self.fail(k, _("\\{name} needs a delimiter after it").format(name=name))
        if name in _LATEX_OPERATORS:
            out.add(_LATEX_OPERATORS[name], pos)
            return j
        if name in _LATEX_NAMES:
            _add_name(out, _LATEX_NAMES[name], pos, following)
            return j
        if name.rstrip("*") in _LATEX_FONTS:
            start, stop, nxt = self.argument(j)
            after = s[nxt] if nxt < len(s) else ""
            _add_name(out, self.plain_letters(start, stop), pos, after)
            return nxt
        if name in _LATEX_ACCENTS:
            start, stop, nxt = self.argument(j)
            after = s[nxt] if nxt < len(s) else ""
            _add_name(out, self.plain_letters(start, stop) + _LATEX_ACCENTS[name], pos, after)
            return nxt
        if name == "mathbb" or name == "mathbf":
            start, stop, nxt = self.argument(j)
            if s[start:stop].strip() in ("1", "I"):
                _add_name(out, "indicator", pos, "")
                k = self.skip_space(nxt)
                if k < len(s) and s[k] == "_":  # \mathbb{1}_{y \ne p}: the condition below
                    return self.group(k + 1)
                return nxt
        if name in _LATEX_UNCHECKABLE:
            self.fail(i, _("\\{name} cannot be checked here; type the formula itself "
                           "(sums as sum(...), on array cards)").format(name=name))
        self.fail(i, _("the command \\{name} is not supported in answers").format(name=name))


def latex_to_plain(text: str, origin: list[int]) -> tuple[str, list[int]]:
    """LaTeX (already normalised) as the plain notation, with the typed positions."""
    reader = _Latex(text, origin)
    reader.translate(0, len(text))
    return reader.out.text(), reader.out.origin


def _left_side_end(text: str) -> int:
    """Where the answer starts after a left-hand side: ``dW = x.T @ dz`` -> ``x.T @ dz`` (a
    top-level ``=``, not one inside parentheses, so ``sum(x, axis=0)`` keeps its keyword)."""
    depth = 0
    for i, ch in enumerate(text):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "=" and depth == 0:
            before = text[i - 1] if i else ""
            after = text[i + 1] if i + 1 < len(text) else ""
            if before not in "<>=!" and after != "=":
                return i + 1
    return 0


# --- step 2: tokens -------------------------------------------------------------------------

def _refuse_name(name: str, pos: int) -> None:
    if "__" in name:
        raise AnswerError(_("refused: names with double underscores ({name!r}) are not allowed.").format(
            name=name))
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise AnswerError(_("refused: the keyword {name!r}{at} cannot appear in an answer.").format(
            name=name, at=_at(pos)))


def _split_name(name: str, known: set[str]) -> list[str] | None:
    """``lamw`` -> ``["lam", "w"]`` when the name is a run of known names (longest first)."""
    if not name:
        return []
    for size in range(len(name), 0, -1):
        head = name[:size]
        if head in known:
            rest = _split_name(name[size:].lstrip("_"), known)
            if rest is not None:
                return [head, *rest]
    return None


def _alias(name: str, names: set[str]) -> str | None:
    """Another spelling of one of ``names``: ``lambda`` for ``lam``, ``GL`` for ``G_L``."""
    if NAME_ALIASES.get(name) in names:
        return NAME_ALIASES[name]
    head, _sep, tail = name.partition("_")
    if tail and NAME_ALIASES.get(head) and f"{NAME_ALIASES[head]}_{tail}" in names:
        return f"{NAME_ALIASES[head]}_{tail}"
    squashed = name.replace("_", "").lower()
    matches = [n for n in names if n.replace("_", "").lower() == squashed]
    return matches[0] if len(matches) == 1 else None


def _subscripted(name: str, names: set[str], mode: str) -> str | None:
    """On array cards, ``w_j`` or ``y_i`` (an element in index notation) is the vector."""
    base, _sep, sub = name.rpartition("_")
    if mode == "array" and base and sub in _INDEX_SUBSCRIPTS:
        return base if base in names else _alias(base, names)
    return None


def _base_name(name: str, names: set[str]) -> str | None:
    """``e`` for ``e_m``: a bare name that is the base of exactly one subscripted name."""
    matches = [n for n in names if n.startswith(name + "_")]
    return matches[0] if len(matches) == 1 else None


def _raw_tokens(text: str, origin: list[int]) -> list[Token]:
    raw: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        at = origin[pos] if pos < len(origin) else pos
        if match is None:
            ch = text[pos]
            raise AnswerError(_("refused: the character {ch!r}{at} is not allowed in an answer.").format(
                ch=ch, at=_at(at)))
        pos = match.end()
        if match.lastgroup != "space":
            raw.append(Token(match.lastgroup, match.group(), at))
    return raw


def tokenize(
    text: str,
    *,
    mode: str,
    names: set[str] | frozenset[str],
    functions: dict[str, str] | None = None,
    forbid: tuple[str, ...] = (),
    origin: list[int] | None = None,
) -> list[Token]:
    """Split ``text`` into tokens, refusing anything not whitelisted.

    ``names`` are the card's variables; ``functions`` maps extra function names of the card
    to built-in ones (``{"g": "sigma"}``); ``forbid`` names are refused for this card (the
    sigmoid card does not accept ``sigma(z)`` as its own answer). Kinds: ``num``, ``var``,
    ``const``, ``func``, ``attr``, ``method``, ``kw``, ``bool``, ``none``, ``str``, ``op``.
    """
    if mode not in ("scalar", "array"):
        raise ValueError(f"unknown mode {mode!r}")
    names = set(names)
    builtin = SCALAR_FUNCTIONS.keys() if mode == "scalar" else ARRAY_FUNCTIONS
    extra = dict(functions or {})
    raw = _raw_tokens(text, origin if origin is not None else list(range(len(text))))

    tokens: list[Token] = []
    brackets: list[str] = []  # "[" for an index, "(" for a bracket that groups
    i = 0
    while i < len(raw):
        kind, value, pos = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else Token("", "", -1)
        i += 1
        if kind == "op" and value == "[":
            indexes = mode == "array" and bool(tokens) and _is_value(tokens[-1])
            brackets.append("[" if indexes else "(")
            tokens.append(Token("op", brackets[-1], pos))
            continue
        if kind == "op" and value == "]":
            tokens.append(Token("op", "]" if not brackets or brackets.pop() == "[" else ")", pos))
            continue
        if kind == "op" and value in "Σ∏":
            if mode == "scalar":
                raise AnswerError(_("a sum or a product{at} belongs to array cards; this card's answer is "
                                    "one formula.").format(at=_at(pos)))
            tokens.append(Token("func", value, pos))
            continue
        if kind == "name" and value == "_" and nxt.value == "+" and tokens and _is_value(tokens[-1]):
            tokens.append(Token("op", "_+", pos))  # (1 - y f)_+: the positive part
            i += 1
            continue
        if kind == "op" and value == "^" and nxt.value == "′":
            if mode == "scalar":
                raise AnswerError(_("a prime{at} is not read in a formula; type the formula itself.").format(
                    at=_at(pos)))
            tokens.append(Token("attr", "T", pos))  # x': a transpose
            i += 1
            continue
        if kind == "num":
            tokens.append(_number(value, pos))
            continue
        if kind == "str":
            if mode == "array" and tokens[-2:] and [t.value for t in tokens[-2:]] == ["einsum", "("]:
                if not re.fullmatch(r"[a-zA-Z,\->. ]*", value[1:-1]):
                    raise AnswerError(_("refused: einsum subscripts hold letters, ',' and '->' only{at}.").format(
                        at=_at(pos)))
                tokens.append(Token("str", value[1:-1], pos))
                continue
            raise AnswerError(_("refused: quotes (strings){at} are not allowed in an answer.").format(
                at=_at(pos)))
        if kind == "op" and value == ":" and mode == "scalar":
            raise AnswerError(_("refused: {value!r}{at} (indexing, slicing) is not supported in formulas.").format(
                value=value, at=_at(pos)))
        label = _label_length(raw, i, lambda name: _is_label(name, pos, mode, names, extra, builtin))
        if kind == "op" and value == "^" and label:  # a^{L}, W^{l+1}, w^{(t)}: a layer or a step
            i += label
            continue
        if kind == "op" and value == "^" and (nxt.value == "⊤" or (nxt.value == "T" and "T" not in names)):
            if mode == "array":
                tokens.append(Token("attr", "T", pos))
            i += 1  # a transpose of a scalar is the scalar
            continue
        if kind == "op" and value == "⊤":
            raise AnswerError(_("a transpose sign{at} must follow what it transposes.").format(
                at=_at(pos)))
        if kind == "op" and value == ".":
            attr = nxt.value if nxt.kind == "name" else ""
            if attr:
                _refuse_name(attr, nxt.pos)
            if mode == "scalar" and attr == "T":
                i += 1  # the transpose of a number is the number
                continue
            if mode == "array" and attr in ARRAY_ATTRIBUTES:
                tokens.append(Token("attr", attr, pos))
            elif mode == "array" and attr in ARRAY_METHODS:
                tokens.append(Token("method", attr, pos))
            elif mode == "array":
                raise AnswerError(
                    _("refused: attribute access (.{attr}){at} is not allowed; only .T, .shape and "
                      "the methods {methods}.").format(attr=attr, at=_at(pos),
                                                       methods=", ".join(sorted(ARRAY_METHODS)))
                )
            else:
                raise AnswerError(_("refused: attribute access ('.'){at} is not allowed in a formula.").format(
                    at=_at(pos)))
            i += 1
            continue
        if kind == "op" and value == "⋅":  # a dot or a cross: the textbook product
            tokens.append(Token("op", "*" if mode == "scalar" else "%", pos))
            continue
        if kind == "op" and value == "=" and not (tokens and tokens[-1].kind == "kw"):
            tokens.append(Token("op", "==", pos))  # I(pred = y): an equation inside is a comparison
            continue
        if kind == "op":
            tokens.append(Token("op", value, pos))
            continue
        # a name
        if mode == "array" and value in ("True", "False"):
            tokens.append(Token("bool", value, pos))
            continue
        if mode == "array" and value == "None":
            tokens.append(Token("none", "None", pos))
            continue
        if re.fullmatch(r"_\d", value) and tokens and tokens[-1].value in ("|", "||", "‖"):
            tokens.append(Token("normsub", value[1:], pos))  # ||w||_1: the order of the norm
            continue
        if value in NAMESPACES and nxt.value == ".":
            i = _namespaced(raw, i, mode, builtin, tokens)
            continue
        if value not in NAME_ALIASES:
            _refuse_name(value, pos)
        resolved = _resolve(value, pos, nxt, mode, names, extra, builtin, forbid)
        tokens += resolved if isinstance(resolved, list) else [resolved]
    return tokens


def _is_label(name: str, pos: int, mode, names, extra, builtin) -> bool:
    """Whether ``name`` is no name of this card (nor a function or a constant): after ``^`` it
    labels a layer or a step (``a^{L}``, ``w^{(t)}``, ``α^{old}``), as in a textbook."""
    if not (name.isalpha() and len(name) <= 4) or name == "T":
        return False
    try:
        _resolve(name, pos, Token("", "", -1), mode, names, extra, builtin, ())
    except AnswerError:
        return True
    return False


def _label_length(raw: list[Token], i: int, is_label) -> int:
    """How many tokens after the ``^`` at ``raw[i - 1]`` form a label: ``l``, ``(l)``,
    ``(l+1)``, ``(l-1)``, ``((t))``; 0 when they do not."""
    values = [t.value for t in raw[i:i + 7]]
    kinds = [t.kind for t in raw[i:i + 7]]
    for pattern in (["name"], ["(", "name", ")"], ["(", "name", "op", "num", ")"], ["(", "(", "name", ")", ")"]):
        n = len(pattern)
        if len(values) < n:
            continue
        fits = all(
            (want == "name" and kinds[k] == "name" and is_label(values[k]))
            or (want == "op" and values[k] in "+-")
            or (want == "num" and kinds[k] == "num")
            or want == values[k]
            for k, want in enumerate(pattern)
        )
        if fits:
            return n
    return 0


def _is_value(token: Token) -> bool:
    """Whether a token ends an operand (a bracket after it indexes, a bar after it closes)."""
    return token.kind in ("num", "var", "const", "attr", "none") or token.value in (")", "]")


def _number(value: str, pos: int) -> Token:
    if len(value) > 24:
        raise AnswerError(_("refused: the number {number}...{at} is too long.").format(number=value[:20],
                                                                                   at=_at(pos)))
    if abs(float(value)) > 1.7976931348623157e308:
        raise AnswerError(
            _("refused: the number {number}{at} is beyond the range of floating-point numbers.").format(
                number=value, at=_at(pos))
        )
    return Token("num", value, pos)


def _namespaced(raw: list[Token], i: int, mode: str, builtin, tokens: list) -> int:
    """``np.exp``, ``np.linalg.norm``, ``math.pi``, ``np.newaxis``: returns where to go on."""
    j = i + 1  # raw[i] is the '.'
    if [t.value for t in raw[j:j + 2]] == ["linalg", "."]:
        j += 2
    fname = raw[j].value if j < len(raw) and raw[j].kind == "name" else ""
    pos = raw[i - 1].pos
    _refuse_name(fname, pos)
    canonical = FUNCTION_ALIASES.get(fname, fname)
    if canonical in builtin:
        tokens.append(Token("func", canonical, pos))
    elif fname in CONSTANTS:
        tokens.append(Token("const", fname, pos))
    elif fname == "newaxis" and mode == "array":
        tokens.append(Token("none", "None", pos))
    else:
        raise AnswerError(_("refused: np.{name}{at} is not one of the allowed functions.").format(
            name=fname, at=_at(pos)))
    return j + 1


def _resolve(value, pos, nxt, mode, names, extra, builtin, forbid):
    """The token (or tokens) a typed name stands for on this card."""
    canonical = FUNCTION_ALIASES.get(value, value)
    call = nxt.value == "("
    if value in forbid or (canonical in forbid and value not in names):
        raise AnswerError(_("write the answer out without {name!r}: that is what this card asks for.").format(
            name=value))
    if value in names:
        return Token("var", value, pos)
    if value in extra:
        return Token("func", extra[value], pos)
    euler_power = value in CONSTANTS and nxt.value in ("^", "**")  # e^{-α}: Euler's number
    if not (call and canonical in builtin) and not euler_power and (base := _base_name(value, names)) is not None:
        return Token("var", base, pos)
    if canonical in builtin:
        return Token("func", canonical, pos)
    if value == "I" and mode == "array":
        return Token("func", "indicator", pos) if call else Token("const", "I", pos)
    if value == "I" and call:
        return Token("func", "indicator", pos)
    if value in CONSTANTS:
        return Token("const", value, pos)
    if mode == "array" and value in KEYWORD_ARGUMENTS:
        if nxt.value != "=":
            raise AnswerError(_("{name!r} is only allowed as a keyword argument ({name}=...).").format(
                name=value))
        return Token("kw", value, pos)
    if (alias := _alias(value, names)) is not None:
        return Token("var", alias, pos)
    if (alias := _subscripted(value, names, mode)) is not None:  # x_i: the samples of X, one by one
        return [Token("func", ROWS, pos), Token("op", "(", pos), Token("var", alias, pos), Token("op", ")", pos)]
    base = value.removesuffix("_bar")
    if mode == "array" and base != value and (base in names or _alias(base, names)):  # x̄: the mean
        name = base if base in names else _alias(base, names)
        return [Token("func", "mean", pos), Token("op", "(", pos), Token("var", name, pos), Token("op", ",", pos),
                Token("kw", "axis", pos), Token("op", "=", pos), Token("num", "0", pos), Token("op", ")", pos)]
    known = names | CONSTANTS if mode == "scalar" else names
    if len(value) <= 24 and (parts := _split_name(value, known)):  # λw, Xw: juxtaposed names
        return [Token("var" if part in names else "const", part, pos) for part in parts]
    if value == "lambda" or value in keyword.kwlist:
        raise AnswerError(_("unknown name {name!r}{at}; this card has no such symbol.").format(
            name=value, at=_at(pos)))
    known = ", ".join(sorted(names)) or _("none")
    raise AnswerError(_("unknown name {name!r}{at}; this card's names are: {known}.").format(
        name=value, at=_at(pos), known=known))


# --- step 3: textbook conventions -----------------------------------------------------------

def _opens(tokens: list[Token]) -> bool:
    """Whether a bar here opens (after an operator, a function or at the start)."""
    if not tokens:
        return True
    prev = tokens[-1]
    return prev.kind == "func" or (prev.kind == "op" and prev.value not in (")", "]", "!"))


def _bars(tokens: list[Token]) -> list[Token]:
    """``|x|`` -> ``abs(x)``, ``||w||`` and ``‖w‖`` -> ``norm(w)`` (``||w||_1`` ->
    ``norm(w, 1)``). A bar closes the innermost open bar of its kind when it follows a value,
    and opens one otherwise. ``||`` is a norm bar when it closes a norm or another ``||``
    follows; else two bars (``||w| - t|``, ``|x||y|``)."""
    out: list[Token] = []
    stack: list[str] = []
    for i, token in enumerate(tokens):
        if token.kind == "normsub":
            continue  # used when its norm closed
        if token.kind != "op" or token.value not in ("|", "||", "‖"):
            out.append(token)
            continue
        bars = [token.value]
        if token.value == "||":
            closes_norm = bool(stack) and stack[-1] == "‖" and not _opens(out)
            norm_ahead = any(t.kind == "op" and t.value == "||" for t in tokens[i + 1:])
            bars = ["‖"] if closes_norm or norm_ahead else ["|", "|"]
        for bar in bars:
            if stack and stack[-1] == bar and not _opens(out):
                stack.pop()
                following = tokens[i + 1] if i + 1 < len(tokens) else None
                if bar == "‖" and following is not None and following.kind == "normsub":
                    out += [Token("op", ",", following.pos), Token("num", following.value, following.pos)]
                out.append(Token("op", ")", token.pos))
            elif _opens(out) or not stack or stack[-1] != bar:
                stack.append(bar)
                out += [Token("func", "abs" if bar == "|" else "norm", token.pos), Token("op", "(", token.pos)]
    if stack:
        raise AnswerError(_("unbalanced bars: write |x| or abs(x), ‖w‖ or norm(w)."))
    return out


def _operand_start(out: list[Token]) -> int:
    """Index in ``out`` where the operand that ends ``out`` starts (a number, a name, or a
    parenthesised group with the function called on it)."""
    if not out:
        return 0
    if out[-1].value not in (")", "]"):
        return len(out) - 1
    depth = 0
    for k in range(len(out) - 1, -1, -1):
        if out[k].value in (")", "]"):
            depth += 1
        elif out[k].value in ("(", "["):
            depth -= 1
            if depth == 0:
                called = k and out[k - 1].kind in ("func", "method") and out[k - 1].value not in ("Σ", "∏")
                return k - 1 if called else k
    return 0


def _factorials(tokens: list[Token]) -> list[Token]:
    """``n!`` -> ``factorial(n)``; ``(1 - y f)_+`` -> ``max(1 - y f, 0)``, the positive part."""
    out: list[Token] = []
    for token in tokens:
        if token.kind == "op" and token.value in ("!", "_+"):
            if not out or out[-1].kind == "op" and out[-1].value not in (")",):
                raise AnswerError(_("{sign!r}{at} must follow what it applies to.").format(
                    sign=token.value, at=_at(token.pos)))
            start = _operand_start(out)
            if token.value == "!":
                out[start:] = [Token("func", "factorial", token.pos), Token("op", "(", token.pos),
                               *out[start:], Token("op", ")", token.pos)]
            else:
                out[start:] = [Token("func", "max", token.pos), Token("op", "(", token.pos), *out[start:],
                               Token("op", ",", token.pos), Token("num", "0", token.pos), Token("op", ")", token.pos)]
        else:
            out.append(token)
    return out


def _term_end(tokens: list[Token], start: int) -> int:
    """Where the product term starting at ``start`` ends: at a ``+`` or ``-`` between terms,
    a closing bracket, a comma or a comparison (at the term's own depth)."""
    depth = 0
    for k in range(start, len(tokens)):
        token = tokens[k]
        if token.kind != "op":
            continue
        if token.value in ("(", "["):
            depth += 1
        elif token.value in (")", "]"):
            if depth == 0:
                return k
            depth -= 1
        elif depth == 0 and k > start and token.value in ("+", "-", ",", "=", "<", ">", "<=", ">=", "==", "!="):
            previous = tokens[k - 1]
            if token.value not in "+-" or previous.kind in ("num", "var", "const", "attr", "none") \
                    or previous.value in (")", "]"):
                return k
    return len(tokens)


def _group_end(tokens: list[Token], i: int) -> int:
    """Index after the parenthesised group that opens at ``tokens[i]``."""
    depth = 0
    for k in range(i, len(tokens)):
        depth += (tokens[k].value == "(") - (tokens[k].value == ")")
        if depth == 0:
            return k + 1
    return len(tokens)


def _bare_calls(tokens: list[Token]) -> list[Token]:
    """``√x``, ``log h``, ``sqrt 2``: a function without parentheses takes the next factor
    (a number, a name, a constant, with its power: ``log x^2`` is ``log(x^2)``) and, but for
    ``√``, the names written together with it (``log 2πσ²`` is ``log(2πσ²)``). A sum or a
    product without parentheses, and ``Σ`` or ``\\sum`` always (``Σ w exp(-α y pred)``,
    ``Σ (x - μ)²``), takes the whole product term after it; it runs over the first axis, as the
    index of a textbook sum does (the internal functions ``Σ`` and ``Π``, which cannot be typed:
    the tokenizer reads no such name)."""
    out: list[Token] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        out.append(token)
        i += 1
        textbook_sum = token.value in ("Σ", "∏")
        if token.kind != "func" or (i < len(tokens) and tokens[i].value == "(" and not textbook_sum):
            continue
        if textbook_sum or token.value in ("sum", "prod"):
            end = _term_end(tokens, i)
            if end == i:
                raise AnswerError(_("{name}{at} needs what it sums.").format(name=token.value,
                                                                           at=_at(token.pos)))
            out[-1] = Token("func", "Π" if token.value in ("∏", "prod") else "Σ", token.pos)
            out += [Token("op", "(", token.pos), *_bare_calls(tokens[i:end]), Token("op", ")", token.pos)]
            i = end
            continue
        if i >= len(tokens) or tokens[i].kind not in ("num", "var", "const", "func"):
            raise AnswerError(_("{name}{at} needs its argument, e.g. {name}(x).").format(
                name=token.value, at=_at(token.pos)))
        start = i
        if tokens[i].kind == "func":  # sqrt sqrt x, log sigma(z)
            inner = _bare_calls(tokens[i:])
            end = _group_end(inner, 1)  # inner[0] is the function, inner[1] its "("
            return out + [Token("op", "(", token.pos), *inner[:end], Token("op", ")", token.pos), *inner[end:]]
        while True:  # log 2πσ²: the factors written together, each with its power
            i += 1
            while i < len(tokens) and tokens[i].kind == "attr":
                i += 1
            if i + 1 < len(tokens) and tokens[i].value in ("^", "**") and tokens[i + 1].kind in ("num", "var", "const"):
                i += 2
            elif i + 1 < len(tokens) and tokens[i].value in ("^", "**") and tokens[i + 1].value == "(":
                i = _group_end(tokens, i + 1)  # σ^(2), from σ²
            if token.value == "sqrt" or i >= len(tokens) or tokens[i].kind not in ("var", "const"):
                break
        out += [Token("op", "(", token.pos), *tokens[start:i], Token("op", ")", token.pos)]
    return out


def _insert_products(tokens: list[Token], mode: str) -> list[Token]:
    """Implicit multiplication: ``2x``, ``x(1-x)``, ``(a)(b)``, ``sigma(z)(1-sigma(z))``; on
    array cards the textbook product (``%``, see :data:`JUXTAPOSE`)."""
    values = {"num", "var", "const", "attr", "none"}
    product = "*" if mode == "scalar" else "%"
    out: list[Token] = []
    for token in tokens:
        if out:
            prev = out[-1]
            left = prev.kind in values or (prev.kind == "op" and prev.value in (")", "]"))
            right = token.kind in ("num", "var", "const", "func") or (token.kind == "op" and token.value == "(")
            if left and right and not (prev.kind == "num" and token.kind == "num"):
                out.append(Token("op", product, token.pos))
        out.append(token)
    for i, token in enumerate(out):
        if token.kind in ("func", "method") and (i + 1 >= len(out) or out[i + 1].value != "("):
            raise AnswerError(_("{name}{at} needs its argument in parentheses, e.g. {name}(x).").format(
                name=token.value, at=_at(token.pos)))
    return out


# --- step 4: the tree -----------------------------------------------------------------------

def to_source(tokens: list[Token]) -> tuple[str, list[int]]:
    """Python source of the tokens and, for each token, its offset in the source."""
    parts: list[str] = []
    offsets: list[int] = []
    size = 0
    for token in tokens:
        if token.kind == "op" and token.value == "^":
            text = "**"
        elif token.kind in ("attr", "method"):
            text = "." + token.value
        elif token.kind == "str":
            text = repr(token.value)
        else:
            text = token.value
        if parts and token.kind not in ("attr", "method"):
            parts.append(" ")
            size += 1
        offsets.append(size)
        parts.append(text)
        size += len(text)
    return "".join(parts), offsets


def _check_brackets(tokens: list[Token]) -> None:
    stack: list[Token] = []
    pairs = {")": "(", "]": "["}
    for token in tokens:
        if token.kind != "op":
            continue
        if token.value in "([":
            stack.append(token)
        elif token.value in pairs:
            if not stack or stack[-1].value != pairs[token.value]:
                raise AnswerError(_("could not read the answer: an unmatched {sign!r}{at}.").format(
                    sign=token.value, at=_at(token.pos)))
            stack.pop()
    if stack:
        raise AnswerError(_("could not read the answer: the {sign!r}{at} is never closed.").format(
            sign=stack[-1].value, at=_at(stack[-1].pos)))


def parse_answer(
    text: str,
    *,
    mode: str,
    names: set[str] | frozenset[str],
    functions: dict[str, str] | None = None,
    forbid: tuple[str, ...] = (),
    latex: bool | None = None,
) -> ast.Expression:
    """The whitelisted syntax tree of a typed answer (raises :class:`AnswerError`).

    ``latex``: read the text as LaTeX (``None``: when it has a backslash or a brace). Name
    nodes in the tree are the card's variable names, function names (canonical: ``ln`` is
    ``log``, ``sigmoid`` is ``sigma``), the constants ``e`` and ``pi``, and on array cards
    ``I`` (the identity matrix of whatever size fits).
    """
    if len(text) > MAX_LENGTH:
        raise AnswerError(_("the answer is too long (at most {n} characters).").format(n=MAX_LENGTH))
    plain, origin = normalise(text)
    end = len(plain.rstrip().rstrip(".;,").rstrip())  # a sentence's full stop
    plain, origin = plain[:end], origin[:end]
    start = _left_side_end(plain)
    plain, origin = plain[start:], origin[start:]
    if looks_like_latex(text) if latex is None else latex:
        plain, origin = latex_to_plain(plain, origin)
    if not plain.strip():
        raise AnswerError(_("the answer is empty."))
    tokens = tokenize(plain, mode=mode, names=names, functions=functions, forbid=forbid, origin=origin)
    tokens = _insert_products(_bare_calls(_factorials(_bars(tokens))), mode)
    _check_brackets(tokens)
    source, offsets = to_source(tokens)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        offset = (exc.offset or 1) - 1
        index = max([k for k, o in enumerate(offsets) if o <= offset] or [0])
        where = tokens[index].pos if tokens else -1
        raise AnswerError(_("could not read the answer as a formula{at}: {problem}.").format(
            at=_at(where), problem=_("invalid syntax") if exc.msg == "invalid syntax" else exc.msg)) from None
    except (RecursionError, MemoryError):
        raise AnswerError(_("the answer is nested too deeply.")) from None
    validate_tree(tree, mode=mode, names=names, functions=functions)
    return tree


def validate_tree(tree: ast.AST, *, mode: str, names, functions=None) -> None:
    """Check every node against the whitelist (a second line of defence after the tokenizer)."""
    allowed_nodes = _SCALAR_NODES if mode == "scalar" else _ARRAY_NODES
    funcs = set(SCALAR_FUNCTIONS) if mode == "scalar" else ARRAY_FUNCTIONS | {"Σ", "Π", ROWS}
    allowed_names = set(names) | CONSTANTS | funcs | ({"I"} if mode == "array" else set())
    for node in ast.walk(tree):
        if not isinstance(node, allowed_nodes):
            raise AnswerError(_("refused: {what} is not allowed in an answer.").format(
                what=type(node).__name__))
        if isinstance(node, ast.Name) and node.id not in allowed_names:
            raise AnswerError(_("refused: the name {name!r} is not allowed.").format(name=node.id))
        if isinstance(node, ast.Attribute) and node.attr not in ARRAY_ATTRIBUTES | ARRAY_METHODS:
            raise AnswerError(_("refused: attribute .{name} is not allowed.").format(name=node.attr))
        if isinstance(node, ast.Constant) and not (
            node.value is None or isinstance(node.value, (int, float, str))
        ):
            raise AnswerError(_("refused: only numbers are allowed as constants."))
        if isinstance(node, ast.Constant) and isinstance(node.value, bool) and mode == "scalar":
            raise AnswerError(_("refused: True and False are not allowed in a formula."))
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id not in funcs:
                    raise AnswerError(_("{name!r} is not a function.").format(name=func.id))
            elif isinstance(func, ast.Attribute):
                if func.attr not in ARRAY_METHODS:
                    raise AnswerError(_("refused: .{name}() is not an allowed method.").format(
                        name=func.attr))
            else:
                raise AnswerError(_("refused: only named functions can be called."))
            for kw in node.keywords:
                if kw.arg not in KEYWORD_ARGUMENTS:
                    raise AnswerError(_("refused: keyword argument {name!r} is not allowed.").format(
                        name=kw.arg))
    strings = {id(node.args[0]) for node in ast.walk(tree) if isinstance(node, ast.Call)
               and isinstance(node.func, ast.Name) and node.func.id == "einsum" and node.args}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in strings:
            raise AnswerError(_("refused: a string is only allowed as einsum's subscripts."))
    _check_function_values(tree, set(names), funcs)


def _check_function_values(tree: ast.AST, names: set[str], funcs: set[str]) -> None:
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in funcs and node.id not in names and id(node) not in called:
            raise AnswerError(_("{name} is a function: write {name}(...).").format(name=node.id))
