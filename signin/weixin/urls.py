from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from signin.weixin.provider import WeixinProvider

urlpatterns = default_urlpatterns(WeixinProvider)  # /accounts/weixin/login/(callback/)
