"""Count SQL statements and transactions per Streamlit script run (issue 23: a budget per script run).

Statements are counted with SQLAlchemy's `before_cursor_execute` and transactions with `begin`, on every engine
(SQLite has a writer and a reader engine per file), but only in script threads: the speech runner and job worker
write from threads of their own, which no page run waits for. Each `ScriptRunContext.reset` (the start of one script
run: a rerun or a fragment run too) opens a new bucket, so an action that reruns the page shows as the
runs it caused.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from sqlalchemy import event
from sqlalchemy.engine import Engine
from streamlit.runtime.scriptrunner_utils.script_run_context import ScriptRunContext, get_script_run_ctx

_CONTROL = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE")


@dataclass
class Run:
    statements: list[str] = field(default_factory=list)
    transactions: int = 0

    def __str__(self) -> str:
        return f"{len(self.statements)} statements, {self.transactions} transactions"


@dataclass
class Counter:
    runs: list[Run] = field(default_factory=list)

    def copy(self) -> Counter:
        return Counter(list(self.runs))

    def mark(self) -> None:
        """Forget what was counted so far: the next action starts from zero runs."""
        self.runs.clear()

    @property
    def statements(self) -> int:
        return sum(len(r.statements) for r in self.runs)

    @property
    def transactions(self) -> int:
        return sum(r.transactions for r in self.runs)

    def worst(self) -> Run:
        return max(self.runs, key=lambda r: (len(r.statements), r.transactions), default=Run())

    def summary(self) -> str:
        per_run = ", ".join(f"{len(r.statements)}/{r.transactions}" for r in self.runs)
        return f"{len(self.runs)} runs: {self.statements} statements, {self.transactions} transactions ({per_run})"


def _in_script() -> bool:
    return get_script_run_ctx(suppress_warning=True) is not None


@contextmanager
def count_sql() -> Iterator[Counter]:
    """While open, every script run's SQL is counted into `Counter.runs`."""
    counter = Counter()

    def statement(_conn, _cursor, sql, _params, _context, _many) -> None:
        if _in_script() and counter.runs and not sql.lstrip().upper().startswith(_CONTROL):
            counter.runs[-1].statements.append(sql)

    def begin(_conn) -> None:
        if _in_script() and counter.runs:
            counter.runs[-1].transactions += 1

    original = ScriptRunContext.reset

    def reset(self, *args, **kwargs) -> None:  # once at the start of every script run, reruns included
        counter.runs.append(Run())
        original(self, *args, **kwargs)

    event.listen(Engine, "before_cursor_execute", statement)
    event.listen(Engine, "begin", begin)
    ScriptRunContext.reset = reset
    try:
        yield counter
    finally:
        ScriptRunContext.reset = original
        event.remove(Engine, "before_cursor_execute", statement)
        event.remove(Engine, "begin", begin)
