"""The user admin's list, newest first, its filters of the few (disabled accounts, staff)
and its search by name, each on an index: without them every page of the list sorted the
whole user table, and every such filter or search read it. Only on the suite's own User (a
project on another user model has no accounts_user table).

Built with CREATE INDEX CONCURRENTLY on PostgreSQL, so that sign-ins, which write the table
(``last_login``), go on during the build (authsuite.migration_operations)."""

import django.db.models.functions.text
from django.db import migrations, models

from authsuite.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('accounts', '0013_session_indexes_unused'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(fields=['date_joined', 'id'], name='accounts_user_joined'),
        ),
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(condition=models.Q(('is_active', False)),
                               fields=['date_joined', 'id'], name='accounts_user_inactive'),
        ),
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(condition=models.Q(('is_staff', True)),
                               fields=['date_joined', 'id'], name='accounts_user_staff'),
        ),
        AddIndexConcurrently(
            model_name='user',
            index=models.Index(django.db.models.functions.text.Upper('name'),
                               name='accounts_user_name_upper'),
        ),
    ]
