from django.contrib import admin
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from .api_router import router
from .health import healthz, readyz
from .links import wire_public_links
from .views import favicon

handler500 = "crm_project.api_errors.server_error"
wire_public_links()

admin.site.site_header = _("XiaoWei CRM")
admin.site.site_title = _("XiaoWei CRM")
admin.site.index_title = _("Back office")

urlpatterns = [
    path("", RedirectView.as_view(pattern_name="admin:index", permanent=False)),
    path("healthz", healthz, name="healthz"),
    path("readyz", readyz, name="readyz"),
    path("favicon.ico", favicon, name="favicon"),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("f/", include("feedback.urls")),
    path("app/", include("shop.urls")),
    path("m/", include("membership.urls")),
    path("api/v1/", include(router.urls)),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
]

handler404 = "crm_project.api_errors.not_found"
