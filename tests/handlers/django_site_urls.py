"""URLs and views of the test Django project."""
from django.http import HttpResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.urls import path


def index(request):
    return HttpResponse("django index " + request.path)


def form(request):
    if request.method == "POST":
        return HttpResponse("posted %s" % request.POST.get("name", ""))
    return HttpResponse(get_token(request))


def stream(request):
    return StreamingHttpResponse(("part%d;" % i for i in range(4)), content_type="text/plain")


urlpatterns = [
    path("", index),
    path("form/", form),
    path("stream/", stream),
]
