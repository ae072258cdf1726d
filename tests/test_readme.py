"""The README's two opening commands are the ones CI and users run."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_starts_with_the_install_run_and_test_commands() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    block = lines[lines.index("```sh") + 1 : lines.index("```")]
    assert len(block) == 2
    run_cmd, test_cmd = block
    assert run_cmd.endswith("pip install . && cellfleet run")
    assert test_cmd.endswith("python -m pytest -n 2")
    ci_commands = [ln for ln in (ROOT / ".ci" / "run").read_text().splitlines() if ln and not ln.startswith("#")]
    assert ci_commands[-1] == test_cmd
