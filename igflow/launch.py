"""The ``igflow`` command's entry point.

``igflow --help`` (and ``-h``, ``--version``/``-V``, and no arguments at all) is answered from text
shipped in the package, without importing argparse or the CLI: it is the first command people
run and the one whose startup igflow budgets (bench/startup.py). ``igflow/help.txt`` is what the
CLI's own parser prints (tests/unit/test_launch.py keeps the two identical). Everything else goes
to :func:`igflow.cli.main`.
"""

from __future__ import annotations

import sys

from igflow import __version__

_USAGE_EXIT = 2  # no command given: the help, as a usage error (ExitCode.USAGE)


def main() -> int:
    args = sys.argv[1:]
    if args in (["--help"], ["-h"], [], ["--version"], ["-V"]):
        try:
            if args in (["--version"], ["-V"]):
                sys.stdout.write(f"igflow {__version__}\n")
            else:
                sys.stdout.write(help_text())
            sys.stdout.flush()
        except BrokenPipeError:
            return 141  # ExitCode.CLOSED_PIPE: the reader went away
        return _USAGE_EXIT if not args else 0
    from igflow import gcpolicy

    # No cyclic collection while the command starts up, until it settles into its work (see
    # igflow.gcpolicy): about 35 ms of a 400-step playbook's start.
    gcpolicy.defer()
    try:
        from igflow.cli import main as cli_main

        return cli_main()
    finally:
        gcpolicy.restore()


def help_text() -> str:
    # os.path, not pathlib: pathlib's imports would cost more than everything else here.
    import os.path

    with open(os.path.join(os.path.dirname(__file__), "help.txt"), encoding="utf-8") as handle:
        return handle.read()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
