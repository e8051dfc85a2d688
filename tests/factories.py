from __future__ import annotations

import factory

from mappings.models import SkuMapping
from orders.models import SellerAccount, SellerMarketplace

UK = "A1F83G8C2ARO7P"
DE = "A1PA6795UKMFR9"
US = "ATVPDKIKX0DER"


class SellerAccountFactory(factory.django.DjangoModelFactory[SellerAccount]):
    class Meta:
        model = SellerAccount
        django_get_or_create = ("selling_partner_id",)
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"Seller {n}")
    selling_partner_id = factory.Sequence(lambda n: f"A{n:013d}")
    region = SellerAccount.Region.EU
    lwa_client_id = "amzn1.application-oa2-client.test"
    lwa_client_secret = "test-client-secret"
    refresh_token = factory.Sequence(lambda n: f"Atzr|test-refresh-token-{n}")

    @factory.post_generation
    def marketplaces(obj: SellerAccount, create: bool, extracted: list[str] | None, **kwargs: object) -> None:
        if create:
            for marketplace_id in extracted if extracted is not None else [UK]:
                SellerMarketplace.objects.get_or_create(account=obj, marketplace_id=marketplace_id)


class SkuMappingFactory(factory.django.DjangoModelFactory[SkuMapping]):
    class Meta:
        model = SkuMapping

    seller_sku = factory.Sequence(lambda n: f"SKU-{n:04d}")
    erp_item_id = factory.LazyAttribute(lambda o: f"ITEM-{o.seller_sku}")
