"""Face crops shared before 0004 move from files into the `crops` table; `feedback.crop_path` goes.

Until now the repository read and deleted those files beside the database rows, for ever. After
this revision every shared crop lives in one place, which /forget, retention and replicas share.
The files themselves are deleted by `storage.database.upgrade` once this transaction commits,
and any left by a crash in between at the next start.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
"""

import logging
import re
from pathlib import Path

import sqlalchemy as sa
from alembic import context, op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

log = logging.getLogger("storage.migrations")
CROP_NAME = re.compile(r"[0-9]{1,18}\.png")
"""The only names the repository ever wrote: a tampered row cannot point outside the folder."""


def upgrade() -> None:
    connection = op.get_bind()
    legacy = connection.execute(
        sa.text("SELECT prediction_id, crop_path, created_at FROM feedback WHERE crop_path IS NOT NULL")
    ).all()
    if legacy:
        crops_dir = context.config.attributes.get("legacy_crops_dir")
        if crops_dir is None or not Path(crops_dir).is_dir():
            # Run without the bot's data folder (another machine, another working directory), the
            # files would all look missing and their rows would lose them for good.
            raise RuntimeError(
                f"{len(legacy)} feedback row(s) point at crop files in {crops_dir or 'the crops folder'}, "
                "which is not here: upgrade where the bot's DATA_DIR is, so that the crops move into the database"
            )
        moved = _into_the_crops_table(connection, legacy, Path(crops_dir))
        log.info("event=legacy_crops_moved moved=%d missing=%d", moved, len(legacy) - moved)
    with op.batch_alter_table("feedback") as batch:
        batch.drop_column("crop_path")


def _into_the_crops_table(connection, legacy, crops_dir: Path) -> int:
    """Each legacy row's file, read and inserted as a shared crop; returns how many. A row whose
    file is gone, or whose name the repository never wrote, had no crop to show."""
    moved = 0
    insert = sa.text(
        "INSERT INTO crops (prediction_id, png, shared, created_at) VALUES (:id, :png, :shared, :at)"
    ).bindparams(sa.bindparam("png", type_=sa.LargeBinary))
    for prediction_id, name, created_at in legacy:
        if not CROP_NAME.fullmatch(name):
            continue
        path = crops_dir / name
        try:
            png = path.read_bytes()
        except FileNotFoundError:
            continue
        connection.execute(insert, {"id": prediction_id, "png": png, "shared": True, "at": created_at})
        moved += 1
    return moved


def downgrade() -> None:
    # The crops stay in the table, where the repository of every later revision reads them.
    with op.batch_alter_table("feedback") as batch:
        batch.add_column(sa.Column("crop_path", sa.String(255), nullable=True))
