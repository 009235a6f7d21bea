"""The links' expiry, on an index: the periodic task voids the live links of disabled
accounts, and found them by joining every link ever mailed to every disabled account on each
run. Built with CREATE INDEX CONCURRENTLY on PostgreSQL (authsuite.migration_operations)."""

from django.db import migrations, models

from authsuite.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('accounts', '0014_user_admin_indexes'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='onetimetoken',
            index=models.Index(fields=['expires_at'], name='accounts_token_expiry'),
        ),
    ]
