from django.urls import path

from payments.apis import PaymentCaptureApi, PaymentDetailApi, PaymentRefundApi, PaymentRegisterApi, PaymentVoidApi

urlpatterns = [
    path("", PaymentRegisterApi.as_view(), name="payment-register"),
    path("<int:payment_id>/", PaymentDetailApi.as_view(), name="payment-detail"),
    path("<int:payment_id>/capture/", PaymentCaptureApi.as_view(), name="payment-capture"),
    path("<int:payment_id>/void/", PaymentVoidApi.as_view(), name="payment-void"),
    path("<int:payment_id>/refunds/", PaymentRefundApi.as_view(), name="payment-refund"),
]
