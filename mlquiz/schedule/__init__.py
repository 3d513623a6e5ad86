"""The spaced-repetition schedule: items, their FSRS state, the review log, graded attempts.

Every exercise and every flashcard is an *item* (``exercise:<id>``, ``card:<id>``) whose
state (due, stability, difficulty, state, step) is computed by the ``fsrs`` package, never
here: a review appends a row to ``reviews`` and stores the card that
``Scheduler.review_card`` returns, in one transaction. Fuzzing is off, and each review keeps
the desired retention it was scheduled with, so replaying an item's log through ``fsrs``
gives exactly its stored state (``tests/test_schedule.py`` checks it).

Rules of mlquiz on top of FSRS:

* New items (never reviewed) enter in curriculum order, at most ``new_per_day`` a UTC day.
* A graded exercise is a review: Good when every function passes, Again otherwise, Hard for
  a pass after ``mlquiz hint`` since the item's last review. A failure on an item whose last
  review is an Again of the same day is stored as an attempt but is not a review (no new
  lapse); the next pass is the recovery. Its duration is the time since ``mlquiz next``
  showed the exercise or it was last graded, whichever is later.
* A graded file in which every function is still "not implemented" (an untouched stub) is
  neither a review nor an attempt.
* Every graded file's source is kept in ``submissions`` with its verdict, and so is a file
  that ``reset`` or ``restore`` is about to overwrite.
* Failing an exercise calls for the flashcards of its formulas (``items.requested_at``): they
  are due at once, until their next review.

Modules, from the bottom up: ``store`` (the SQLite file: identity checks, migrations,
transactions), ``config`` (settings), ``items`` (the catalogue of exercises and cards, synced
into the store; ``open_schedule``), ``review`` (what is due, what comes next, one FSRS
review), ``attempts`` (graded submissions and the files kept: reset, restore), ``hints``,
``stats`` (the review log and the statistics). ``fsrs`` and sqlite-utils are imported only
where a review or a write needs them, so ``next_item`` stays cheap.
"""
