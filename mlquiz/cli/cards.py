"""Commands of the flashcards: ``review``, ``cards``, ``card``, ``export anki``.

The deck (``mlquiz.cards.deck``) loads without sympy, so ``mlquiz review`` shows its first
question at once and imports the checker (sympy, numpy) in the background while the learner
thinks. Each rating is a review in the schedule as soon as it is given.
"""

from __future__ import annotations

import sys
import textwrap
import threading
import time
import unicodedata
from pathlib import Path

import click

from mlquiz.cli.common import (current_time, db_option, echo_json, json_option, lang_option, opened,
                               rating_word, relative, show_time, state_word, topic_or_fail, wrap)
from mlquiz.i18n import _, ngettext

RATING_NAMES = {1: "again", 2: "hard", 3: "good", 4: "easy"}
_RATING_WORDS = {
    "1": 1, "again": 1, "a": 1, "2": 2, "hard": 2, "h": 2, "3": 3, "good": 3, "g": 3,
    "4": 4, "easy": 4, "e": 4, "重来": 1, "困难": 2, "良好": 3, "简单": 4,
}


def _rating(n: int) -> str:
    """A rating as a review shows it: again, hard, good, easy (重来, 困难, 良好, 简单)."""
    return rating_word(n).lower()


def card_commands():
    return [review, cards, card, export, check_command]


def _deck():
    from mlquiz.cards.deck import DeckError, load_deck

    try:
        return load_deck()
    except DeckError as exc:
        raise click.ClickException(_("the flashcard deck is broken: {error}").format(error=exc)) from None


def _get_card(card_id: str):
    import difflib

    from mlquiz.cards.deck import get_card

    _deck()
    found = get_card(card_id)
    if found is None:
        from mlquiz.cards.deck import card_ids

        close = difflib.get_close_matches(card_id.removeprefix("card:"), card_ids(), n=3, cutoff=0.5)
        hint = (_(" Did you mean: {names}?").format(names=", ".join(close)) if close
                else _(" `mlquiz cards` lists them."))
        raise click.UsageError(_("unknown card {card!r}.").format(card=card_id) + hint)
    return found


def _titles(lang: str) -> dict[str, str]:
    """Each topic's title: English and Chinese side by side, or only the Chinese in Chinese."""
    from mlquiz.curriculum import exercises

    if lang == "zh":
        return {ex.id: ex.title_zh for ex in exercises()}
    return {ex.id: f"{ex.title_en} · {ex.title_zh}" for ex in exercises()}


def names_line(card) -> str:
    """What a typed answer may use, e.g. ``x (N, D_in), dz (N, D_out)``."""
    if card.kind == "formula":
        names = list(card.symbols) + list(card.derived)
        extra = [f"{name}(…)" for name in card.functions]
        return _("names: {names}").format(names=", ".join(names + extra))
    if card.kind == "array":
        parts = [f"{name} ({', '.join(map(str, shape))})" if shape
                 else _("{name} (scalar)").format(name=name)
                 for name, shape in card.shapes.items()]
        parts += [f"{name}" for name in card.derived]
        return _("arrays: {arrays}   (numpy-style: @, .T, sum(…, axis=0), …)").format(
            arrays=", ".join(parts))
    return _("reveal with Enter, then rate yourself")


def _state_rows(db) -> dict[str, dict]:
    from mlquiz.schedule.review import card_states

    with opened(db) as store:
        return card_states(store)


def _state_name(row) -> str:
    """A card's schedule state, from its row (None: new), in the learner's language."""
    from mlquiz.schedule.items import STATES

    return state_word(STATES.get(row["state"], "new") if row else "new")


# --- review -----------------------------------------------------------------------------------

class _Checker:
    """Imports the checker in a background thread while the first question is on screen."""

    def __init__(self):
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._load, name="mlquiz-warm-up", daemon=True)

    def start(self):
        """Start loading (once); called when a question is on screen."""
        if self._thread.ident is None:
            self._thread.start()

    def _load(self):
        try:
            from mlquiz.cards import check

            check.warm_up()
        except BaseException as exc:  # noqa: BLE001 - reported when a check is needed
            self.error = exc

    def module(self):
        self.start()
        self._thread.join()
        if self.error is not None:
            raise click.ClickException(
                _("the answer checker could not be loaded: {error}").format(error=self.error))
        from mlquiz.cards import check

        return check


def _line_editing() -> bool:
    """Turn on line editing (arrow keys, history with up and down) for ``input()`` where the
    platform has ``readline``; whether it is on."""
    try:
        import readline  # noqa: F401 - importing it is what makes input() edit lines
    except ImportError:
        return False
    return True


def _read_line(prompt: str) -> str:
    """One line of input; ``EOFError`` at the end of input. At a terminal the line can be
    edited (readline) and is kept in the history, for the up arrow. Piped input is echoed so
    a transcript reads like a session."""
    if sys.stdin.isatty():
        _line_editing()
        return input(prompt)
    click.echo(prompt, nl=False)
    line = sys.stdin.readline()
    if not line:
        click.echo()
        raise EOFError
    line = line.rstrip("\r\n")
    click.echo(line)
    return line


def _forget_line(line: str) -> None:
    """Drop the line just read from the history (ratings: the up arrow brings back answers)."""
    if line.strip() and sys.stdin.isatty() and _line_editing():
        import readline

        readline.remove_history_item(readline.get_current_history_length() - 1)


def _ask_rating(proposed: int | None, intervals: dict | None = None) -> int:
    """Read a rating; ``intervals`` (rating -> timedelta) are shown beside the choices."""
    if intervals:
        from datetime import datetime, timezone

        now = datetime.now(timezone.utc)
        choices = _(", ").join(_("{n} {rating} ({when})").format(
            n=n, rating=_rating(n), when=relative(now + intervals[n], now)) for n in RATING_NAMES)
    else:
        choices = _(", ").join(f"{n} {_rating(n)}" for n in RATING_NAMES)
    prompt = (_("Rate ({choices}) [{proposal}]: ").format(
        choices=choices, proposal=f"{proposed} {_rating(proposed)}") if proposed
        else _("Rate ({choices}): ").format(choices=choices))
    while True:
        text = _read_line(prompt)
        _forget_line(text)
        text = unicodedata.normalize("NFKC", text).strip().lower()  # full-width ３ is 3
        if not text and proposed:
            return proposed
        if text in _RATING_WORDS:
            return _RATING_WORDS[text]
        words = "/".join(_rating(n) for n in RATING_NAMES)
        click.echo(_("  Type 1-4 or {words} (Enter accepts the proposal).").format(words=words)
                   if proposed else _("  Type 1-4 or {words}.").format(words=words))


def _show_answer(card, check) -> None:
    click.echo(click.style(_("Answer:"), bold=True))
    try:
        rendered = check.pretty_answer(card)
    except Exception:  # noqa: BLE001 - fall back to the plain rendering, never fail a session
        rendered = card.answer_text
    if card.lhs_latex:
        lhs = card.lhs_text
        lines = rendered.splitlines() or [""]
        if len(lines) == 1:
            click.echo(f"  {lhs} = {lines[0]}")
        else:
            click.echo(f"  {lhs} =")
            click.echo(textwrap.indent(rendered, "    "))
    else:
        click.echo(textwrap.indent(rendered, "  "))
    if card.answer_numpy:
        click.echo(f"  numpy: {card.answer_numpy}")
    click.echo(click.style(f"  LaTeX: {card.answer_latex}", dim=True))


_VERDICT_STYLE = {"correct": ("✓", "green"), "wrong": ("✗", "red"), "invalid": ("?", "yellow"),
                  "unchecked": ("·", None)}


def _method_text(method: str) -> str:
    """How a verdict was reached, in brackets after it; ``""`` for none."""
    texts = {"proof": _("proved by sympy"), "random points": _("random points"),
             "random arrays": _("random arrays")}
    return f" [{texts[method]}]" if method in texts else ""


def _review_one(card, position: str, lang: str, checker: _Checker,
                intervals=None) -> tuple[int, float]:
    """Ask one card; returns (rating, seconds). ``intervals()``: what each rating would give,
    shown beside it. Raises EOFError / KeyboardInterrupt."""
    started = time.monotonic()
    click.echo()
    click.echo(click.style(f"[{position}] {card.id}", bold=True))
    click.echo(wrap(card.question(lang)))
    if card.lhs_latex:
        click.echo(f"  {card.lhs_text} = ?")
    click.echo(click.style(f"  {names_line(card)}", dim=True))
    checker.start()
    proposed = None
    while True:
        text = _read_line(_("Your answer (Enter to reveal): ")).strip()
        if not text:
            break
        check = checker.module()
        verdict = check.check_answer(card, text)
        mark, colour = _VERDICT_STYLE[verdict.status]
        click.echo(click.style(f"{mark} {verdict.message}{_method_text(verdict.method)}", fg=colour))
        if verdict.status == "invalid":
            click.echo(_("  Try again, or press Enter to reveal the answer."))
            continue
        if verdict.status == "correct":
            proposed = 3
        elif verdict.status == "wrong":
            proposed = 1
        break
    _show_answer(card, checker.module())
    rating = _ask_rating(proposed, intervals() if intervals else None)
    return rating, time.monotonic() - started


def _due_cards(store, now, topic, include_new=False):
    from mlquiz.cards.deck import DeckError
    from mlquiz.schedule.review import due_cards

    try:
        return due_cards(store, now, topic, include_new)
    except DeckError as exc:
        raise click.ClickException(_("the flashcard deck is broken: {error}").format(error=exc)) from None


def _one_card(store, card_id):
    """``--card ID``: that card, due or not."""
    from mlquiz.schedule.items import resolve_item
    from mlquiz.schedule.review import item_named

    found = _get_card(card_id)
    return [(item_named(store, resolve_item(store, found.item_id)), found)]


def _say_exercise(store, now, first: bool) -> None:
    """Where exercises stand in the order of practice (``queue``): before the session, the
    exercise that comes first, if one does; after it, the first exercise due."""
    from mlquiz.curriculum import grade_command
    from mlquiz.schedule.items import default_file
    from mlquiz.schedule.review import due_items

    items = due_items(store, now)
    if first:
        if items and items[0].kind == "exercise":
            head = items[0]
            state = state_word("new" if head.new else head.state_name)
            click.echo(_("First comes the exercise {exercise} ({state}): `mlquiz start {exercise}`, "
                         "then `{command}`. The cards:").format(
                exercise=head.ref, state=state,
                command=grade_command(default_file(store, head.ref), head.ref)))
        return
    exercises_due = [item for item in items if item.kind == "exercise"]
    if not exercises_due:
        return
    item = exercises_due[0]
    command = grade_command(default_file(store, item.ref), item.ref)
    more = len(exercises_due) - 1
    also = ngettext(" ({n} more exercise due)", " ({n} more exercises due)", more).format(
        n=more) if more else ""
    click.echo(_("Exercise due: {exercise}{also}. Start it with `mlquiz start {exercise}`, "
                 "then grade it: {command}").format(exercise=item.ref, also=also, command=command))


@click.command()
@click.option("--topic", metavar="TOPIC", help="Only the cards of one topic (e.g. bn_backward).")
@click.option("--card", "card_id", metavar="ID", help="Review this one card now, due or not.")
@click.option("--limit", type=click.IntRange(min=1), metavar="N", help="Review at most N cards.")
@click.option("--new", "include_new", is_flag=True,
              help="Also study new cards now, beyond today's allowance of new items.")
@lang_option
@db_option
def review(topic, card_id, limit, include_new, lang, db):
    """Review the flashcards that are due, one question at a time.

    Cards come in the order `mlquiz next` gives: (re)learning first, then cards called for
    by a failed exercise, due reviews (lowest retrievability first), then new ones; new cards
    of a topic wait for a new exercise before them. The interval each rating would give is
    shown beside it.

    Type an answer to have it checked (a formula such as 1/(1+exp(-z)), e^(-z), 2x or
    \\frac{1}{1+e^{-z}}; for arrays a numpy-style expression such as x.T @ dz or
    sum(dout * x_hat, axis=0)), or press Enter to reveal the answer. Then rate your recall:
    1 again, 2 hard, 3 good, 4 easy (Enter accepts the proposal: good after a correct
    answer, again after a wrong one). Each rating is saved at once; Ctrl-C or the end of
    input ends the session. Answers can be piped in, one line each, for scripting.

    \b
    Examples:
      mlquiz review
      mlquiz review --topic bn_backward --lang zh
      mlquiz review --topic svm_dual --new
      mlquiz review --card bn_backward.dgamma
      printf 'x.T @ dz\\n\\n' | mlquiz review --limit 1
    """
    from mlquiz.schedule.review import next_intervals, record_review

    topic = topic_or_fail(topic)
    checker = _Checker()
    counts = {rating: 0 for rating in RATING_NAMES}
    done = 0
    had_due = False
    with opened(db) as store:
        try:
            if card_id is not None:
                batch, limit = _one_card(store, card_id), 1
            else:
                batch = _due_cards(store, current_time(), topic, include_new)
                if batch and topic is None:
                    _say_exercise(store, current_time(), first=True)
            had_due = bool(batch)
            if batch:
                total = len(batch) if limit is None else min(limit, len(batch))
                click.echo((ngettext("{n} flashcard to review in {topic}.",
                                     "{n} flashcards to review in {topic}.", total) if topic
                            else ngettext("{n} flashcard to review.", "{n} flashcards to review.",
                                          total)).format(n=total, topic=topic)
                           + _(" Ctrl-C ends the session."))
            while batch and (limit is None or done < limit):
                for item, found in batch:
                    if limit is not None and done >= limit:
                        break
                    rating, seconds = _review_one(
                        found, str(done + 1), lang, checker,
                        lambda: next_intervals(store, item.id, current_time()))
                    result = record_review(store, item.id, rating, "flashcard", round(seconds, 1), current_time())
                    counts[rating] += 1
                    done += 1
                    click.echo(_("Saved: {rating}; next review {when}.").format(
                        rating=_rating(rating), when=show_time(result.due)))
                batch = _due_cards(store, current_time(), topic)  # cards due again (learning steps)
        except (EOFError, KeyboardInterrupt):
            click.echo()
            click.echo(_("Session ended; every rating given so far is saved."))
        if not had_due:
            click.echo((_("No flashcards are due in {topic} now.") if topic
                        else _("No flashcards are due now.")).format(topic=topic))
            from mlquiz.schedule.review import new_items

            waiting = len(new_items(store, topic, "card"))
            if waiting and not include_new:
                command = f"mlquiz review{' --topic ' + topic if topic else ''} --new"
                click.echo((ngettext(
                    "{n} new card of {topic} wait their turn", "{n} new cards of {topic} wait their turn",
                    waiting) if topic else ngettext(
                    "{n} new card wait their turn", "{n} new cards wait their turn", waiting)
                ).format(n=waiting, topic=topic) + _(
                    " (new items enter in curriculum order, a few a day); study them now with "
                    "`{command}`.").format(command=command))
        elif done == 0:
            click.echo(_("No card reviewed."))
        else:
            summary = _(", ").join(f"{n} {_rating(rating)}" for rating, n in counts.items() if n)
            click.echo(ngettext("Reviewed {n} card ({summary}).", "Reviewed {n} cards ({summary}).",
                                done).format(n=done, summary=summary))
        _say_exercise(store, current_time(), first=False)


# --- cards, card --------------------------------------------------------------------------

@click.command()
@click.option("--topic", metavar="TOPIC", help="Only the cards of one topic (e.g. logistic_regression).")
@json_option
@lang_option
@db_option
def cards(topic, as_json, lang, db):
    """List the flashcards with their topic, question and schedule state.

    \b
    Examples:
      mlquiz cards
      mlquiz cards --topic bn_backward --lang zh
      mlquiz cards --json
    """
    topic = topic_or_fail(topic)
    deck = [c for c in _deck() if topic is None or c.topic == topic]
    states = _state_rows(db)
    if as_json:
        data = []
        for c in deck:
            row = states.get(c.id)
            data.append({
                "id": c.id, "item": c.item_id, "topic": c.topic, "kind": c.kind,
                "question": c.question(lang), "question_en": c.question_en,
                "question_zh": c.question_zh, "answer_latex": c.answer_latex,
                "state": _state_name(row), "due": row["due"] if row else None,
                "reviews": row["reps"] if row else 0,
            })
        echo_json(data)
        return
    titles = _titles(lang)
    current = None
    for c in deck:
        if c.topic != current:
            current = c.topic
            click.echo(click.style(f"{c.topic} — {titles.get(c.topic, '')}", bold=True))
        row = states.get(c.id)
        state = _state_name(row)
        due = _(", due {when}").format(when=show_time(row["due"])) if row and row["due"] else ""
        click.echo(f"  {c.id}  [{state}{due}]")
        click.echo(wrap(c.question(lang), "      "))
    click.echo(ngettext("{n} card. Show one with: mlquiz card ID",
                        "{n} cards. Show one with: mlquiz card ID", len(deck)).format(n=len(deck)))


@click.command()
@click.argument("card_id", metavar="ID")
@lang_option
@db_option
def card(card_id, lang, db):
    """Show one flashcard with its answer (and its schedule state).

    \b
    Examples:
      mlquiz card bn_backward.dgamma
      mlquiz card logistic_regression.sigmoid_grad --lang zh
    """
    found = _get_card(card_id)
    states = _state_rows(db)
    from mlquiz.cards import check

    click.echo(click.style(f"{found.id}", bold=True) + f"  ({_titles(lang).get(found.topic, found.topic)})")
    click.echo(wrap(found.question(lang)))
    click.echo(click.style(f"  {names_line(found)}", dim=True))
    _show_answer(found, check)
    row = states.get(found.id)
    due = _(", due {when}").format(when=show_time(row["due"])) if row and row["due"] else ""
    click.echo(_("Schedule: {state}{due}.").format(state=_state_name(row), due=due))


# --- check -------------------------------------------------------------------------------

@click.command("check")
def check_command():
    """Check typed answers in bulk: JSON lines in, JSON lines out.

    Each line of standard input is a JSON object {"card": ID, "answer": TEXT}; each answer
    gets one line of output: {"card", "answer", "status", "method", "message", "seconds"},
    with status correct, wrong or invalid and seconds the CPU time of its check (at most
    about a second, whatever the answer). A malformed line, an unknown card or a display-only
    one gets status invalid and says why. Everything runs in one process, as in a review.

    \b
    Example:
      echo '{"card": "backprop.dense_forward", "answer": "x W + b"}' | mlquiz check
    """
    _deck()
    from mlquiz.cards.check import check_request, warm_up

    warm_up()  # sympy's first simplification imports modules: not inside an answer's time limit

    for line in click.get_text_stream("stdin", errors="replace"):
        if line.strip():
            echo_json(check_request(line), indent=None)
            sys.stdout.flush()


# --- export -------------------------------------------------------------------------------

@click.group()
def export():
    """Export the flashcards to other programs.

    \b
    Example:
      mlquiz export anki mlquiz.apkg
    """


@export.command("anki")
@click.argument("file", metavar="FILE.apkg", type=click.Path(dir_okay=False, path_type=Path))
@lang_option
def export_anki_command(file, lang):
    """Write the deck for Anki: one subdeck per topic under "mlquiz", formulas in MathJax.

    Re-exporting and importing again updates the notes already in Anki (their GUIDs are
    derived from the card ids) instead of adding copies.

    \b
    Example:
      mlquiz export anki mlquiz.apkg --lang zh
    """
    if file.suffix.lower() != ".apkg":
        raise click.UsageError(_("{file} should end in .apkg (Anki's package format)").format(file=file))
    _deck()
    from mlquiz.cards.anki import export_anki

    try:
        result = export_anki(file, lang)
    except OSError as exc:
        raise click.ClickException(
            _("cannot write {file}: {error}").format(file=file, error=exc.strerror or exc)) from None
    click.echo(_("Wrote {notes} notes in {decks} decks (under \"mlquiz\") to {file}.").format(
        notes=result.notes, decks=result.decks, file=file))
