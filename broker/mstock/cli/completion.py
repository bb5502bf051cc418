"""CLI: ``completion SHELL`` prints the code that gives the shell tab completion.

Completion comes from argcomplete (``pip install 'mstock-openalgo[cli]'``); without it
every command works the same, only the Tab key does not.
"""

from __future__ import annotations

import argparse

from ..errors import MStockError
from .output import console

SHELLS = ("bash", "zsh", "fish", "tcsh", "powershell")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "completion",
        help="print the shell code for tab completion, e.g. eval \"$(mstock-openalgo completion bash)\"",
        description="Print the code that enables tab completion of commands and options in SHELL. "
        "Add `eval \"$(mstock-openalgo completion bash)\"` to ~/.bashrc (zsh: ~/.zshrc).",
    )
    p.add_argument("shell", choices=SHELLS)
    p.set_defaults(func=_completion)


def _completion(args: argparse.Namespace) -> int:
    try:
        import argcomplete
    except ImportError:
        raise MStockError(
            "tab completion needs argcomplete: pip install 'mstock-openalgo[cli]' (every command works without it)"
        ) from None
    console().line(argcomplete.shellcode(["mstock-openalgo"], shell=args.shell))
    return 0
