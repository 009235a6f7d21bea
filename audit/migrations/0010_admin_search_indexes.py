"""The audit admin's search and outcome filter, each on an index: the list reads events
newest first, and a search or filter no index served walked the whole trail backwards
looking for the hundred rows it shows.

An actor's address and a request id are searched as typed, whole; failures and denials
(the outcomes looked for, and few) have a partial index, which successes do not pay for.
Built with CREATE INDEX CONCURRENTLY on PostgreSQL, so that events go on being written
during the build (authsuite.migration_operations)."""

from django.db import migrations, models

from authsuite.migration_operations import AddIndexConcurrently


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('audit', '0009_added_columns_database_defaults'),
    ]

    operations = [
        AddIndexConcurrently(
            model_name='event',
            index=models.Index(fields=['actor_repr'], name='audit_event_actor_repr'),
        ),
        AddIndexConcurrently(
            model_name='event',
            index=models.Index(fields=['request_id'], name='audit_event_request'),
        ),
        AddIndexConcurrently(
            model_name='event',
            index=models.Index(condition=models.Q(('outcome', 'success'), _negated=True),
                               fields=['outcome', '-id'], name='audit_event_unsuccessful'),
        ),
    ]
