"""`pcgc`: the package's command line, for what is useful outside Snakemake.

    pcgc fetch-weights DIR [--network NAME] [--backbone URL|PATH] [--feedback-archive URL|PATH] [--feedback-members NAME ...]
    pcgc check-config FILE [FILE ...]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import yaml

from pcgc.spec.networks import NETWORKS, PAPER_NETWORK


def _fetch_weights(args: argparse.Namespace) -> int:
    from pcgc.storage.fetch import FetchError, Source, fetch_weights

    # A source not given is the one the network's record publishes.
    backbone = Source.parse(args.backbone, args.backbone_sha256) if args.backbone else None
    archive = Source.parse(args.feedback_archive, args.feedback_archive_sha256) if args.feedback_archive else None
    # The archive members each PCoder's predictor was found in are reported as they are found.
    logging.basicConfig(level=logging.INFO, format="pcgc fetch-weights: %(message)s")
    members = args.feedback_members
    if members is not None and len(members) == 1:
        members = members[0]  # one name: a pattern with {n}
    try:
        manifest = fetch_weights(
            args.directory, args.network, backbone=backbone, feedback_archive=archive, feedback_members=members,
            timeout=args.timeout, retries=args.retries,
        )
    except (FetchError, ValueError) as error:
        print(f"pcgc fetch-weights: {error}", file=sys.stderr)
        return 1
    print(json.dumps(manifest, indent=2))
    return 0


def _check_config(args: argparse.Namespace) -> int:
    from pcgc.spec.config import ConfigError, merge_config, validate_config

    config: dict = {}
    for path in args.files:
        merge_config(config, yaml.safe_load(Path(path).read_text()) or {})
    try:
        validate_config(config)
    except ConfigError as error:
        print(f"pcgc check-config: {' + '.join(args.files)}: {error}", file=sys.stderr)
        return 1
    print(f"{' + '.join(args.files)}: valid")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="pcgc", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)

    fetch = commands.add_parser("fetch-weights", help="download and verify a network's published weights")
    fetch.add_argument("directory", type=Path)
    fetch.add_argument(
        "--network",
        default=PAPER_NETWORK,
        choices=sorted(name for name, record in NETWORKS.items() if record.published),
        help=f"the network whose weights to fetch (default {PAPER_NETWORK})",
    )
    fetch.add_argument("--backbone", help="URL or local path of the backbone's state dict (default: the published one)")
    fetch.add_argument("--backbone-sha256")
    fetch.add_argument("--feedback-archive", help="URL or local path of the predictors' archive (default: the published one)")
    fetch.add_argument("--feedback-archive-sha256")
    fetch.add_argument(
        "--feedback-members",
        nargs="+",
        metavar="NAME",
        help="the archive's member holding each PCoder's predictor: one name with {n} for the PCoder, or one name per PCoder "
        "(default: the network record's names, or its format's matching)",
    )
    fetch.add_argument("--timeout", type=float, default=60.0, help="seconds per network operation (default 60)")
    fetch.add_argument("--retries", type=int, default=3, help="retries after a transient failure (default 3)")
    fetch.set_defaults(run=_fetch_weights)

    check = commands.add_parser(
        "check-config", help="validate configuration files (merged in order, as snakemake --configfile does)"
    )
    check.add_argument("files", nargs="+")
    check.set_defaults(run=_check_config)

    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
