"""`pcgc`: the package's command line, for what is useful outside Snakemake.

    pcgc fetch-weights DIR [--backbone URL|PATH] [--feedback-archive URL|PATH]
    pcgc check-config FILE [FILE ...]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml


def _fetch_weights(args: argparse.Namespace) -> int:
    from pcgc.storage.fetch import DEFAULT_SOURCES, FetchError, Source, fetch_weights

    backbone = Source.parse(args.backbone, args.backbone_sha256) if args.backbone else DEFAULT_SOURCES["backbone"]
    archive = (
        Source.parse(args.feedback_archive, args.feedback_archive_sha256)
        if args.feedback_archive
        else DEFAULT_SOURCES["feedback_archive"]
    )
    try:
        manifest = fetch_weights(args.directory, backbone=backbone, feedback_archive=archive, timeout=args.timeout, retries=args.retries)
    except FetchError as error:
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

    fetch = commands.add_parser("fetch-weights", help="download and verify the published PVGG16 weights")
    fetch.add_argument("directory", type=Path)
    fetch.add_argument("--backbone", help="URL or local path of the VGG16 IMAGENET1K_V1 state dict")
    fetch.add_argument("--backbone-sha256")
    fetch.add_argument("--feedback-archive", help="URL or local path of weights_pvgg16_imagenet.zip")
    fetch.add_argument("--feedback-archive-sha256")
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
