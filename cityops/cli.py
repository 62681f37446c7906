"""The `cityops` command."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from cityops import PROJECT_ROOT
from cityops.config import ConfigError, load

DEMO_CONFIG = PROJECT_ROOT / "data" / "demo" / "cityops.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cityops", description="CityOps city operations center")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run ingest, the scheduler and the web app")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="the configuration file (TOML)")
    source.add_argument("--demo", action="store_true", help="the embedded demo city: broker, simulator, all")
    check = sub.add_parser("config-check", help="validate a configuration file and exit")
    check.add_argument("config", type=Path)
    rules = sub.add_parser("rules", help="check rule files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True)
    rules_check = rules_sub.add_parser("check", help="validate a rule file; print each error with file and line")
    rules_check.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    if args.command == "rules":
        return _rules_check(args.file)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    path = DEMO_CONFIG if getattr(args, "demo", False) else args.config
    try:
        settings = load(path)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if args.command == "config-check":
        print(f"{path}: OK ({len(settings.feeds)} feeds)")
        return 0
    from alerts.rules import RuleError
    from cityops.runtime import serve

    try:
        serve(settings)
    except (RuleError, ConfigError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _rules_check(path: Path) -> int:
    from alerts.rules import RuleError, load_rules

    try:
        rules = load_rules(path)
    except RuleError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"{path}: OK ({len(rules)} rules)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
