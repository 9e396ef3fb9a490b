import io

from rich.console import Console

from understudy_cli.demo.display import Display, View, _render

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
    Console(file=buffer, width=120).print(_render(View(title="t", runs=[RUN])))
    text = buffer.getvalue()
    assert ">= 0.8" in text and "<= 0.1" in text
    assert "0.1595" in text
