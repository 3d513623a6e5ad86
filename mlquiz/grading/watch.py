"""The practice loop's grading side: the workspace, which files of a folder are exercises,
progress over the curriculum, and a watch session (``mlquiz watch``).

A watch session (:class:`WatchSession`) grades each exercise file the learner saves and hands
it to the schedule (``schedule``, an object with ``stored``, ``record`` and ``hint``: see
``mlquiz.schedule.practice.ScheduleLink``; this wing never imports the schedule) under the
schedule's rules, with one more: **at most one review per exercise a session**. The first
save that the schedule counts as a review (a pass, or a failure that is not a repeat of the
day's) is that review; every later save of the same exercise in the session is stored as an
attempt without a review (``mlquiz attempts`` lists it), so that a debugging loop is not
twenty reviews. watchfiles is imported only when watching.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from mlquiz.curriculum import Exercise, exercises, get_exercise
from mlquiz.grading.notebook import is_notebook
from mlquiz.grading.report import NOT_IMPLEMENTED, PASS, GradingError, SandboxRequired


# --- the workspace and its files ----------------------------------------------------------

NOT_AN_EXERCISE = "not an exercise file"

def default_workspace() -> Path:
    """Where ``mlquiz init`` puts the exercises when no folder is named: ``~/mlquiz/exercises``,
    outside any checkout, so that the learner's work never dirties a clone of mlquiz."""
    return Path.home() / "mlquiz" / "exercises"


def default_folder() -> Path:
    """The folder to practise in when none is named: ``./exercises`` when there is one, else
    the default workspace."""
    here = Path("exercises")
    return here if here.is_dir() else default_workspace()


def exercise_of_file(path) -> Exercise | None:
    """The exercise a file is, by its name: ``bn_backward.py`` (the exercise's file) or a
    notebook named after it (``bn_backward.ipynb``); None for any other file."""
    path = Path(path)
    if is_notebook(path):
        found = get_exercise(path.stem)
        return found if found and path.stem in (found.id, found.stem) else None
    found = get_exercise(path.name)
    return found if found and path.name == found.file else None


def exercise_files(folder) -> tuple[list, list]:
    """``(found, skipped)`` in ``folder``: ``found`` the (Exercise, path) of every exercise
    file (Python files, then notebooks, in curriculum order), ``skipped`` every other visible
    file, sorted. Hidden files and sub-folders are ignored."""
    folder = Path(folder)
    order = {ex.id: i for i, ex in enumerate(exercises())}
    found, skipped = [], []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(".") or not path.is_file():
            continue
        exercise = exercise_of_file(path)
        if exercise is None:
            skipped.append(path)
        else:
            found.append((exercise, path))
    found.sort(key=lambda pair: (order[pair[0].id], is_notebook(pair[1])))
    return found, skipped


def grade_folder(folder, **grade_options) -> tuple[list, list]:
    """Grade every exercise file of ``folder`` (``exercise_files``), one sandbox per file and
    as many at once as there are cores: ``(reports, skipped)``, the reports in curriculum
    order, ``skipped`` the (path, why) of every file that is not an exercise file or cannot be
    read as one (a notebook that is not JSON). ``grade_options`` go to ``grade_file``."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from mlquiz.grading.engine import grade_file

    found, others = exercise_files(folder)

    def grade(job):
        exercise, path = job
        try:
            return grade_file(path, exercise=exercise.id, **grade_options)
        except SandboxRequired:
            raise  # nothing can be graded: the whole folder is refused
        except GradingError as exc:
            return exc

    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        results = list(pool.map(grade, found))
    reports = [r for r in results if not isinstance(r, GradingError)]
    unreadable = [(path, str(r)) for (_, path), r in zip(found, results) if isinstance(r, GradingError)]
    return reports, sorted([(p, NOT_AN_EXERCISE) for p in others] + unreadable)


def untouched(report) -> bool:
    """Is nothing in the graded file implemented yet (every function a TODO)?"""
    return bool(report.functions) and all(f.verdict == NOT_IMPLEMENTED for f in report.functions)


# --- progress -----------------------------------------------------------------------------

@dataclass
class Progress:
    """How far the learner is: exercises whose every function passes, of all the
    curriculum's, and functions passing, of all; ``next`` the exercise to practise next
    (None once every exercise passes)."""

    exercises_passing: int
    exercises_total: int
    functions_passing: int
    functions_total: int
    next: Exercise | None


def progress(verdicts: dict, current: str | None = None) -> Progress:
    """Progress from ``verdicts`` (exercise id -> {function name: verdict}; missing exercises
    have nothing passing). Next is ``current`` while it does not pass, else the first
    exercise in curriculum order that does not."""
    everything = exercises()

    def passing(exercise):
        known = verdicts.get(exercise.id, {})
        return sum(known.get(name) == PASS for name in exercise.functions)

    done = [ex for ex in everything if passing(ex) == len(ex.functions)]
    todo = [ex for ex in everything if ex not in done]
    chosen = next((ex for ex in todo if ex.id == current), todo[0] if todo else None)
    return Progress(len(done), len(everything), sum(passing(ex) for ex in everything),
                    sum(len(ex.functions) for ex in everything), chosen)


# --- a watch session ----------------------------------------------------------------------

@dataclass
class Graded:
    """One save graded in a watch session: the report, the Attempt recorded (None when
    nothing was recorded: recording is off, ``not_recorded`` says why the schedule took it for
    no review, or ``record_error`` why it could not record it), and whether it was kept as an
    attempt without a review because the exercise was already reviewed this session."""

    report: object
    attempt: object = None
    review_withheld: bool = False
    not_recorded: str | None = None  # e.g. an untouched stub
    record_error: str | None = None  # the schedule could not record it (the verdict stands)


def graded_text(path) -> str | None:
    """The text grading would run for ``path`` (a notebook's code cells), None if unreadable."""
    from mlquiz.grading.notebook import python_of

    try:
        return python_of(path).source if is_notebook(path) else Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError, GradingError):
        return None


@dataclass
class WatchSession:
    """The state of ``mlquiz watch`` over ``folder``: the latest verdicts of every exercise,
    the exercises already reviewed in this session, and the hints shown.

    ``schedule`` reads and records (see the module docstring); ``record=False`` records
    nothing. ``grade_options`` go to ``grade_file`` (timeout, memory_mb)."""

    folder: Path
    schedule: object
    record: bool = True
    grade_options: dict = field(default_factory=dict)
    verdicts: dict = field(default_factory=dict)  # exercise id -> {function: verdict}
    reviewed: set = field(default_factory=set)  # exercises whose review this session is made
    texts: dict = field(default_factory=dict)  # path -> the text last graded
    current: str | None = None  # the exercise last saved
    hints_shown: dict = field(default_factory=dict)  # exercise id -> hints shown (record=False)

    def start(self, on_graded=None, on_problem=None) -> list:
        """The verdicts of every exercise file in the folder before the first save: an
        untouched stub is all TODO, a file the schedule has graded as it is now keeps that
        verdict, any other file is graded now (not recorded). Returns the reports graded;
        ``on_graded(report)`` is called after each, ``on_problem(path, message)`` for a file
        that cannot be graded (a notebook that is not JSON)."""
        from mlquiz.grading.engine import grade_file

        found, _ = exercise_files(self.folder)
        stored = self.schedule.stored([ex.id for ex, _ in found])
        graded = []
        for exercise, path in found:
            text = graded_text(path)
            self.texts[path] = text
            if text is not None and text == _stub_text(exercise):
                self.verdicts[exercise.id] = {name: NOT_IMPLEMENTED for name in exercise.functions}
            elif text is not None and text == stored.get(exercise.id, (None,))[0]:
                self.verdicts[exercise.id] = stored[exercise.id][1]
            else:
                try:
                    report = grade_file(path, exercise=exercise.id, **self.grade_options)
                except GradingError as exc:
                    if on_problem:
                        on_problem(path, str(exc))
                    continue
                self.verdicts[exercise.id] = {f.name: f.verdict for f in report.functions}
                graded.append(report)
                if on_graded:
                    on_graded(report)
        return graded

    def grade(self, path, on_function=None) -> Graded | None:
        """Grade a saved file and record it (see the module docstring); None when the file is
        not an exercise, is gone, or is unchanged since it was last graded in this session."""
        from mlquiz.grading.engine import grade_file

        path = Path(path)
        exercise = exercise_of_file(path)
        if exercise is None or not path.is_file():
            return None
        text = graded_text(path)
        if text is not None and text == self.texts.get(path):
            return None
        report = grade_file(path, exercise=exercise.id, on_function=on_function, **self.grade_options)
        self.texts[path] = text
        self.current = exercise.id
        self.verdicts[exercise.id] = {f.name: f.verdict for f in report.functions}
        graded = Graded(report)
        if self.record:
            first = exercise.id not in self.reviewed
            graded.attempt, graded.not_recorded, graded.record_error = \
                self.schedule.record(report, review=first)
            graded.review_withheld = not first and graded.attempt is not None
            if graded.attempt is not None and graded.attempt.counted:
                self.reviewed.add(exercise.id)
        return graded

    def progress(self) -> Progress:
        return progress(self.verdicts, self.current)

    def skip(self) -> Exercise | None:
        """Move on: the next exercise after the one to practise now (``progress().next``), in
        curriculum order, that does not pass yet (wrapping around); None when every exercise
        passes."""
        everything = list(exercises())
        now = self.progress().next
        start = next((i + 1 for i, ex in enumerate(everything) if now and ex.id == now.id), 0)
        for exercise in everything[start:] + everything[:start]:
            known = self.verdicts.get(exercise.id, {})
            if any(known.get(name) != PASS for name in exercise.functions):
                self.current = exercise.id
                return exercise
        return None

    def path_of(self, exercise: Exercise) -> Path:
        """The exercise's file in the folder (a notebook if that is what the learner uses)."""
        notebook = self.folder / f"{exercise.id}.ipynb"
        return notebook if notebook.is_file() and not (self.folder / exercise.file).is_file() \
            else self.folder / exercise.file

    def hint(self) -> tuple[Exercise, int, str] | None:
        """The next hint of the exercise to practise: (exercise, level, text); recorded in
        the schedule as ``mlquiz hint`` is (a pass after it is Hard). None once all pass."""
        exercise = self.progress().next
        if exercise is None or not exercise.hints:
            return None
        if self.record:
            level = self.schedule.hint(exercise.id)
        else:
            level = min(self.hints_shown.get(exercise.id, 0) + 1, len(exercise.hints))
            self.hints_shown[exercise.id] = level
        from mlquiz.i18n import language

        return exercise, level, exercise.hints_in(language())[level - 1]


def _stub_text(exercise: Exercise) -> str | None:
    try:
        return exercise.stub_path.read_text(encoding="utf-8")
    except OSError:
        return None


def changes(folder, stop_event=None, tick_ms: int = 200):
    """Watch ``folder`` (watchfiles): yield the list of exercise files saved since the last
    yield, in curriculum order, or an empty list every ``tick_ms`` when nothing changed (so
    that the caller can read keys). Ends when ``stop_event.is_set()``."""
    from watchfiles import Change, watch

    def is_exercise(change, path):
        return change != Change.deleted and exercise_of_file(path) is not None

    order = {ex.id: i for i, ex in enumerate(exercises())}
    for batch in watch(folder, watch_filter=is_exercise, rust_timeout=tick_ms, yield_on_timeout=True,
                       stop_event=stop_event, recursive=False, raise_interrupt=True, debounce=800):
        paths = {Path(folder) / Path(path).name for _, path in batch}  # as the learner named the folder
        yield sorted(paths, key=lambda p: (order[exercise_of_file(p).id], p.name))
