"""The `cityops` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from alerts.org import OrgError
from alerts.working_time import CalendarError
from cityops import DEMO_DIR
from cityops.config import ConfigError, config_warnings, load
from layers.geofiles import GeoFileError
from store.accounts import ROLES

DEMO_CONFIG = DEMO_DIR / "cityops.toml"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cityops", description="CityOps city operations center")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run ingest, the scheduler and the web app")
    source = run.add_mutually_exclusive_group(required=True)
    source.add_argument("--config", type=Path, help="the configuration file (TOML)")
    source.add_argument("--demo", action="store_true", help="the embedded demo city: broker, simulator, all")
    simulate = sub.add_parser("simulate", help="publish the demo city to the configured broker from a process of "
                              "its own (a load test; run CityOps with simulator.publish = false)")  # fmt: skip
    where = simulate.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path, help="the configuration whose broker and simulator to use")
    where.add_argument("--demo", action="store_true", help="the demo city's")
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
    regions = sub.add_parser("regions", help="the city's regions")
    regions_sub = regions.add_subparsers(dest="regions_command", required=True)
    regions_check = regions_sub.add_parser("check", help="read every level's file; report counts, gaps, overlaps "
                                           "and regions outside their parent; draw a preview")  # fmt: skip
    where = regions_check.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path)
    where.add_argument("--demo", action="store_true")
    regions_check.add_argument("--png", type=Path, help="write a preview image here")
    org = sub.add_parser("org", help="the city's organisation: centres, departments, people, roster, routing")
    org_sub = org.add_subparsers(dest="org_command", required=True)
    org_check = org_sub.add_parser("check", help="read an organisation file against the city's regions; print what "
                                   "it holds and each mistake with its line")  # fmt: skip
    org_check.add_argument("file", type=Path, nargs="?", help="the file (default: the configuration's [alerts] org)")
    where = org_check.add_mutually_exclusive_group(required=True)
    where.add_argument("--config", type=Path)
    where.add_argument("--demo", action="store_true")
    _account_commands(sub)
    args = parser.parse_args(argv)
    # What CityOps writes (the store and its journal, the accounts and theirs, backups, the embedded broker's data)
    # holds people's hashes, sessions and the city's records: readable by the service's user alone.
    os.umask(0o077)
    if args.command in ("users", "displays"):
        return _accounts(args)
    if args.command in ("backup", "restore"):
        return _backup(args)
    if args.command == "notifications":
        return _notifications(args)
    if args.command == "status":
        return _status(args)
    if args.command == "feeds":
        return _feeds_check(args)
    if args.command == "regions":
        return _regions_check(args)
    if args.command == "org":
        return _org_check(args)
    if args.command == "rules" and args.rules_command == "check":
        return _rules_check(args.file)
    if args.command == "rules":
        return _rules_test(args)

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    settings = _settings(args)
    if settings is None:
        return 2
    for line in config_warnings(settings, _config_path(args)):
        print(line, file=sys.stderr)
    if args.command == "config-check":
        try:
            regions = settings.city.regions()
            reference = settings.reference_layers()
            settings.working_calendar()
            settings.organisation(regions)
        except (GeoFileError, CalendarError, OrgError) as exc:
            print(exc, file=sys.stderr)
            return 2
        levels = ", ".join(f"{len(regions.level(level))} {level}" for level in regions.levels)
        layers = "".join(f"; {layer.id}: {len(layer.places)}" for layer in reference)
        print(f"{_config_path(args)}: OK ({len(settings.feeds)} feeds; regions: {levels}{layers})")
        return 0
    if args.command == "simulate":
        from cityops.runtime import simulate

        try:
            simulate(settings)
        except ConfigError as exc:
            print(exc, file=sys.stderr)
            return 2
        return 0
    from alerts.rules import RuleError
    from cityops.runtime import serve

    try:
        serve(settings)
    except (RuleError, ConfigError, GeoFileError, CalendarError, OrgError) as exc:
        print(exc, file=sys.stderr)
        return 2
    return 0


def _account_commands(sub) -> None:
    def where(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
        group = p.add_mutually_exclusive_group(required=True)
        group.add_argument("--config", type=Path, help="the configuration whose accounts to change")
        group.add_argument("--demo", action="store_true", help="the demo city's accounts")
        return p

    users = sub.add_parser("users", help="user accounts (works while cityops runs)")
    users_sub = users.add_subparsers(dest="action", required=True)
    add = where(users_sub.add_parser("add", help="add a user; prints a one-time password"))
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--districts", default="", help="district ids, comma-separated (district_leader)")
    where(users_sub.add_parser("list", help="list users, their roles and districts"))
    role = where(users_sub.add_parser("set-role", help="change a user's role"))
    role.add_argument("name")
    role.add_argument("role", choices=ROLES)
    districts = where(users_sub.add_parser("set-districts", help="change a district leader's districts"))
    districts.add_argument("name")
    districts.add_argument("districts", help="district ids, comma-separated")
    for action, text in (("disable", "disable a user and end their sessions"), ("enable", "enable a user again"),
                         ("reset-password", "give a user a new one-time password (also unlocks)")):  # fmt: skip
        where(users_sub.add_parser(action, help=text)).add_argument("name")
    displays = sub.add_parser("displays", help="wall display links: read-only, never time out, revocable")
    displays_sub = displays.add_subparsers(dest="action", required=True)
    where(displays_sub.add_parser("add", help="a new display link; prints it once")).add_argument("name")
    where(displays_sub.add_parser("list", help="list display links (never their tokens)"))
    where(displays_sub.add_parser("revoke", help="revoke a display link")).add_argument("id", type=int)
    backup = where(sub.add_parser("backup", help="a consistent copy of the store and the accounts, taken by the "
                                                  "running server (or directly when none runs)"))  # fmt: skip
    backup.add_argument("--to", type=Path, required=True, help="a new folder for the backup")
    notes = sub.add_parser("notifications", help="deliveries of notifications: list them, send given-up ones again")
    notes_sub = notes.add_subparsers(dest="action", required=True)
    listing = where(notes_sub.add_parser("list", help="the newest deliveries, with their state and last error"))
    listing.add_argument("--state", choices=("pending", "sent", "dead"), help="only those in this state")
    again = where(notes_sub.add_parser("replay", help="send given-up (dead) deliveries again"))
    again.add_argument("ids", nargs="*", type=int, help="the deliveries; none: every dead one")
    where(sub.add_parser("status", help="the nodes serving the city, the leader, each node's lag, and the database"))
    restore = where(sub.add_parser("restore", help="put a backup in place of the store and accounts (stop CityOps)"))
    restore.add_argument("--from", dest="source", type=Path, required=True, help="the backup's folder")
    restore.add_argument("--force", action="store_true", help="set an existing store and accounts aside first")


def _backup(args) -> int:
    """`cityops backup` and `cityops restore`: the running server copies its own store (DuckDB lets no other
    process open it); without one, this process does."""
    import duckdb

    from cityops import control
    from cityops.runtime import open_store
    from store import backup

    settings = _settings(args)
    if settings is None:
        return 2
    if settings.store.engine != "duckdb":
        print(f"cityops {args.command}: the store is PostgreSQL's: back it up with its own tools (pg_basebackup and "
              "WAL archiving, or pg_dump; README: Deployment)", file=sys.stderr)  # fmt: skip
        return 1
    store_path, accounts_path = settings.store.path, settings.auth.path
    try:
        if args.command == "restore":
            if control.ask(control.socket_path(store_path), {"command": "ping"}, timeout=5) is not None:
                raise backup.BackupError("CityOps is running on this store: stop it before restoring")
            manifest = backup.restore(args.source, store_path, accounts_path, force=args.force)
            print(f"restored {args.source} (taken {manifest['created_at']}) into {store_path}: "
                  + ", ".join(f"{n:,} {t}" for t, n in manifest["counts"].items()))  # fmt: skip
            _audit_cli(accounts_path, "restore", f"{args.source} (taken {manifest['created_at']})")
            return 0
        destination = args.to.absolute()
        answer = control.ask(control.socket_path(store_path), {"command": "backup", "to": str(destination)})
        if answer is None:  # no server runs: copy it here
            store = open_store(settings)
            try:
                manifest = backup.make(store, accounts_path, destination)
            finally:
                store.close()
        elif "error" in answer:
            raise backup.BackupError(answer["error"])
        else:
            manifest = answer["manifest"]
    except backup.BackupError as exc:
        print(f"cityops {args.command}: {exc}", file=sys.stderr)
        return 1
    except duckdb.IOException as exc:  # the store is locked by a server whose control socket does not answer
        print(f"cityops {args.command}: cannot open {store_path}: {exc}", file=sys.stderr)
        return 1
    print(f"backup written to {destination}: " + ", ".join(f"{n:,} {t}" for t, n in manifest["counts"].items()))
    _audit_cli(accounts_path, "backup", str(destination))
    return 0


def _status(args) -> int:
    """The nodes and the leader: from the shared PostgreSQL database directly (any machine that may reach it), or
    for a DuckDB store from the running server (which holds the file)."""
    from cityops import control
    from cityops.runtime import open_store
    from store import nodes

    settings = _settings(args)
    if settings is None:
        return 2
    if settings.store.engine == "postgresql":
        from store.leadership import leader_now

        store = open_store(settings, tool="status")
        try:
            answer = nodes.status(store, leader_now(store.cursor()))
        finally:
            store.close()
    else:
        answer = control.ask(control.socket_path(settings.store.path), {"command": "status"})
        if answer is None:
            print(f"cityops status: CityOps is not running on {settings.store.path}", file=sys.stderr)
            return 1
    print(nodes.printed(answer))
    return 0


def _notifications(args) -> int:
    """List deliveries or replay dead ones: through the running server's control socket, else on the store."""
    from cityops import control
    from cityops.runtime import notifications_command

    settings = _settings(args)
    if settings is None:
        return 2
    request = {"command": "notifications", "action": args.action, "state": getattr(args, "state", None),
               "ids": getattr(args, "ids", [])}  # fmt: skip
    answer = control.ask(control.socket_path(settings.store.path), request)
    if answer is None:  # no server runs: the store is ours to open
        from cityops.runtime import open_store

        store = open_store(settings, tool="notifications")
        try:
            answer = notifications_command(store, request)
        finally:
            store.close()
    for row in answer.get("deliveries", []):
        print(f"{row['id']:>6} {row['state']:<8} {row['channel']:<16} {row['event']:<13} attempts {row['attempts']}"
              f"  {row['title']}  {row['last_error'] or ''}".rstrip())  # fmt: skip
    if "replayed" in answer:
        print(f"{answer['replayed']} deliveries will be sent again")
        _audit_cli(settings.auth.path, "notifications replay", ",".join(map(str, args.ids)) or "all dead")
    return 0


def _audit_cli(accounts_path: Path, action: str, target: str) -> None:
    """An entry in the audit log of the accounts at `accounts_path` (backup and restore: a DuckDB store's)."""
    import getpass

    from store import audit
    from store.accounts import Accounts

    accounts = Accounts(accounts_path)
    try:
        audit.record(accounts, f"cli:{getpass.getuser()}", action, target)
    finally:
        accounts.close()


def _config_path(args) -> Path:
    """The configuration file that --config or --demo names."""
    return DEMO_CONFIG if getattr(args, "demo", False) else args.config


def _settings(args):
    """The configuration named by --config or --demo; None (having said why) when it is not valid. The demo
    writes its files (var/demo/…) under the current folder."""
    path = _config_path(args)
    try:
        # The demo's configuration lives inside the package, whichever way it is named: never write there.
        return load(path, state_dir=Path.cwd() if Path(path).resolve() == DEMO_CONFIG else None)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return None


def _accounts(args) -> int:
    """`cityops users …` and `cityops displays …`: each change is audited as the command line's."""
    import getpass

    from cityops.runtime import open_accounts
    from store import audit
    from store.accounts import AccountError

    settings = _settings(args)
    if settings is None:
        return 2
    accounts = open_accounts(settings)
    actor = f"cli:{getpass.getuser()}"

    def district_ids(text: str) -> tuple[str, ...]:
        ids = tuple(d.strip() for d in text.split(",") if d.strip())
        known = {r.id for r in settings.city.regions().level("district")}
        unknown = [d for d in ids if d not in known]
        if unknown:
            raise AccountError(f"no district {', '.join(unknown)}; districts are {', '.join(sorted(known))}")
        return ids

    try:
        if args.command == "displays":
            return _displays(args, accounts, actor, settings)
        if args.action == "list":
            for u in accounts.users():
                state = "disabled" if u.disabled else ""
                print(f"{u.name:<20} {u.role:<16} {','.join(u.districts):<20} {state}".rstrip())
            return 0
        if args.action == "add":
            password = accounts.add(args.name, args.role, district_ids(args.districts))
            print(f"user {args.name} added ({args.role}); one-time password, to be changed at sign-in: {password}")
        elif args.action == "set-role":
            accounts.set_role(args.name, args.role)
        elif args.action == "set-districts":
            accounts.set_districts(args.name, district_ids(args.districts))
        elif args.action in ("disable", "enable"):
            accounts.set_disabled(args.name, args.action == "disable")
        elif args.action == "reset-password":
            password = accounts.reset_password(args.name)
            print(f"new one-time password for {args.name}, to be changed at sign-in: {password}")
    except AccountError as exc:
        target = str(getattr(args, "name", getattr(args, "id", "")))
        audit.record(accounts, actor, f"{args.command.rstrip('s')} {args.action}", target, "refused", str(exc))
        print(exc, file=sys.stderr)
        return 2
    detail = {"add": f"role {getattr(args, 'role', '')}", "set-role": f"role {getattr(args, 'role', '')}",
              "set-districts": f"districts {getattr(args, 'districts', '')}"}.get(args.action, "")  # fmt: skip
    audit.record(accounts, actor, f"user {args.action}", args.name, detail=detail)
    if args.action not in ("add", "reset-password"):
        print(f"user {args.name}: {args.action} done")
    return 0


def _displays(args, accounts, actor: str, settings) -> int:
    from datetime import UTC, datetime

    from store import audit

    if args.action == "list":
        for d in accounts.displays():
            when = lambda ts: f"{datetime.fromtimestamp(ts, UTC):%Y-%m-%d %H:%M} UTC"  # noqa: E731
            state = f"revoked {when(d.revoked_at)}" if d.revoked_at else "active"
            seen = f"last seen {when(d.seen_at)}" if d.seen_at else "never seen"
            print(f"{d.id:>4}  {d.name:<24} {state:<28} {seen}")
        return 0
    if args.action == "add":
        token = accounts.add_display(args.name, actor)
        audit.record(accounts, actor, "display add", args.name)
        base = f"http://{settings.web.host}:{settings.web.port}"
        print(f"display {args.name!r} added. Its link (shown once; keep it like a key):\n  {base}/wall?token={token}")
        return 0
    display = accounts.revoke_display(args.id)
    audit.record(accounts, actor, "display revoke", f"{display.id} {display.name}")
    print(f"display {display.id} ({display.name}) revoked: its wall stops at its next refresh")
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
    from alerts.replay import ReplayError, event_kind, replay
    from alerts.rules import RuleError, load_rule_file, parse_duration

    def counted(n: int, word: str) -> str:
        return f"{n} {word}{'s' if n != 1 else ''}"

    settings = _settings(args)
    if settings is None:
        return 2
    if settings.store.engine != "duckdb":
        print("cityops rules test replays the history of a DuckDB store; it cannot read a PostgreSQL store yet",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        path = args.rules or settings.alerts.rules
        if path is None:
            print("no rule file: give --rules FILE or set [alerts] rules in the configuration", file=sys.stderr)
            return 2
        book = load_rule_file(path)
        since = parse_duration(args.since)
        regions = settings.city.regions()
        result = replay(settings.store.path, book, since, regions=regions, reference=settings.reference_layers())
    except (ConfigError, RuleError, ReplayError, ValueError) as exc:  # GeoFileError is a ValueError
        print(exc, file=sys.stderr)
        return 2
    print(f"Replaying {args.since} of {settings.store.path} through {len(book.rules)} rules of {path} "
          "(readings and events; nothing is written):")  # fmt: skip
    if result.start is None:
        print("  the store holds no readings and no events")
    elif not result.fired:
        print("  no rule would have fired")
    for f in result.fired:
        print(f"  {f.rule_id}: {counted(f.count, 'alert')}")
        for when, subject, title in f.first:
            print(f"      {when:%Y-%m-%d %H:%M:%S %Z}  {subject}  {title}")
    if result.incidents:
        held = {i.group_id: f", {i.inhibited} inhibited" if i.inhibited else "" for i in result.incidents}
        groups = ", ".join(
            f"{i.group_id} {i.count} ({counted(i.members, 'alert')}{held[i.group_id]})" for i in result.incidents
        )
        opened = counted(sum(i.count for i in result.incidents), "incident")
        print(f"  these alerts would have opened {opened}: {groups}")
        for i in result.incidents:
            for when, members, title in i.first:
                print(f"      {when:%Y-%m-%d %H:%M:%S %Z}  {i.group_id}  {title}  ({counted(members, 'alert')})")
    if result.without_events:
        rules = ", ".join(f"{rule.id} ({event_kind(rule)})" for rule in result.without_events)
        print(f"  no events of their kind in these {args.since}, so these count rules could not fire: {rules}")
    return 0


def _org_check(args) -> int:
    from collections import Counter
    from datetime import datetime, timedelta

    from alerts.org import Organisation

    settings = _settings(args)
    if settings is None:
        return 2
    path = args.file or settings.alerts.org
    if path is None:
        print("no organisation file: give one, or set [alerts] org in the configuration", file=sys.stderr)
        return 2
    try:
        org = Organisation.load(path, settings.city.regions())
    except (OrgError, GeoFileError) as exc:
        print(exc, file=sys.stderr)
        return 2
    regions = org.regions

    def counted(values) -> str:
        return ", ".join(f"{n} {what}" for what, n in Counter(values).most_common()) or "none"

    print(f"{path}: OK")
    print(f"  centres: {counted(regions.get(c.region).level for c in org.file.centres)}")
    print(f"  departments: {counted(d.kind for d in org.file.departments)}")
    print(f"  people: {counted(p.role for p in org.file.people)}")
    # A week of half hours: the units whose roster leaves some of them with no one on duty.
    monday = datetime(2026, 3, 2)
    week = [monday + timedelta(minutes=30 * n) for n in range(7 * 48)]
    rostered = sorted({s.unit for s in org.file.roster})
    gaps = {u: sum(1 for t in week if not org.on_duty(u, t)) for u in rostered}
    open_hours = [f"{u} ({n / 2:g} h)" for u, n in gaps.items() if n]
    line = f"  roster: {len(org.file.roster)} shifts at {len(rostered)} units; on duty around the clock: "
    line += f"{len(rostered) - len(open_hours)}"
    if open_hours:
        line += f"; hours a week with no one on duty: {', '.join(open_hours[:6])}" + (" …" * (len(open_hours) > 6))
    print(line)
    print(f"  routing: {len(org.file.routing)} rows")
    return 0


def _regions_check(args) -> int:
    from layers.region_check import check, preview
    from layers.region_files import crs_of

    settings = _settings(args)
    if settings is None:
        return 2
    try:
        regions = settings.city.regions()
    except GeoFileError as exc:
        print(exc, file=sys.stderr)
        return 2
    city = regions.level("city")[0]
    print(f"regions of {_config_path(args)}: {city.name_zh} ({city.id})")
    files = {level.level: level for level in settings.city.levels}
    reports = check(regions)
    above = None
    for report in reports:
        spec = files.get(report.level)
        source = f"{spec.file.name}, CRS {crs_of(spec)}" if spec else "the union of the districts"
        line = f"  {report.level:<10}{report.count:>6}  ({source})"
        if above is not None:
            line += f"; in {report.parents_with_children} of {above.count} {above.level} regions"
            if report.parents_without:
                line += f" ({len(report.parents_without)} without any)"
        print(line)
        for parent, km2, share in report.gaps:
            print(f"    gap: {km2:.2f} km² ({share:.1%}) of {above.level} {parent} is in none of its {report.level}s")
        for a, b, km2 in report.overlaps:
            print(f"    overlap: {report.level} {a} and {b} share {km2:.2f} km²")
        for child, parent, share in report.outside:
            if parent is None:
                print(f"    outside: {report.level} {child} lies in no {above.level}")
            else:
                print(f"    outside: {share:.1%} of {report.level} {child} lies outside its {above.level} {parent}")
        above = report
    problems = sum(r.problems for r in reports)
    print(f"  {problems} finding{'s' if problems != 1 else ''}" if problems else "  no gaps, overlaps or strays")
    if args.png is not None:
        preview(regions, reports, args.png)
        print(f"preview: {args.png}")
    return 1 if problems else 0


def _feeds_check(args) -> int:
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    from feeds.decoding import FeedDecoding

    settings = _settings(args)
    if settings is None:
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
    regions = settings.city.regions()
    decoding = FeedDecoding.from_settings(feed, settings.limits)
    envelope = decoding.envelope(str(args.file), payload, datetime.now(UTC), regions)
    if envelope.dead_letter is not None:
        print(f"{args.file}: would be a dead letter of feed {feed.id}: {envelope.dead_letter.reason}")
        return 1
    records = envelope.records
    zone = ZoneInfo(settings.city.timezone)

    def when(ts: datetime) -> str:
        return f"{ts.astimezone(zone):%Y-%m-%d %H:%M:%S %Z} ({ts.astimezone(UTC):%H:%M:%S} UTC)"

    def where(record) -> str:
        """The record's place at every level the city has, by name and id."""
        if record.lon is None:
            suspect = getattr(record, "attributes", None) or getattr(record, "details", {})
            return f"place suspect: {suspect['suspect_position']['reason']}" if "suspect_position" in suspect else ""
        smallest = record.grid_id or record.town_id or record.district_id
        crumbs = regions.ancestors(smallest) if smallest else []
        place = f"at {record.lon:.6f}, {record.lat:.6f}"
        return (
            f"{place} in {' › '.join(f'{r.name_zh} {r.id}' for r in crumbs)}"
            if crumbs
            else f"{place}, outside the city"
        )

    print(f"{args.file}: decoded by {feed.decoder} (CRS {feed.crs}); nothing is written")
    print(f"  {len(records.entities)} entities, {len(records.observations)} observations, {len(records.events)} events")
    for e in records.entities[:5]:
        print(f"  entity  {e.id}  {e.domain}/{e.kind}  {e.name}  {where(e)}")
    for o in records.observations[:5]:
        quality = f"{o.quality} ({o.quality_reason})" if o.quality_reason else o.quality
        print(f"  observation  {o.entity_id}  {o.metric} = {o.value} {o.unit}  {quality}  at {when(o.ts)}")
    for e in records.events[:5]:
        print(f"  event  {e.id}  {e.domain}/{e.type}  {e.severity or '-'}  {e.title[:60]}  at {when(e.ts)}  {where(e)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
