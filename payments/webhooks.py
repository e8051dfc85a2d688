from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from config.common.middleware import client_address
from payments.services import opayo_notification_receive


@method_decorator(transaction.non_atomic_requests, name="dispatch")  # the raw row must survive a failure
@method_decorator(csrf_exempt, name="dispatch")
class OpayoServerNotificationView(View):
    """Opayo Server-protocol notification POST. Always answers 200 in Opayo's `Status=…` text format."""

    def post(self, request: HttpRequest) -> HttpResponse:
        note = opayo_notification_receive(body=request.body, remote_addr=client_address(request))
        return HttpResponse(note.reply, content_type="text/plain; charset=utf-8")
