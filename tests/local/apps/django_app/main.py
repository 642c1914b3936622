"""A one-file Django project behind the local App Engine front end: reports what it was sent."""

import logging

from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="test-only",
    ROOT_URLCONF=__name__,
    ALLOWED_HOSTS=[".localhost", "127.0.0.1"],
    MIDDLEWARE=[],
    LOGGING={
        "version": 1,
        "disable_existing_loggers": False,
        "handlers": {"console": {"class": "logging.StreamHandler"}},
        "loggers": {"shop": {"handlers": ["console"], "level": "INFO"}},
    },
)

from django.core.wsgi import get_wsgi_application  # noqa: E402  (after settings, as Django requires)
from django.http import HttpResponse, JsonResponse  # noqa: E402
from django.urls import path, re_path  # noqa: E402

log = logging.getLogger("shop")
SEEN = []


def report(request, rest=""):
    SEEN.append(request.path)
    log.info("django view saw %s", request.path)
    headers = {k.lower(): v for k, v in request.headers.items()}
    return JsonResponse({"django": True, "seen": SEEN[:-1], "headers": headers, "remote_addr": request.META["REMOTE_ADDR"]})


def warmup(request):
    SEEN.append(request.path)
    return HttpResponse("")


def never(request, name):  # the front end serves /assets itself: this view must never run
    return HttpResponse("reached django", status=500)


urlpatterns = [path("_ah/warmup", warmup), path("assets/<path:name>", never), re_path(r"^(?P<rest>.*)$", report)]
app = get_wsgi_application()
