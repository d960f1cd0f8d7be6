"""${message}"""

import sqlalchemy as sa
from alembic import op

revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}


def upgrade():
    """Apply this change."""
    ${upgrades if upgrades else "pass"}


def downgrade():
    """Undo this change."""
    ${downgrades if downgrades else "pass"}
