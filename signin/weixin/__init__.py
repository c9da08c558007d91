"""WeChat binding: allauth's built-in ``weixin`` provider pointed at the official account's
web authorisation (``/connect/oauth2/authorize``, ``snsapi_base``, inside WeChat), so the
openid is the one template messages are sent to (NOTIFY_WECHAT_APPID)."""
