"""Reading a typed answer safely: a whitelist tokenizer and a whitelisted syntax tree.

A typed answer is never evaluated as Python. The text is split into tokens, and every token
must be a number, an operator, or a name this card knows (its symbols or arrays, a few maths
functions, ``e`` and ``pi``); anything else (quotes, dunder names, keywords such as ``import``
or ``lambda``, attribute access other than ``.T`` and a few array methods) is refused with a
message. The accepted tokens are rewritten (``^`` is a power, ``2x`` is ``2*x``), parsed by
``ast.parse`` (which only parses) and every node of the tree is checked against a whitelist
again. ``check.py`` then walks the tree to build a sympy expression or to compute on arrays.

Two modes: ``"scalar"`` (formulas checked with sympy) and ``"array"`` (numpy-style expressions
evaluated on random arrays). This module imports neither sympy nor numpy.
"""

from __future__ import annotations

import ast
import keyword
import re
import unicodedata

MAX_LENGTH = 400

#: scalar-mode functions: name -> accepted numbers of arguments (``None``: two or more)
SCALAR_FUNCTIONS = {
    "exp": (1,),
    "log": (1, 2),
    "sqrt": (1,),
    "abs": (1,),
    "sign": (1,),
    "max": None,
    "min": None,
    "sigma": (1,),
    "tanh": (1,),
}

#: array-mode functions (numpy's, called without ``np.``; ``np.sum`` is accepted too)
ARRAY_FUNCTIONS = {
    "sum", "mean", "prod", "var", "std", "max", "min", "exp", "log", "log1p", "expm1", "sqrt",
    "abs", "sign", "tanh", "square", "maximum", "minimum", "logaddexp", "where", "clip", "dot",
    "outer", "matmul", "transpose", "sigma", "inv", "solve", "norm", "eye", "diag", "ones_like",
    "zeros_like",
}
ARRAY_METHODS = {"sum", "mean", "prod", "var", "std", "max", "min", "dot", "transpose"}
ARRAY_ATTRIBUTES = {"T"}
KEYWORD_ARGUMENTS = {"axis", "keepdims"}
CONSTANTS = {"e", "pi"}

#: other spellings of function names
FUNCTION_ALIASES = {"ln": "log", "sigmoid": "sigma", "absolute": "abs", "np_abs": "abs"}

#: characters a learner may type that mean an ASCII operator
_CHAR_REPLACEMENTS = {
    "·": "*", "×": "*", "∙": "*", "⋅": "*", "−": "-", "–": "-", "÷": "/", "²": "^2", "³": "^3",
    "（": "(", "）": ")", "，": ",", "＝": "=", "√": "sqrt",
}
#: Greek letters typed directly, and the names they stand for
GREEK = {
    "α": "alpha", "β": "beta", "γ": "gamma", "δ": "delta", "ε": "eps", "ϵ": "eps", "η": "eta",
    "θ": "theta", "λ": "lam", "μ": "mu", "ν": "nu", "π": "pi", "ρ": "rho", "σ": "sigma",
    "τ": "tau", "φ": "phi", "ξ": "xi", "ω": "omega", "Δ": "Delta",
}
#: long names for the short ones used by cards
NAME_ALIASES = {"epsilon": "eps", "lmbda": "lam", "lamda": "lam", "lmb": "lam"}

_TOKEN = re.compile(
    r"""
    (?P<num>(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>\*\*|<=|>=|==|!=|[-+*/^@(),.=<>|])
  | (?P<space>\s+)
    """,
    re.VERBOSE,
)

_SCALAR_NODES = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Load,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd,
)
_ARRAY_NODES = _SCALAR_NODES + (
    ast.MatMult, ast.Attribute, ast.keyword, ast.Compare,
    ast.Lt, ast.LtE, ast.Gt, ast.GtE, ast.Eq, ast.NotEq,
)


class AnswerError(ValueError):
    """The answer cannot be read (or is refused); the message says why, for the learner."""


def _normalise_text(text: str) -> str:
    text = unicodedata.normalize("NFD", text)
    text = text.replace("\u0302", "_hat")  # x̂ -> x_hat (NFD splits ŷ into y + circumflex)
    out = []
    for ch in text:
        if ch in _CHAR_REPLACEMENTS:
            out.append(_CHAR_REPLACEMENTS[ch])
        elif ch in GREEK:
            out.append(f" {GREEK[ch]} ")
        else:
            out.append(ch)
    return "".join(out)


def strip_left_side(text: str) -> str:
    """``dW = x.T @ dz`` -> ``x.T @ dz``: drop a left-hand side written before a top-level
    ``=`` (one not inside parentheses, so ``sum(x, axis=0)`` keeps its keyword)."""
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
                return text[i + 1:]
    return text


def _refuse_name(name: str) -> None:
    if "__" in name:
        raise AnswerError(f"refused: names with double underscores ({name!r}) are not allowed.")
    if name == "lambda":
        raise AnswerError("refused: 'lambda' is a Python keyword; write lam or λ for lambda.")
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        raise AnswerError(f"refused: the keyword {name!r} cannot appear in an answer.")


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
    if name in NAME_ALIASES and NAME_ALIASES[name] in names:
        return NAME_ALIASES[name]
    squashed = name.replace("_", "").lower()
    matches = [n for n in names if n.replace("_", "").lower() == squashed]
    return matches[0] if len(matches) == 1 else None


def tokenize(
    text: str,
    *,
    mode: str,
    names: set[str] | frozenset[str],
    functions: dict[str, str] | None = None,
    forbid: tuple[str, ...] = (),
) -> list[tuple[str, str]]:
    """Split ``text`` into ``(kind, text)`` tokens, refusing anything not whitelisted.

    ``names`` are the card's variables; ``functions`` maps extra function names of the card
    to built-in ones (``{"g": "sigma"}``); ``forbid`` names are refused for this card (the
    sigmoid card does not accept ``sigma(z)`` as its own answer). Kinds: ``num``, ``var``,
    ``const``, ``func``, ``attr``, ``method``, ``kw``, ``bool``, ``op``.
    """
    if mode not in ("scalar", "array"):
        raise ValueError(f"unknown mode {mode!r}")
    names = set(names)
    builtin = SCALAR_FUNCTIONS.keys() if mode == "scalar" else ARRAY_FUNCTIONS
    extra = dict(functions or {})

    raw: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            ch = text[pos]
            if ch in "'\"":
                raise AnswerError("refused: quotes (strings) are not allowed in an answer.")
            if ch in "[]:":
                raise AnswerError(f"refused: {ch!r} (indexing, slicing) is not supported in answers.")
            raise AnswerError(f"refused: the character {ch!r} is not allowed in an answer.")
        pos = match.end()
        kind = match.lastgroup
        if kind == "name" and not (mode == "array" and match.group() in ("True", "False")):
            _refuse_name(match.group())  # keywords and dunders first: the clearest message
        if kind != "space":
            raw.append((kind, match.group()))

    tokens: list[tuple[str, str]] = []
    bars = 0
    i = 0
    while i < len(raw):
        kind, value = raw[i]
        nxt = raw[i + 1] if i + 1 < len(raw) else ("", "")
        i += 1
        if kind == "num":
            if len(value) > 20:
                raise AnswerError(f"refused: the number {value[:20]}... is too long.")
            tokens.append(("num", value))
            continue
        if kind == "op" and value == ".":
            # attribute access: only .T and a few array methods, in array mode
            attr = nxt[1] if nxt[0] == "name" else ""
            if attr:
                _refuse_name(attr)
            if mode == "array" and attr in ARRAY_ATTRIBUTES:
                tokens.append(("attr", attr))
            elif mode == "array" and attr in ARRAY_METHODS:
                tokens.append(("method", attr))
            elif mode == "array":
                raise AnswerError(
                    f"refused: attribute access (.{attr}) is not allowed; only .T and the methods "
                    + ", ".join(sorted(ARRAY_METHODS)) + "."
                )
            else:
                raise AnswerError("refused: attribute access ('.') is not allowed in a formula.")
            i += 1
            continue
        if kind == "op" and value == "|":
            # |x| is abs(x): a bar opens after an operator (or at the start), else closes
            prev = tokens[-1] if tokens else ("op", "(")
            opening = prev[0] == "func" or (prev[0] == "op" and prev[1] != ")") or bars == 0
            if opening:
                tokens += [("func", "abs"), ("op", "(")]
                bars += 1
            else:
                tokens.append(("op", ")"))
                bars -= 1
            continue
        if kind == "op":
            tokens.append(("op", value))
            continue
        # a name
        if mode == "array" and value in ("True", "False"):
            tokens.append(("bool", value))
            continue
        _refuse_name(value)
        if value in ("np", "numpy") and mode == "array" and nxt == ("op", "."):
            # np.sum, np.linalg.norm: a namespace for the whitelisted functions only
            j = i + 1
            if raw[j:j + 2] == [("name", "linalg"), ("op", ".")]:
                j += 2
            fname = raw[j][1] if j < len(raw) and raw[j][0] == "name" else ""
            _refuse_name(fname)
            fname = FUNCTION_ALIASES.get(fname, fname)
            if fname not in ARRAY_FUNCTIONS:
                raise AnswerError(f"refused: np.{fname} is not one of the allowed functions.")
            tokens.append(("func", fname))
            i = j + 1
            continue
        canonical = FUNCTION_ALIASES.get(value, value)
        if value in forbid or (canonical in forbid and value not in names):
            raise AnswerError(f"write the answer out without {value!r}: that is what this card asks for.")
        if value in names:
            tokens.append(("var", value))
        elif value in extra:
            tokens.append(("func", extra[value]))
        elif canonical in builtin:
            tokens.append(("func", canonical))
        elif value in CONSTANTS:
            tokens.append(("const", value))
        elif mode == "array" and value in KEYWORD_ARGUMENTS:
            if nxt != ("op", "="):
                raise AnswerError(f"{value!r} is only allowed as a keyword argument ({value}=...).")
            tokens.append(("kw", value))
        elif (alias := _alias(value, names)) is not None:
            tokens.append(("var", alias))
        elif mode == "scalar" and len(value) <= 24 and (parts := _split_name(value, names | CONSTANTS)):
            for part in parts:
                tokens.append(("var" if part in names else "const", part))
        else:
            known = ", ".join(sorted(names)) or "none"
            raise AnswerError(f"unknown name {value!r}; this card's names are: {known}.")
    if bars:
        raise AnswerError("unbalanced '|': write |x| or abs(x).")
    return tokens


def _insert_products(tokens: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """Implicit multiplication: ``2x``, ``x(1-x)``, ``(a)(b)``, ``sigma(z)(1-sigma(z))``."""
    values = {"num", "var", "const", "attr"}
    out: list[tuple[str, str]] = []
    for kind, value in tokens:
        if out:
            pkind, pvalue = out[-1]
            left = pkind in values or (pkind == "op" and pvalue == ")")
            right = kind in ("num", "var", "const", "func") or (kind == "op" and value == "(")
            if left and right:
                out.append(("op", "*"))
        out.append((kind, value))
    for i, (kind, value) in enumerate(out):
        if kind in ("func", "method"):
            if i + 1 >= len(out) or out[i + 1] != ("op", "("):
                raise AnswerError(f"{value} needs its argument in parentheses, e.g. {value}(x).")
    return out


def to_source(tokens: list[tuple[str, str]]) -> str:
    parts = []
    for kind, value in tokens:
        if kind == "op" and value == "^":
            parts.append("**")
        elif kind in ("attr", "method"):
            parts.append("." + value)
        else:
            parts.append(value)
    return " ".join(parts).replace(" .", ".")


def parse_answer(
    text: str,
    *,
    mode: str,
    names: set[str] | frozenset[str],
    functions: dict[str, str] | None = None,
    forbid: tuple[str, ...] = (),
) -> ast.Expression:
    """The whitelisted syntax tree of a typed answer (raises :class:`AnswerError`).

    Name nodes in the tree are the card's variable names, function names (canonical:
    ``ln`` is ``log``, ``sigmoid`` is ``sigma``) or the constants ``e`` and ``pi``.
    """
    if len(text) > MAX_LENGTH:
        raise AnswerError(f"the answer is too long (at most {MAX_LENGTH} characters).")
    text = strip_left_side(_normalise_text(text)).strip()
    if not text:
        raise AnswerError("the answer is empty.")
    tokens = _insert_products(tokenize(text, mode=mode, names=names, functions=functions, forbid=forbid))
    source = to_source(tokens)
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise AnswerError(f"could not read the answer as a formula ({exc.msg}): {source}") from None
    except (RecursionError, MemoryError):
        raise AnswerError("the answer is nested too deeply.") from None
    validate_tree(tree, mode=mode, names=names, functions=functions)
    return tree


def validate_tree(tree: ast.AST, *, mode: str, names, functions=None) -> None:
    """Check every node against the whitelist (a second line of defence after the tokenizer)."""
    allowed_nodes = _SCALAR_NODES if mode == "scalar" else _ARRAY_NODES
    funcs = set(SCALAR_FUNCTIONS if mode == "scalar" else ARRAY_FUNCTIONS)
    allowed_names = set(names) | CONSTANTS | funcs
    for node in ast.walk(tree):
        if not isinstance(node, allowed_nodes):
            raise AnswerError(f"refused: {type(node).__name__} is not allowed in an answer.")
        if isinstance(node, ast.Name) and node.id not in allowed_names:
            raise AnswerError(f"refused: the name {node.id!r} is not allowed.")
        if isinstance(node, ast.Attribute) and node.attr not in ARRAY_ATTRIBUTES | ARRAY_METHODS:
            raise AnswerError(f"refused: attribute .{node.attr} is not allowed.")
        if isinstance(node, ast.Constant) and not isinstance(node.value, (int, float)):
            raise AnswerError("refused: only numbers are allowed as constants.")
        if isinstance(node, ast.Constant) and isinstance(node.value, bool) and mode == "scalar":
            raise AnswerError("refused: True and False are not allowed in a formula.")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id not in funcs:
                    raise AnswerError(f"{func.id!r} is not a function.")
            elif isinstance(func, ast.Attribute):
                if func.attr not in ARRAY_METHODS:
                    raise AnswerError(f"refused: .{func.attr}() is not an allowed method.")
            else:
                raise AnswerError("refused: only named functions can be called.")
            for kw in node.keywords:
                if kw.arg not in KEYWORD_ARGUMENTS:
                    raise AnswerError(f"refused: keyword argument {kw.arg!r} is not allowed.")
    _check_function_values(tree, set(names), funcs)


def _check_function_values(tree: ast.AST, names: set[str], funcs: set[str]) -> None:
    called = {id(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id in funcs and node.id not in names and id(node) not in called:
            raise AnswerError(f"{node.id} is a function: write {node.id}(...).")


# --- LaTeX answers --------------------------------------------------------------------------

#: LaTeX commands a typed answer may use (the rest is refused before sympy sees it)
LATEX_COMMANDS = {
    "frac", "dfrac", "tfrac", "cdot", "times", "div", "left", "right", "exp", "log", "ln",
    "sqrt", "hat", "bar", "operatorname", "mathrm", "text", "sign", "max", "min", "sigma",
    "tanh", "pi", "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "eta", "theta",
    "lambda", "mu", "nu", "rho", "tau", "xi", "Delta", "phi", "omega", "mathit",
}
_LATEX_CHARS = re.compile(r"[A-Za-z0-9\s\\{}()^_+\-*/|,.!'=]*")


def check_latex(text: str) -> str:
    """Refuse LaTeX outside the whitelist of characters and commands; returns the text with
    a left-hand side (``g'(z) = ...``) removed."""
    if len(text) > MAX_LENGTH:
        raise AnswerError(f"the answer is too long (at most {MAX_LENGTH} characters).")
    text = _normalise_text(text)
    if not _LATEX_CHARS.fullmatch(text):
        bad = next(ch for ch in text if not _LATEX_CHARS.fullmatch(ch))
        raise AnswerError(f"refused: the character {bad!r} is not allowed in a LaTeX answer.")
    for command in re.findall(r"\\([A-Za-z]+)", text):
        if command not in LATEX_COMMANDS:
            raise AnswerError(f"refused: the LaTeX command \\{command} is not supported in answers.")
    text = strip_left_side(text).strip()
    if not text:
        raise AnswerError("the answer is empty.")
    return text


def looks_like_latex(text: str) -> bool:
    return "\\" in text or "{" in text
