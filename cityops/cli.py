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
    rules_test = rules_sub.add_parser("test", help="replay stored history through rules; write nothing")
    rules_test.add_argument("--rules", type=Path, help="the rule file (default: the configuration's)")
    where = rules_test.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="the configuration whose store to replay")
    where.add_argument("--demo", action="store_true", help="the demo city's store")
    rules_test.add_argument("--since", default="24h", help="how far back to replay, e.g. 30m, 24h, 7d")
    feeds = sub.add_parser("feeds", help="work with feeds")
    feeds_sub = feeds.add_subparsers(dest="feeds_command", required=True)
    feeds_check = feeds_sub.add_parser("check", help="decode a file with a feed's configuration; write nothing")
    feeds_check.add_argument("--feed", required=True, help="the feed's id in the configuration")
    feeds_check.add_argument("file", type=Path)
    where = feeds_check.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path)
    where.add_argument("--demo", action="store_true")
    args = parser.parse_args(argv)
    if args.command == "feeds":
        return _feeds_check(args)
    if args.command == "rules" and args.rules_command == "check":
        return _rules_check(args.file)
    if args.command == "rules":
        return _rules_test(args)

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


def _rules_test(args) -> int:
    from alerts.replay import ReplayError, replay
    from alerts.rules import RuleError, load_rules, parse_duration

    try:
        settings = load(DEMO_CONFIG if args.demo else args.config)
        path = args.rules or settings.alerts.rules
        if path is None:
            print("no rule file: give --rules FILE or set [alerts] rules in the configuration", file=sys.stderr)
            return 2
        rules = load_rules(path)
        since = parse_duration(args.since)
        fired = replay(settings.store.path, rules, since)
    except (ConfigError, RuleError, ReplayError, ValueError) as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"Replaying {args.since} of {settings.store.path} through {len(rules)} rules of {path} (nothing is written):")
    if not fired:
        print("  no rule would have fired")
    for f in fired:
        print(f"  {f.rule_id}: {f.count} alert{'s' if f.count != 1 else ''}")
        for when, subject, title in f.first:
            print(f"      {when:%Y-%m-%d %H:%M:%S %Z}  {subject}  {title}")
    return 0


def _feeds_check(args) -> int:
    from datetime import UTC, datetime

    from feeds.decoding import FeedDecoding
    from layers.regions import RegionIndex

    try:
        settings = load(DEMO_CONFIG if args.demo else args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    feed = next((f for f in settings.feeds if f.id == args.feed), None)
    if feed is None:
        known = ", ".join(f.id for f in settings.feeds) or "none"
        print(f"no feed {args.feed!r} in the configuration (feeds: {known})", file=sys.stderr)
        return 2
    try:
        payload = args.file.read_bytes()
    except OSError as exc:
        print(f"{args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    regions = RegionIndex.from_file(settings.city.regions)
    envelope = FeedDecoding.from_settings(feed).envelope(str(args.file), payload, datetime.now(UTC), regions)
    if envelope.dead_letter is not None:
        print(f"{args.file}: would be a dead letter of feed {feed.id}: {envelope.dead_letter.reason}")
        return 1
    records = envelope.records
    print(f"{args.file}: decoded by {feed.decoder} (CRS {feed.crs}); nothing is written")
    print(f"  {len(records.entities)} entities, {len(records.observations)} observations, {len(records.events)} events")
    for e in records.entities[:5]:
        print(f"  entity  {e.id}  {e.domain}/{e.kind}  {e.name}  at {e.lon}, {e.lat}  district {e.district_id}")
    for o in records.observations[:5]:
        print(f"  observation  {o.entity_id}  {o.metric} = {o.value} {o.unit}  at {o.ts:%Y-%m-%d %H:%M:%S} UTC")
    for e in records.events[:5]:
        print(
            f"  event  {e.id}  {e.domain}/{e.type}  {e.severity or '-'}  {e.title[:60]}  at {e.ts:%Y-%m-%d %H:%M} UTC"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
