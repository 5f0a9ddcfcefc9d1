"""Regenerate docs/cli.md's option reference from the command line itself.

    python docs/make_cli_reference.py > /tmp/options.md   # then paste over the "Every option" part

The conventions and exit codes at the top of docs/cli.md are written by hand.
"""

from __future__ import annotations

from typing import Any

from harness.cli import app  # noqa: F401  (registers every verb)
from harness.cli.app import command


def _default(p: Any) -> str:
    if p.required:
        return "required"
    if getattr(p, "is_flag", False) and not getattr(p, "secondary_opts", None):
        return ""
    d = p.default
    if d is None or d == () or d == []:
        return ""
    if isinstance(d, bool) and getattr(p, "secondary_opts", None):
        return p.opts[0] if d else p.secondary_opts[0]
    return f"`{getattr(d, 'value', d)}`"


def main() -> None:
    """Print one table of options per command."""
    root = command()
    for name in sorted(root.commands):
        cmd = root.commands[name]
        args = " ".join(p.name.upper() for p in cmd.params if p.param_type_name == "argument")
        print(f"### `harness {name} {args}`".rstrip("` ") + "`")
        print()
        print((cmd.help or "").split("\n\n")[0].replace("\\[", "["))
        print()
        print("| argument or option | default | meaning |")
        print("| --- | --- | --- |")
        for p in cmd.params:
            if p.name == "help":
                continue
            flags = p.name.upper() if p.param_type_name == "argument" else " / ".join(p.opts + p.secondary_opts)
            text = (getattr(p, "help", None) or "").replace("\\[", "[").replace("|", "\\|")
            print(f"| `{flags}` | {_default(p)} | {text} |")
        print()


if __name__ == "__main__":
    main()
