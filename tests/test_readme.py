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
