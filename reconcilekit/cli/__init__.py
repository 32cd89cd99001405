"""The ``reconcilekit`` command.

``reconcilekit build PATH`` renders a kustomization the way ``kubectl kustomize PATH`` does and writes the
YAML to stdout. The output is rendered completely before anything is printed, so a failing build prints
nothing on stdout: only a message naming the file at fault on stderr, and a non-zero exit status.

Heavy imports (the Kubernetes client, git) are never made here, so the command starts fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="reconcilekit", description="Building blocks for GitOps reconcilers."
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    build = sub.add_parser(
        "build",
        help="render a kustomization to YAML on stdout (like `kubectl kustomize`)",
        description="Render the kustomization in PATH and print multi-document YAML on stdout.",
    )
    build.add_argument("path", metavar="PATH", nargs="?", default=".", help="directory with a kustomization")
    build.add_argument(
        "--load-restrictor",
        choices=("LoadRestrictionsRootOnly", "LoadRestrictionsNone"),
        default="LoadRestrictionsRootOnly",
        help="whether files outside a kustomization's directory may be read (default: root only)",
    )
    build.add_argument(
        "--allow-remote",
        action="store_true",
        help="fetch remote bases (Git URLs such as https://host/org/repo//dir?ref=v1) and remote files",
    )
    build.add_argument(
        "-o",
        "--output",
        metavar="FILE",
        help="write the YAML to FILE instead of stdout (written only on success)",
    )
    return parser


def _build(args: argparse.Namespace) -> int:
    from reconcilekit._errors import ReconcileKitError
    from reconcilekit.kustomize import build, to_yaml

    restrictor = "none" if args.load_restrictor == "LoadRestrictionsNone" else "root"
    try:
        text = to_yaml(build(args.path, load_restrictor=restrictor, allow_remote=args.allow_remote))
    except ReconcileKitError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return EXIT_ERROR
    except OSError as exc:
        # Unreadable paths that slipped past the loader's checks (permissions, races).
        sys.stderr.write(f"error: {exc.filename or args.path}: {exc.strerror or exc}\n")
        return EXIT_ERROR
    if args.output:
        with open(args.output, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        sys.stdout.write(text)
        sys.stdout.flush()
    return EXIT_OK


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` (default ``sys.argv[1:]``); return the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "build":
        try:
            return _build(args)
        except BrokenPipeError:
            # `reconcilekit build . | head` closes the pipe early; that is not an error of ours.
            return EXIT_OK
    parser.print_help(sys.stderr)
    return EXIT_USAGE
