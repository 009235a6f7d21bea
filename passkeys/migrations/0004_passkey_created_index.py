"""The passkey admin's list, newest first, read in index order instead of sorting every
passkey on each page. Built with CREATE INDEX CONCURRENTLY on PostgreSQL
(authsuite.migration_operations)."""

from django.db import migrations, models

from authsuite.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('passkeys', '0003_one_live_signup_per_address'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='passkey',
            index=models.Index(fields=['created_at', 'id'], name='passkeys_passkey_created'),
        ),
    ]
