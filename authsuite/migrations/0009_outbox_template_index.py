"""The outbox admin's filter and search by template, newest first, on an index.

Built with CREATE INDEX CONCURRENTLY on PostgreSQL, so that mail goes on being queued and
delivered during the build (authsuite.migration_operations)."""

from django.db import migrations, models

from authsuite.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('authsuite', '0008_added_columns_database_defaults'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='outboxmessage',
            index=models.Index(fields=['template', 'created_at'], name='authsuite_outbox_template'),
        ),
    ]
