import io

from rich.console import Console

from understudy_cli.demo.display import Display, View, render

RUN = {
    "number": 1,
    "verdict": "Fail",
    "samples": 163,
    "checks": [
        {"name": "agreement-rate", "value": 0.1595, "threshold": ">= 0.8", "verdict": "Fail"},
        {"name": "prediction-ks", "value": 0.02, "threshold": "<= 0.1", "verdict": "Pass"},
    ],
}


def test_plain_mode_prints_one_line_per_run_and_phase_change():
    out = io.StringIO()
    view = View(title="t", phase="Shadowing", message="shadowing 2.0.0")
    with Display(view, stream=out, interactive=False) as display:
        display.refresh()
        view.runs = [RUN]
        display.refresh()
        display.refresh()  # nothing new: nothing printed
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    assert lines[0].endswith("phase Shadowing: shadowing 2.0.0")
    assert lines[1].endswith(
        "run 1 Fail samples=163: agreement-rate=0.1595 Fail, prediction-ks=0.02 Pass"
    )


def test_the_run_that_decides_is_printed_before_the_phase_it_caused():
    out = io.StringIO()
    view = View(title="t", phase="Shadowing", message="shadowing 2.0.0")
    with Display(view, stream=out, interactive=False) as display:
        display.refresh()
        view.runs = [RUN]
        view.phase, view.message = "RolledBack", "rolled back 2.0.0"
        display.refresh()
    lines = out.getvalue().splitlines()
    assert [line.split("] ", 1)[1].split(" ")[0:2] for line in lines] == [
        ["phase", "Shadowing:"],
        ["run", "1"],
        ["phase", "RolledBack:"],
    ]


def test_the_table_shows_each_checks_threshold_and_value():
    buffer = io.StringIO()
    Console(file=buffer, width=120).print(render(View(title="t", runs=[RUN])))
    text = buffer.getvalue()
    assert ">= 0.8" in text and "<= 0.1" in text
    assert "0.1595" in text


def test_realized_error_is_printed_after_a_run_when_it_changed_and_shown_in_the_table():
    out = io.StringIO()
    view = View(title="t", phase="Shadowing", message="shadowing 2.0.0")
    with Display(view, stream=out, interactive=False) as display:
        display.refresh()
        view.labels = {"sent": 40, "applied": 39, "unknown_request": 1}
        view.realized = "realized MAE: live 1.0.0 $19.6k (n=39)"
        display.refresh()  # no new run: not printed yet
        view.runs = [RUN]
        display.refresh()
        view.runs = [RUN, {**RUN, "number": 2}]
        display.refresh()  # the same realized line: printed once
    lines = [line.split("] ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines[1].startswith("run 1") and lines[3].startswith("run 2")
    assert lines[2] == (
        "realized MAE: live 1.0.0 $19.6k (n=39) (labels sent=40 applied=39 unknown_request=1)"
    )
    assert len(lines) == 4
    buffer = io.StringIO()
    Console(file=buffer, width=140).print(render(view))
    text = buffer.getvalue()
    assert "labels sent=40 applied=39 unknown_request=1" in text
    assert "realized MAE: live 1.0.0 $19.6k (n=39)" in text
