# Anomaly flags and reconciliation hints (operator assistance).

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0005_alter_order_hold_code'),
        ('payments', '0003_opayo_batches'),
        ('reconciliation', '0001_initial'),
    ]

    operations = [
        migrations.CreateModel(
            name='AnomalyFlag',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('created_at', models.DateTimeField(auto_now_add=True, db_index=True)),
                ('updated_at', models.DateTimeField(auto_now=True)),
                ('kind', models.CharField(choices=[('order_amount', 'Order amount (unit price)'), ('fee_rate', 'Fee rate (fees / what the buyer paid)'), ('refund_rate', 'Refund rate (items refunded / sold in a week)')], db_index=True, max_length=20)),
                ('sku', models.CharField(max_length=200, verbose_name='SKU')),
                ('subject', models.CharField(help_text='What is unusual: the order id (amounts, fee rates) or the week (refund rates).', max_length=100)),
                ('observed_at', models.DateTimeField(help_text='Purchase time, posting time, or the start of the week.')),
                ('currency', models.CharField(blank=True, help_text='For amounts; rates have none.', max_length=3)),
                ('value', models.DecimalField(decimal_places=6, max_digits=18)),
                ('median', models.DecimalField(decimal_places=6, max_digits=18)),
                ('mad', models.DecimalField(decimal_places=6, help_text='Median absolute deviation.', max_digits=18, verbose_name='MAD')),
                ('spread', models.DecimalField(decimal_places=6, help_text='The usual spread the robust z is measured in (see basis).', max_digits=18)),
                ('spread_basis', models.CharField(help_text='mad, mean_abs_dev, tolerance or binomial.', max_length=20)),
                ('robust_z', models.DecimalField(decimal_places=2, max_digits=12, verbose_name='robust z')),
                ('history', models.PositiveIntegerField(help_text='Data points (orders, order items, weeks) compared with.')),
                ('explanation', models.TextField()),
                ('status', models.CharField(choices=[('open', 'Open'), ('dismissed', 'Dismissed (normal after all)'), ('confirmed', 'Confirmed (a real problem)')], db_index=True, default='open', max_length=20)),
                ('reviewed_by', models.CharField(blank=True, max_length=150)),
                ('reviewed_at', models.DateTimeField(blank=True, null=True)),
                ('review_note', models.TextField(blank=True)),
                ('order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='anomaly_flags', to='orders.order')),
                ('seller_account', models.ForeignKey(blank=True, help_text="Empty when the settlement's account is not known (uploaded file, no matched order).", null=True, on_delete=django.db.models.deletion.PROTECT, related_name='anomaly_flags', to='orders.selleraccount')),
                ('settlement', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.SET_NULL, related_name='anomaly_flags', to='reconciliation.settlement')),
            ],
            options={
                'ordering': ['-created_at', '-pk'],
                'indexes': [models.Index(fields=['seller_account', 'sku'], name='anomaly_flag_account_sku')],
                'constraints': [models.UniqueConstraint(condition=models.Q(('seller_account__isnull', False)), fields=('kind', 'seller_account', 'subject', 'sku'), name='anomaly_flag_unique'), models.UniqueConstraint(condition=models.Q(('seller_account__isnull', True)), fields=('kind', 'subject', 'sku'), name='anomaly_flag_unique_no_account'), models.CheckConstraint(condition=models.Q(('kind__in', ['order_amount', 'fee_rate', 'refund_rate'])), name='anomaly_flag_kind'), models.CheckConstraint(condition=models.Q(models.Q(('reviewed_at__isnull', True), ('status', 'open')), models.Q(('status__in', ['dismissed', 'confirmed']), ('reviewed_at__isnull', False)), _connector='OR'), name='anomaly_flag_reviewed_iff_closed'), models.CheckConstraint(condition=models.Q(('spread__gt', 0)), name='anomaly_flag_spread_positive')],
            },
        ),
        migrations.CreateModel(
            name='ReconciliationHint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('order_reference', models.CharField(help_text='The unmatched order-id or merchant-order-id.', max_length=64)),
                ('reference_amount', models.DecimalField(decimal_places=2, help_text="What the settlement's lines say the order was (items, tax, shipping).", max_digits=18)),
                ('posted_at', models.DateTimeField(blank=True, null=True)),
                ('rank', models.PositiveSmallIntegerField()),
                ('score', models.DecimalField(decimal_places=3, help_text='0 (unlikely) to 1 (certainly this one).', max_digits=4)),
                ('reasons', models.JSONField(default=list, help_text='Why, in words: amount, date, reference, SKUs.')),
                ('created_at', models.DateTimeField(auto_now_add=True)),
                ('candidate_order', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='reconciliation_hints', to='orders.order')),
                ('candidate_payment', models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.CASCADE, related_name='reconciliation_hints', to='payments.paymenttransaction')),
                ('settlement', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='hints', to='reconciliation.settlement')),
            ],
            options={
                'ordering': ['settlement', 'order_reference', 'rank'],
                'constraints': [models.UniqueConstraint(fields=('settlement', 'order_reference', 'rank'), name='hint_rank_unique'), models.CheckConstraint(condition=models.Q(('score__gte', 0), ('score__lte', 1)), name='hint_score_0_1'), models.CheckConstraint(condition=models.Q(('rank__gte', 1)), name='hint_rank_from_1'), models.CheckConstraint(condition=models.Q(('candidate_order__isnull', False), ('candidate_payment__isnull', False), _connector='OR'), name='hint_has_candidate')],
            },
        ),
    ]
