from allauth.socialaccount.providers.oauth2.urls import default_urlpatterns

from signin.dingtalk.provider import DingTalkProvider

urlpatterns = default_urlpatterns(DingTalkProvider)  # /accounts/dingtalk/login/(callback/)
