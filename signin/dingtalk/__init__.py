"""Public DingTalk sign-in: allauth's built-in ``dingtalk`` provider with the hosts taken
from settings (so the SaaS hosts can be replaced, and tests reach a local fake)."""
