from __future__ import annotations

from typing import Any

from allauth.socialaccount.providers.base import ProviderAccount
from allauth.socialaccount.providers.oauth2.provider import OAuth2Provider

from signin.zwdd.views import ZwddOAuth2Adapter


class ZwddAccount(ProviderAccount):
    def to_str(self) -> str:
        data = self.account.extra_data
        return str(data.get("lastName") or data.get("nickNameCn") or super().to_str())


class ZwddProvider(OAuth2Provider):
    id = "zwdd"
    name = "浙政钉"
    account_class = ZwddAccount
    oauth2_adapter_class = ZwddOAuth2Adapter

    def extract_uid(self, data: dict[str, Any]) -> str:
        return str(data["accountId"])

    def get_default_scope(self) -> list[str]:
        return ["get_user_info"]

    def get_auth_params(self) -> dict[str, str]:
        return {"authType": "QRCODE", **super().get_auth_params()}

    def extract_common_fields(self, data: dict[str, Any]) -> dict[str, Any]:
        # Never used to create a user (sign-up is closed); the directory is the record.
        return {"first_name": str(data.get("lastName") or "")}


provider_classes = [ZwddProvider]
