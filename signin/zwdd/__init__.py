"""浙政钉 as a django-allauth provider (id ``zwdd``): allauth's login and callback URLs,
its state handling; the platform calls through the one gateway signer (portal.zwdd)."""
