"""Progress output: drawn on a terminal only, and only for work that lasts."""

import io

from llmemu.cli.progress import Activity, Progress


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_silent_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = Progress("sweep", stream=out, delay_s=0.0)
    for done in range(1, 4):
        bar(done, 3)
    with Activity("reproduce nanoflow", "hint", stream=out) as act:
        act.tick()
    assert out.getvalue() == ""


def test_a_terminal_sees_the_counts_once_the_work_lasts() -> None:
    out = Tty()
    quick = Progress("simulating", stream=out, delay_s=60.0)
    quick(1, 2)
    quick(2, 2)  # done within the delay: nothing drawn
    assert out.getvalue() == ""
    bar = Progress("sweep", stream=out, delay_s=0.0)
    bar(1, 4)
    bar(4, 4)
    assert "sweep" in out.getvalue() and "4/4" in out.getvalue()


def test_a_budgeted_search_counts_what_it_tried() -> None:
    out = Tty()
    with Activity.budget("tune", 40.0, stream=out) as act:
        for _ in range(3):
            act.tick()
    assert "3 tried" in out.getvalue()
