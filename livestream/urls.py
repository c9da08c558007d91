from django.urls import URLPattern, URLResolver

app_name = "livestream"

urlpatterns: list[URLPattern | URLResolver] = []
