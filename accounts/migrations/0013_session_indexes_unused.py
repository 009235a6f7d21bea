"""Tracked sessions: no index on the session key's digest (never looked up) nor on the user
alone (``accounts_session_user_active``, on user and ended_at, serves every lookup by user and
an account's delete). Each sign-in inserts a row; each index is one more write."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('accounts', '0012_added_columns_database_defaults'),
    ]

    operations = [
        migrations.AlterField(
            model_name='usersession',
            name='key_digest',
            field=models.CharField(max_length=64),
        ),
        migrations.AlterField(
            model_name='usersession',
            name='user',
            field=models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='auth_sessions', to=settings.AUTH_USER_MODEL),
        ),
    ]
