"""Every command keeps its flags: spellings, aliases, destinations, defaults, choices and types are compared
with a recorded signature of all parsers (the package's sub-commands and NVIDIA's/dvschultz's script forms).

A deliberate change of a flag updates tests/cli/parser_signatures.json in the same commit:
    python tests/cli/test_parser_signatures.py --write
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

SIGNATURES = Path(__file__).with_name("parser_signatures.json")


def _type_name(fn: object) -> str | None:
    # The converter's name without "_"/"parse_", so renaming a private helper is not a change of flags.
    return None if fn is None else getattr(fn, "__name__", repr(fn)).lstrip("_").removeprefix("parse_")


def signature(parser: argparse.ArgumentParser) -> list[dict]:
    rows: list[dict] = []
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            continue
        if isinstance(action, argparse._SubParsersAction):
            rows.append({"subcommands": sorted(action.choices)})
            continue
        default = action.default
        if not isinstance(default, (str, int, float, bool, type(None), list, tuple)):
            default = repr(default)
        rows.append(
            {
                "flags": list(action.option_strings),
                "dest": action.dest,
                "default": default,
                "choices": list(action.choices) if action.choices is not None else None,
                "nargs": action.nargs,
                "const": action.const,
                "required": action.required,
                "type": _type_name(action.type),
                "action": type(action).__name__,
            }
        )
    return rows


def all_parsers() -> dict[str, argparse.ArgumentParser]:
    from stylegan2_ada import cli
    from stylegan2_ada.cli import legacy, mix

    parsers: dict[str, argparse.ArgumentParser] = {}
    for name in cli.SUBCOMMANDS:
        parser = argparse.ArgumentParser(prog=name)
        cli.command_module(name).add_arguments(parser)
        parsers[f"stylegan2-ada {name}"] = parser
    parsers["generate.py"] = legacy.nvlabs_parser("generate.py")
    parsers["generate.py generate-images"] = legacy.dvschultz_parser("generate.py")
    parsers["generate.py generate-latent-walk"] = legacy.latent_walk_parser("generate.py")
    parsers["generate.py truncation-traversal"] = legacy.truncation_traversal_parser("generate.py")
    parsers["generate.py lerp-video"] = legacy.lerp_video_parser("generate.py")
    grid = argparse.ArgumentParser()
    mix.add_arguments(grid, default_trunc=0.5)
    parsers["style_mixing.py grid"] = grid
    parsers["dataset_tool.py"] = legacy.dataset_tool_parser("dataset_tool.py")
    return parsers


def current() -> dict[str, list[dict]]:
    # Through JSON, so tuples and lists compare as the file stores them.
    return json.loads(json.dumps({name: signature(p) for name, p in all_parsers().items()}, default=repr))


def test_every_parser_keeps_its_flags() -> None:
    recorded = json.loads(SIGNATURES.read_text())
    now = current()
    assert sorted(now) == sorted(recorded)
    for name in recorded:
        before = {tuple(r.get("flags", ["<sub>"])): r for r in recorded[name]}
        after = {tuple(r.get("flags", ["<sub>"])): r for r in now[name]}
        assert sorted(after) == sorted(before), f"{name}: flags added or removed"
        for flags, row in before.items():
            assert after[flags] == row, f"{name} {flags[0] if flags else ''}: {after[flags]} != {row}"


if __name__ == "__main__" and "--write" in sys.argv:
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    SIGNATURES.write_text(json.dumps(current(), indent=1, sort_keys=True) + "\n")
    print(f"wrote {SIGNATURES}")
