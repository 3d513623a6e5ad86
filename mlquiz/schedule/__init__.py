"""The spaced-repetition schedule: items, their FSRS state, the review log, graded attempts.

Every exercise and every flashcard is an *item* (``exercise:<id>``, ``card:<id>``) whose
state (due, stability, difficulty, state, step) is computed by the ``fsrs`` package, never
here: a review appends a row to ``reviews`` and stores the card that
``Scheduler.review_card`` returns, in one transaction. Each review row points to the
scheduler configuration that made it (``schedulers``: parameters, retention, steps, fuzzing
on) and its fuzz is drawn from a generator seeded by the item and the review's number, so
replaying an item's log through ``fsrs`` gives exactly its stored state and every review row
(``tests/test_schedule.py`` checks it).

Rules of mlquiz on top of FSRS (README.md, "The schedule and its database", says them for
learners):

* The learner's day starts at ``day_starts_at`` in ``timezone`` (``config.learner_day``).
* What comes next (``review.queue``): (re)learning items due, cards called for by a failed
  exercise, due reviews lowest retrievability first, then new items in curriculum order, at
  most ``new_per_day`` a day (called-for new cards included).
* Exercises have learning and relearning steps of one day; cards keep fsrs's.
* A graded file is a review only when it shows recall (``attempts.not_a_review``): Good when
  every function passes, Again otherwise, Hard for a pass after a hint since the last pass.
  After a failure in the learner's day, further failures that day are attempts, not reviews.
* Failing an exercise calls for the flashcards of its formulas (``items.requested_at``).

Modules, from the bottom up: ``store`` (the SQLite file: identity checks, migrations,
transactions), ``config`` (settings), ``items`` (the catalogue of exercises and cards, synced
into the store; ``open_schedule``), ``review`` (what is due, what comes next, one FSRS
review), ``attempts`` (graded submissions and the files kept: reset, restore), ``hints``,
``stats`` (the review log and the statistics), ``optimize`` (parameters fitted with fsrs-rs).
``fsrs`` and sqlite-utils are imported only where a review or a write needs them, so
``next_item`` stays cheap.
"""
