"""README must stay true: every scenario key is documented, and the two commands are there."""

from pathlib import Path

from simulator.config import describe_keys

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_documents_every_scenario_key() -> None:
    text = README.read_text()
    missing = [k for k, _, _ in describe_keys()
               if not k.startswith(("costs.", "task.workload.", "vms.<name>."))
               and not (k.startswith("kernel.") and k != "kernel.release")
               and f"`{k}`" not in text]
    assert missing == []
    assert "`vms.<name>.*`" in text
    assert "`kernel.*`" in text  # every switch is in docs/kernels.md (tests/test_kernels.py)


def test_readme_gives_the_two_commands() -> None:
    text = README.read_text()
    assert "make run" in text and "make test" in text


def test_ci_runs_the_readme_test_command() -> None:
    ci = (README.parent / ".ci" / "run").read_text()
    assert "make test" in ci


def test_readme_quotes_the_summary_run_prints() -> None:
    """README's `make run` block has exactly the rows `run` prints (wall-time rows left out),
    in order and in the same units."""
    from simulator.cli.run import SUMMARY_TABLE, format_summary

    text = README.read_text()
    block = text.split("```\nscenario default:", 1)[1].split("\n\nrun folder:", 1)[0]
    rows = block.splitlines()[1:]
    wall = ("wall_time_s", "accesses_per_wall_s")
    assert [r.split("  ", 1)[0] for r in rows] == [
        label for key, label, _ in SUMMARY_TABLE if key not in wall]
    summary = {"aging_pass_mean_ns": 1_102_018.6, "sim_time_ns": 2_000_000_000}
    printed = dict(line.split("  ", 1) for line in format_summary(summary).splitlines())
    quoted = dict(r.split("  ", 1) for r in rows)
    for label in ("aging pass mean", "simulated time"):
        assert printed[label].strip() == quoted[label].strip()
