"""Snapshots say which Orders API version they were read with: every stored one so far is v0; new ones 2026-01-01."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("orders", "0006_orderhold_channel_lag")]

    operations = [
        migrations.AddField(
            model_name="amazonordersnapshot",
            name="api_version",
            field=models.CharField(
                choices=[("v0", "Orders v0"), ("2026-01-01", "Orders 2026-01-01")],
                default="v0",
                help_text="The Orders API version the payload was read with; it decides how it is parsed.",
                max_length=12,
                verbose_name="API version",
            ),
        ),
        migrations.AlterField(
            model_name="amazonordersnapshot",
            name="api_version",
            field=models.CharField(
                choices=[("v0", "Orders v0"), ("2026-01-01", "Orders 2026-01-01")],
                default="2026-01-01",
                help_text="The Orders API version the payload was read with; it decides how it is parsed.",
                max_length=12,
                verbose_name="API version",
            ),
        ),
        migrations.AlterField(
            model_name="amazonordersnapshot",
            name="last_update_date",
            field=models.DateTimeField(
                blank=True, help_text="lastUpdatedTime (v0: LastUpdateDate) of the payload.", null=True
            ),
        ),
        migrations.AlterField(
            model_name="amazonordersnapshot",
            name="state",
            field=models.CharField(
                choices=[
                    ("received", "Received (waiting to be processed, or for a re-read)"),
                    ("fetched", "Fetched (waiting to be processed)"),
                    ("processed", "Processed"),
                    ("failed", "Failed"),
                ],
                db_index=True,
                default="received",
                max_length=20,
            ),
        ),
    ]
