# PYTHON_ARGCOMPLETE_OK (argcomplete's global completion finds `pinpoint` by this line)
"""`pinpoint`: one command line for submitters and operators.

    pinpoint dev up                 # a whole local network: chain, Redis, contracts, coordinator, workers
    pinpoint job submit job.json --max-price 0.05
    pinpoint job watch 1            # live: state, progress, loss, deadlines, audits, disputes, payouts
    pinpoint jobs list              # the market
    pinpoint worker solver          # run a worker host (solver, verifier or referee) for one key
    pinpoint coordinator serve      # the coordinator's API and indexer

Each group has its own --help. Chain, coordinator and keys come from the options, else PINPOINT_* variables,
else the config file's profile (`pinpoint [--profile NAME] config show`; pinpoint/settings.py).
"""

from __future__ import annotations

import importlib
import os
import sys

from pinpoint.cli.errors import guarded

# group -> (module with main(argv), what it is for); imported only when used, so `pinpoint --help` is quick
GROUPS = {
    "dev": ("pinpoint.cli.dev", "a local network on this machine: up, down, status"),
    "job": ("pinpoint.cli.job", "submit, watch and settle jobs; datasets, weights, artifacts"),
    "jobs": ("pinpoint.cli.job", "the market's jobs (`jobs list`)"),
    "swarm": ("pinpoint.cli.swarm", "train one model on K solvers in rounds: post, drive, show"),
    "account": ("pinpoint.cli.account", "keys in encrypted key files: new, import, list"),
    "worker": ("worker.cli", "run a worker host: solver, verifier or referee"),
    "coordinator": ("backend.cli", "run the coordinator: serve, index, gc"),
    "config": ("pinpoint.cli.config", "the effective settings and the config file's profiles"),
    "demo": ("pinpoint.demo", "one job through the whole product on this machine"),
}


def usage() -> str:
    width = max(map(len, GROUPS))
    lines = [f"  {name:<{width}}  {about}" for name, (_, about) in GROUPS.items()]
    return __doc__ + "\ncommands:\n" + "\n".join(lines) + "\n"


def complete() -> None:
    """Shell completion (argcomplete, `eval "$(register-python-argcomplete pinpoint)"`): only the group being
    typed is imported, so a Tab never waits for torch unless the group needs it."""
    import argparse

    import argcomplete

    words = os.environ.get("COMP_LINE", "").split()[1:]
    words = words[2:] if words[:1] == ["--profile"] else words
    parser = argparse.ArgumentParser(prog="pinpoint")
    parser.add_argument("--profile", help="a profile of the config file")
    groups = parser.add_subparsers(dest="group")
    for name, (module, about) in GROUPS.items():
        build = getattr(importlib.import_module(module), "build_parser", None) if words[:1] == [name] else None
        groups.add_parser(name, help=about, parents=[build()] if build else [], add_help=not build,
                          conflict_handler="resolve")
    argcomplete.autocomplete(parser)


def main(argv: list[str] | None = None) -> int:
    if argv is None and "_ARGCOMPLETE" in os.environ:
        complete()  # exits after printing the completions
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["--profile"] and len(argv) > 1:  # a profile of the config file, for every group alike
        os.environ["PINPOINT_PROFILE"], argv = argv[1], argv[2:]
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage(), end="")
        return 0
    group, rest = argv[0], argv[1:]
    if group not in GROUPS:
        print(f"pinpoint: unknown command {group!r}\n\n{usage()}", file=sys.stderr, end="")
        return 2
    module = importlib.import_module(GROUPS[group][0])
    if group == "jobs":
        rest = ["list", *rest[1:]] if rest[:1] == ["list"] else ["list", *rest]
    return guarded(f"pinpoint {group}", lambda: module.main(rest, prog=f"pinpoint {group}"))


if __name__ == "__main__":
    sys.exit(main())
