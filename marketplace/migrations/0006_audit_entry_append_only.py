# The audit trail is append-only in the database too, not only through the ORM.
#
# PostgreSQL: a row trigger refuses UPDATE and DELETE. TRUNCATE fires no row
# trigger, so the test runner's flush between transactional tests still works.
#
# SQLite (development and tests only): a trigger refuses UPDATE. No DELETE
# trigger: Django's flush on SQLite is a DELETE of every row, which it would
# refuse, breaking every transactional test that leaves an entry behind.
# Deletes stay refused by the model and its QuerySet there.

from django.db import migrations

TABLE = "marketplace_auditentry"

POSTGRESQL_FORWARD = [
    f"""
    CREATE FUNCTION {TABLE}_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit entries are append-only: % refused', TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
    END;
    $$
    """,
    f"""
    CREATE TRIGGER {TABLE}_append_only
    BEFORE UPDATE OR DELETE ON {TABLE}
    FOR EACH ROW EXECUTE FUNCTION {TABLE}_refuse_change()
    """,
]
POSTGRESQL_BACKWARD = [
    f"DROP TRIGGER IF EXISTS {TABLE}_append_only ON {TABLE}",
    f"DROP FUNCTION IF EXISTS {TABLE}_refuse_change()",
]

SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER {TABLE}_no_update
    BEFORE UPDATE ON {TABLE}
    BEGIN
        SELECT RAISE(ABORT, 'audit entries are append-only: UPDATE refused');
    END
    """,
]
SQLITE_BACKWARD = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update"]

STATEMENTS = {
    "postgresql": (POSTGRESQL_FORWARD, POSTGRESQL_BACKWARD),
    "sqlite": (SQLITE_FORWARD, SQLITE_BACKWARD),
}


def _run(schema_editor, which: int) -> None:
    statements = STATEMENTS.get(schema_editor.connection.vendor)
    if statements is None:
        return  # another database: the model and its QuerySet still refuse
    for sql in statements[which]:
        schema_editor.execute(sql, params=None)  # no placeholders: `%` is plpgsql's


def forward(apps, schema_editor) -> None:
    _run(schema_editor, 0)


def backward(apps, schema_editor) -> None:
    _run(schema_editor, 1)


class Migration(migrations.Migration):
    dependencies = [
        ("marketplace", "0005_audit_entry"),
    ]

    operations = [
        migrations.RunPython(forward, backward, elidable=False),
    ]
