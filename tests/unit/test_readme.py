"""The README stays true: its first commands, and the settings table generated from the model."""

from __future__ import annotations

from pathlib import Path

from prompt_playground.settings import settings_table

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_starts_with_make_run_then_make_test() -> None:
    text = README.read_text(encoding="utf-8")
    commands = [
        line.split("#")[0].strip()
        for line in text.split("```bash", 1)[1].split("```", 1)[0].splitlines()
        if line.strip()
    ]
    assert commands[:2] == ["make run", "make test"]


def test_readme_configuration_table_matches_the_settings_model() -> None:
    assert settings_table() in README.read_text(encoding="utf-8")


def test_readme_names_every_character_a_csv_cell_is_neutralized_for() -> None:
    from prompt_playground.export import FORMULA_STARTS

    names = {"\t": "a tab", "\r": "a carriage return", "\x00": "a NUL"}
    text = " ".join(README.read_text(encoding="utf-8").split())
    sentence = text.split("CSV text cells starting with", 1)[1].split(".", 1)[0]
    for start in FORMULA_STARTS:
        assert names.get(start, f"`{start}`") in sentence, repr(start)
