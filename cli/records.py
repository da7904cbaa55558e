"""The bot's records: `maskbot stats`, `summarise`, `forget`, `purge` and `db upgrade`."""

from __future__ import annotations

import argparse
import json
from datetime import date, timedelta

from cli.common import open_storage, settings_without_token
from model.predictor import read_metadata
from model.registry import active_model_dir
from storage import summaries
from storage.database import current_revision
from storage.pseudonyms import Pseudonymizer, load_secret
from storage.repository import utc_now
from storage.stats import MAX_DAYS, recent_stats


def days_back(text: str) -> int:
    """A number of recent days, 1 to MAX_DAYS, as the admins' /stats takes it."""
    try:
        days = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of days: {text!r}") from None
    if not 1 <= days <= MAX_DAYS:
        raise argparse.ArgumentTypeError(f"days must be 1 to {MAX_DAYS}, not {days}")
    return days


def cmd_stats(args: argparse.Namespace) -> int:
    with open_storage(settings_without_token()) as (database, _):
        stats = recent_stats(database, args.days)
    if args.json:
        print(json.dumps(stats.as_dict(), indent=2))
        return 0
    print(f"{stats.start} to {stats.end}: photos {stats.photos}, faces judged {stats.count}")
    for name, value in stats.per_class.items():
        share = f"{value / stats.count:.1%}" if stats.count else "-"
        print(f"  {name:<24}{value:>8}  {share:>7}")
    unsure = f"{stats.unsure_share:.1%}" if stats.unsure_share is not None else "-"
    disagreement = f"{stats.disagreement_rate:.1%}" if stats.disagreement_rate is not None else "-"
    print(f"  unsure {unsure}, feedback {stats.feedback} (marked wrong {disagreement})")
    for row in stats.per_day:
        print(f"  {row.day} model {row.model_version}: {row.count} faces, drift {row.drift_level}")
    for camera in stats.cameras:
        by_label = ", ".join(f"{name} {count / camera.people:.1%}" for name, count in sorted(camera.per_label.items()))
        print(f"  camera {camera.camera}: {camera.people} people ({by_label})")
    return 0


def cmd_summarise(args: argparse.Namespace) -> int:
    settings = settings_without_token()
    with open_storage(settings) as (database, _):
        # The class mix the model was trained on: what daily summaries compare against.
        reference = read_metadata(active_model_dir(settings.model_dir)).get("class_mix")
        if args.catch_up:
            days = summaries.catch_up(database, reference=reference)
            print(f"summarised {len(days)} day(s): {', '.join(d.isoformat() for d in days) or 'none missing'}")
            return 0
        day = date.fromisoformat(args.day) if args.day else utc_now().date() - timedelta(days=1)
        rows = summaries.summarise(database, day, reference)
    for row in rows:
        print(
            f"{row.day} model {row.model_version}: {row.count} photos, drift {row.drift_level}"
            + (f" (PSI {row.psi:.3f}, p {row.chi2_p_value:.3g})" if row.psi is not None else "")
        )
    if not rows:
        print(f"{day}: no predictions")
    return 0


def cmd_forget(args: argparse.Namespace) -> int:
    settings = settings_without_token()
    with open_storage(settings) as (_, repository):
        forgotten = repository.forget_user(Pseudonymizer(load_secret(settings.data_dir, settings.secret))(args.user_id))
    print(f"deleted {forgotten.predictions} predictions, {forgotten.feedback} feedback rows, {forgotten.crops} crops")
    return 0


def cmd_purge(args: argparse.Namespace) -> int:
    settings = settings_without_token()
    days = args.days if args.days is not None else settings.retention_days
    with open_storage(settings) as (_, repository):
        purged = repository.purge_older_than(days)
    print(
        f"older than {days} days: deleted {purged.predictions} predictions, {purged.feedback} feedback rows, "
        f"{purged.crops} crops"
    )
    return 0


def cmd_db_upgrade(args: argparse.Namespace) -> int:
    # Opening the database applies the pending migrations.
    with open_storage(settings_without_token()) as (database, _):
        print(f"database at revision {current_revision(database.engine)}")
    return 0


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    stats = commands.add_parser("stats", help="prediction counts, feedback and drift for recent days")
    stats.add_argument("--days", type=days_back, default=7, help=f"1 to {MAX_DAYS} (default: %(default)s)")
    stats.add_argument("--json", action="store_true")
    stats.set_defaults(handler=cmd_stats)

    summarise = commands.add_parser("summarise", help="compute daily summaries (default: yesterday, UTC)")
    when = summarise.add_mutually_exclusive_group()
    when.add_argument("--day", help="YYYY-MM-DD")
    when.add_argument("--catch-up", action="store_true", help="every day missing since the last summary")
    summarise.set_defaults(handler=cmd_summarise)

    forget = commands.add_parser("forget", help="delete everything stored about one Telegram user")
    forget.add_argument("user_id", type=int)
    forget.set_defaults(handler=cmd_forget)

    purge = commands.add_parser("purge", help="delete predictions older than the retention period")
    purge.add_argument("--days", type=int, help="default: $RETENTION_DAYS or 90")
    purge.set_defaults(handler=cmd_purge)

    database = commands.add_parser("db", help="database maintenance")
    database_commands = database.add_subparsers(dest="db_command", required=True)
    database_commands.add_parser("upgrade", help="apply pending migrations").set_defaults(handler=cmd_db_upgrade)
