"""Walking the 浙政钉 organisation directory (``/mozi/...``) through the signed gateway.

Breadth first from the root: the child codes of each organisation page by page, their
details 100 at a time, then each organisation's employee codes and the employees' details.
Every call is signed by ``portal.zwdd`` (lists of codes as repeated parameters).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from notifications import redis_state
from portal import zwdd as gateway

logger = logging.getLogger(__name__)

ROOT = "/mozi/organization/getRootOrganization"
SUB_ORGANIZATION_CODES = "/mozi/organization/pageSubOrganizationCodes"
ORGANIZATIONS = "/mozi/organization/listOrganizationsByCodes"
EMPLOYEE_CODES = "/mozi/organization/pageOrganizationEmployeeCodes"
EMPLOYEES = "/mozi/employee/listEmployeesByCodes"
BATCH = 100  # the platform's limit for a list of codes and for a page


@dataclass(frozen=True)
class Organization:
    code: str
    name: str
    parent_code: str
    type_code: str
    division_code: str


@dataclass(frozen=True)
class Employee:
    code: str
    name: str
    active: bool
    organization_code: str  # where the walk found them first (the highest in the tree)


@dataclass
class Directory:
    root: Organization
    organizations: list[Organization]  # breadth first from the root (the root first)
    employees: list[Employee]
    calls: int = 0


def directory_gateway() -> gateway.Gateway:
    return gateway.settings_gateway(
        user_agent="zhixing-directory/1",
        token_get=redis_state.token_get,
        token_invalidate=redis_state.token_invalidate,
    )


def _text(item: dict[str, Any], key: str) -> str:
    value = item.get(key)
    return str(value).strip() if value is not None else ""


class DirectoryWalk:
    def __init__(
        self, *, gateway_: gateway.Gateway, tenant_id: str, page_size: int = BATCH
    ) -> None:
        self.gateway = gateway_
        self.tenant_id = tenant_id
        self.page_size = max(1, min(page_size, BATCH))
        self.calls = 0

    def _call(self, path: str, params: dict[str, str | Sequence[str]]) -> Any:
        self.calls += 1
        return self.gateway.call_with_token("POST", path, {"tenantId": self.tenant_id, **params})

    def _list(self, path: str, params: dict[str, str | Sequence[str]]) -> list[Any]:
        data = self._call(path, params)
        if data is None:
            return []
        if not isinstance(data, list):
            raise gateway.GatewayError(gateway.BAD_RESPONSE, f"{path}: not a list")
        return data

    def _pages(self, path: str, organization_code: str) -> Iterator[str]:
        """Codes page by page until a short page (the total is not needed)."""
        page = 1
        while True:
            codes = self._list(
                path,
                {
                    "organizationCode": organization_code,
                    "pageNo": str(page),
                    "pageSize": str(self.page_size),
                },
            )
            yield from (str(c) for c in codes if isinstance(c, str) and c)
            if len(codes) < self.page_size:
                return
            page += 1

    def organizations(self, codes: Sequence[str]) -> list[Organization]:
        found: list[Organization] = []
        for start in range(0, len(codes), BATCH):
            batch = list(codes[start : start + BATCH])
            for item in self._list(ORGANIZATIONS, {"organizationCodes": batch}):
                if not isinstance(item, dict) or not _text(item, "organizationCode"):
                    logger.warning("浙政钉 directory: an organisation without a code: %r", item)
                    continue
                found.append(
                    Organization(
                        code=_text(item, "organizationCode"),
                        name=_text(item, "organizationName"),
                        parent_code=_text(item, "parentCode"),
                        type_code=_text(item, "typeCode"),
                        division_code=_text(item, "divisionCode"),
                    )
                )
        return found

    def root(self, code: str = "") -> Organization:
        """The configured organisation, or the tenant's root."""
        if not code:
            data = self._call(ROOT, {})
            code = _text(data, "organizationCode") if isinstance(data, dict) else ""
            if not code:
                raise gateway.GatewayError(gateway.BAD_RESPONSE, "no root organisation")
        found = self.organizations([code])
        if not found:
            raise gateway.GatewayError(gateway.BAD_RESPONSE, f"no organisation {code}")
        return found[0]

    def walk(self, root_code: str = "") -> Directory:
        root = self.root(root_code)
        organizations = [root]
        seen = {root.code}
        queue = deque([root.code])
        while queue:
            children = [c for c in self._pages(SUB_ORGANIZATION_CODES, queue.popleft())]
            fresh = [c for c in dict.fromkeys(children) if c not in seen]  # a cycle ends here
            seen.update(fresh)
            for organization in self.organizations(fresh):
                organizations.append(organization)
                queue.append(organization.code)
        employees: dict[str, Employee] = {}
        for organization in organizations:
            codes = [
                c
                for c in dict.fromkeys(self._pages(EMPLOYEE_CODES, organization.code))
                if c not in employees
            ]
            for start in range(0, len(codes), BATCH):
                batch = codes[start : start + BATCH]
                for item in self._list(EMPLOYEES, {"employeeCodes": batch}):
                    code = _text(item, "employeeCode") if isinstance(item, dict) else ""
                    if not code or code in employees:
                        continue
                    employees[code] = Employee(
                        code=code,
                        name=_text(item, "employeeName"),
                        active=_text(item, "status") != "F",
                        organization_code=organization.code,
                    )
        return Directory(root, organizations, list(employees.values()), self.calls)
