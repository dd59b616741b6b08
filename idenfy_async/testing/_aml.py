"""The fake's side of iDenfy's standalone AML API: ``FakeIdenfy().aml``.

Plays checks and monitorings in-process and over TCP alike (the fake's ``handle``
routes here), with its own rules written from iDenfy's AML OpenAPI file:

* a check's body is the ``userType`` union (``PERSON``: ``input.fullName``;
  ``COMPANY``: ``input.companyName``), ``clientId`` 1-100 characters, ``threshold``
  75-100, ``datasets`` not empty and of the subject's kind, ``sanctionBodies`` 1-80,
  ``pepTiers`` and ``dateOfBirthMatching`` for a person only; a broken rule is a 400
  ``VALIDATION_ERROR`` naming the field;
* hits come from a watchlist: a subject whose name (any case) was scripted with
  `FakeAml.script` gets those hits; the built-in entries are iDenfy's DEV test subjects
  (person "Manfred Weber": a PEP; company "GoPayments": sanctioned; person "Cliff
  Hazard": adverse media). A hit counts when its score reaches the threshold and one
  of its datasets was asked for; anyone else is ``NO_FLAGS``;
* a monitoring takes no filter (the fake's account default screens every dataset at
  85), is ``ACTIVE`` (``ALERT`` with hits) and expires a year after creation;
  `FakeAml.rescreen` plays a daily rescreen that finds new hits;
* PDFs are small ``application/pdf`` documents; deletes answer 204;
* webhooks: `FakeAml.monitoring_payload` and `FakeAml.send_monitoring_webhook`
  (``AML_MONITORING``), `FakeAml.send_expiration_webhook` (``AML_MONITORING_EXPIRATION``),
  signed as every webhook of the fake.
"""

from __future__ import annotations

import datetime as _dt
import re
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

import httpx

from ..models import COMPANY_DATASETS, PERSON_DATASETS
from ._aml_rules import (
    CLIFF_ARTICLE,
    DEFAULT_THRESHOLD,
    company_hit,
    filter_problem,
    list_row,
    person_hit,
    profile_of,
    refused,
    subject_problem,
    tags_problem,
    text_problem,
    webhook_body,
)
from ._common import Answer, Request, answer, error, json_object
from ._state import FakeState

__all__ = ["FakeAml", "company_hit", "person_hit"]

_Endpoint = Callable[[Request, tuple[str, ...]], Answer]
_MONITORINGS: Final = re.compile(r"/aml/monitorings/")
_CHECK_PDF: Final = re.compile(r"/aml/checks/([^/]+)/pdf/")
_PROFILE: Final = re.compile(r"/aml/checks/([^/]+)/profiles/([^/]+)/")
_PROFILE_PDF: Final = re.compile(r"/aml/checks/([^/]+)/profiles/([^/]+)/pdf/")
_MONITORING: Final = re.compile(r"/aml/monitorings/([^/]+)/")
_ACTION: Final = re.compile(r"/aml/monitorings/([^/]+)/(start|stop)/")
_MONITORING_PDF: Final = re.compile(r"/aml/monitorings/([^/]+)/pdf/")
_REMOVE: Final = re.compile(r"/aml/monitorings/([^/]+)/profiles/([^/]+)/")


def _pdf(what: str) -> Answer:
    body = f"%PDF-1.4\n% fake AML report: {what}\n%%EOF\n".encode()
    return 200, {"content-type": "application/pdf"}, body


class FakeAml:
    """Checks, monitorings, profiles and the watchlist of one
    [`FakeIdenfy`][idenfy_async.testing.FakeIdenfy]."""

    def __init__(self, state: FakeState) -> None:
        self._state = state
        #: Every check made, by id (as iDenfy answered it).
        self.checks: dict[str, dict[str, Any]] = {}
        #: Every monitoring, by id (deleted ones removed).
        self.monitorings: dict[str, dict[str, Any]] = {}
        #: clientId of every check create that reached the fake, in order (faulted too).
        self.check_requests: list[str] = []
        self._watchlist: dict[str, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        self._profiles: dict[str, dict[str, Any]] = {}
        self.script("Manfred Weber", hits=[person_hit("fake-pep-1", "Manfred Weber")])
        self.script("GoPayments", hits=[company_hit("fake-san-1", "GoPayments Ltd")])
        self.script("Cliff Hazard", adverse_media=[CLIFF_ARTICLE])

    # ------------------------------------------------------------------ scripting

    def script(
        self,
        name: str,
        *,
        hits: Iterable[Mapping[str, Any]] = (),
        adverse_media: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        """Every later screening of ``name`` (any case) finds ``hits`` (made with
        `person_hit` / `company_hit`) and ``adverse_media`` articles."""
        self._watchlist[name.casefold()] = (
            [dict(h) for h in hits],
            [dict(a) for a in adverse_media],
        )

    def _screen(
        self, kind: str, name: str, threshold: int, datasets: Iterable[str]
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        hits, media = self._watchlist.get(name.casefold(), ([], []))
        wanted = set(datasets)
        found = [
            dict(h)
            for h in hits
            if h.get("score", 0) >= threshold
            and wanted.intersection(h.get("datasets", ()))
            and (kind == "PERSON") == ("nationalities" in h)
        ]
        for hit in found:
            self._profiles[hit["resourceId"]] = profile_of(kind, hit)
        return found, [dict(a) for a in media]

    def _now(self) -> _dt.datetime:
        return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)

    def _id(self) -> str:
        return str(uuid.UUID(int=self._state.rng.getrandbits(128), version=4))

    def _check(
        self, body: Mapping[str, Any], filter_: Mapping[str, Any], *, with_monitoring: bool
    ) -> dict[str, Any]:
        kind = str(body["userType"])
        data = dict(body["input"])
        name = data.get("fullName") or data.get("companyName") or ""
        threshold = filter_.get("threshold") or DEFAULT_THRESHOLD
        hits, media = self._screen(kind, name, threshold, filter_["datasets"])
        now = self._now().isoformat()
        check: dict[str, Any] = {
            "id": self._id(),
            "clientId": body["clientId"],
            "checkedAt": now,
            "created": now,
            "userType": kind,
            "input": data,
            "filter": {"threshold": threshold, **filter_},
            "amlCheck": hits,
            "adverseMedia": media,
            "overallStatus": "FLAGS_FOUND" if hits or media else "NO_FLAGS",
        }
        if with_monitoring:
            check["monitoring"] = None
        return check

    # ------------------------------------------------------------------ routing

    def routes(self) -> dict[str, tuple[str, Callable[[Request], Answer]]]:
        """Fixed paths, for the fake's route table."""
        return {"/aml/checks/": ("POST", self._create_check)}

    def route(self, method: str, path: str) -> tuple[str, Callable[[Request], Answer]] | None:
        """(allowed method, endpoint) for an AML path with ids in it, else None."""
        patterns: tuple[tuple[re.Pattern[str], tuple[str, ...], _Endpoint], ...] = (
            (_MONITORINGS, ("GET", "POST"), self._list_or_create),
            (_CHECK_PDF, ("POST",), self._check_pdf),
            (_PROFILE_PDF, ("POST",), self._profile_pdf),
            (_PROFILE, ("GET",), self._get_profile),
            (_ACTION, ("POST",), self._action),
            (_MONITORING_PDF, ("POST",), self._monitoring_pdf),
            (_REMOVE, ("DELETE",), self._remove_profile),
            (_MONITORING, ("GET", "PATCH", "DELETE"), self._monitoring),
        )
        for pattern, methods, endpoint in patterns:
            match = pattern.fullmatch(path)
            if match:
                params = tuple(urllib.parse.unquote(p) for p in match.groups())
                allowed = method if method in methods else methods[0]
                return allowed, _bound(endpoint, params)
        return None

    # ------------------------------------------------------------------ checks

    def _create_check(self, request: Request) -> Answer:
        body = json_object(request.body)
        if not isinstance(body, dict):
            return body
        self.check_requests.append(str(body.get("clientId")))
        problem = subject_problem(body) or filter_problem(str(body["userType"]), body.get("filter"))
        if problem:
            return problem
        check = self._check(body, body["filter"], with_monitoring=True)
        self.checks[check["id"]] = check
        return answer(201, check)

    def _find_check(self, check_id: str) -> dict[str, Any] | None:
        if check_id in self.checks:
            return self.checks[check_id]
        for monitoring in self.monitorings.values():
            if monitoring["amlCheck"]["id"] == check_id:
                found: dict[str, Any] = monitoring["amlCheck"]
                return found
        return None

    def _check_pdf(self, request: Request, params: tuple[str, ...]) -> Answer:
        if self._find_check(params[0]) is None:
            return error(404, "NOT_FOUND", "AML check not found.")
        return _pdf(f"check {params[0]}")

    def _get_profile(self, request: Request, params: tuple[str, ...]) -> Answer:
        check = self._find_check(params[0])
        profile = self._profiles.get(params[1])
        if check is None or profile is None:
            return error(404, "NOT_FOUND", "AML profile not found.")
        return answer(200, profile)

    def _profile_pdf(self, request: Request, params: tuple[str, ...]) -> Answer:
        if self._find_check(params[0]) is None or params[1] not in self._profiles:
            return error(404, "NOT_FOUND", "AML profile not found.")
        return _pdf(f"profile {params[1]}")

    # ------------------------------------------------------------------ monitorings

    def _list_or_create(self, request: Request, params: tuple[str, ...]) -> Answer:
        return self._create_monitoring(request) if request.method == "POST" else self._list(request)

    def _create_monitoring(self, request: Request) -> Answer:
        body = json_object(request.body)
        if not isinstance(body, dict):
            return body
        subject = body.get("amlCheck")
        if not isinstance(body.get("isSubscribed"), bool):
            return refused("isSubscribed", "is required (true or false)")
        if not isinstance(subject, dict):
            return refused("amlCheck", "is required")
        problem = subject_problem(subject) or tags_problem(body.get("tags", []))
        if problem:
            return problem
        kind = str(subject["userType"])
        datasets = PERSON_DATASETS if kind == "PERSON" else COMPANY_DATASETS
        check = self._check(
            subject,
            {"threshold": DEFAULT_THRESHOLD, "datasets": list(datasets)},
            with_monitoring=False,
        )
        now = self._now()
        monitoring = {
            "id": self._id(),
            "isSubscribed": body["isSubscribed"],
            "status": "ALERT" if check["overallStatus"] == "FLAGS_FOUND" else "ACTIVE",
            "expiration": (now + _dt.timedelta(days=365)).isoformat(),
            "created": now.isoformat(),
            "amlCheck": check,
            "tags": list(body.get("tags", [])),
        }
        self.monitorings[monitoring["id"]] = monitoring
        return answer(201, monitoring)

    def _monitoring(self, request: Request, params: tuple[str, ...]) -> Answer:
        monitoring = self.monitorings.get(params[0])
        if monitoring is None:
            return error(404, "NOT_FOUND", "AML monitoring not found.")
        if request.method == "DELETE":
            del self.monitorings[params[0]]
            return 204, {}, b""
        if request.method == "PATCH":
            body = json_object(request.body)
            if not isinstance(body, dict):
                return body
            if "isSubscribed" in body and not isinstance(body["isSubscribed"], bool):
                return refused("isSubscribed", "must be true or false")
            problem = tags_problem(body["tags"]) if "tags" in body else None
            if problem:
                return problem
            monitoring.update({k: body[k] for k in ("isSubscribed", "tags") if k in body})
        return answer(200, monitoring)

    def _action(self, request: Request, params: tuple[str, ...]) -> Answer:
        monitoring = self.monitorings.get(params[0])
        if monitoring is None:
            return error(404, "NOT_FOUND", "AML monitoring not found.")
        if request.body:
            body = json_object(request.body)
            if not isinstance(body, dict):
                return body
            comment = body.get("comment")
            if comment is not None and text_problem(comment, "comment", 10_000):
                return refused("comment", "must be text of 1-10000 characters")
        monitoring["status"] = "ACTIVE" if params[1] == "start" else "STOPPED"
        return answer(200, monitoring)

    def _monitoring_pdf(self, request: Request, params: tuple[str, ...]) -> Answer:
        if params[0] not in self.monitorings:
            return error(404, "NOT_FOUND", "AML monitoring not found.")
        return _pdf(f"monitoring {params[0]}")

    def _remove_profile(self, request: Request, params: tuple[str, ...]) -> Answer:
        monitoring = self.monitorings.get(params[0])
        if monitoring is None:
            return error(404, "NOT_FOUND", "AML monitoring not found.")
        check = monitoring["amlCheck"]
        kept = [h for h in check["amlCheck"] if h["resourceId"] != params[1]]
        if len(kept) == len(check["amlCheck"]):
            return error(404, "NOT_FOUND", "AML profile not found.")
        check["amlCheck"] = kept
        return 204, {}, b""

    def _list(self, request: Request) -> Answer:
        query = request.query
        rows = [list_row(m) for m in self.monitorings.values()]
        for key in ("status", "userType"):
            if key in query:
                rows = [r for r in rows if r[key] == query[key]]
        if "name" in query:
            rows = [r for r in rows if query["name"].casefold() in r["name"].casefold()]
        if "tags" in query:
            wanted = set(query["tags"].split(","))
            rows = [r for r in rows if wanted <= set(r["tags"])]
        if "isExpired" in query:
            now = self._now().isoformat()
            expired = query["isExpired"] == "true"
            rows = [r for r in rows if (r["expiration"] < now) == expired]
        orders = query["orderBy"].split(",") if "orderBy" in query else []
        for order in reversed(orders):
            key = order.lstrip("-")
            if key in ("created", "expiration"):
                rows.sort(key=_sort_key(key), reverse=order.startswith("-"))
        try:
            page = int(query.get("page", "1"))
            per_page = int(query.get("perPage", "50"))
        except ValueError:
            return refused("page", "must be an integer")
        if page < 1 or per_page < 1:
            return refused("page", "must be at least 1")
        start = (page - 1) * per_page
        if start and start >= len(rows):
            return error(404, "NOT_FOUND", "Invalid page.")
        base = request.origin or self._state.base_url
        link: str | None = None
        if start + per_page < len(rows):
            link = f"{base}/aml/monitorings/?{urllib.parse.urlencode({**query, 'page': page + 1})}"
        return answer(
            200,
            {
                "count": len(rows),
                "next": link,
                "previous": None,
                "results": rows[start : start + per_page],
            },
        )

    def reset(self) -> None:
        """Forget every check, monitoring and profile (the scripted watchlist stays)."""
        self.checks.clear()
        self.monitorings.clear()
        self.check_requests.clear()
        self._profiles.clear()

    # ------------------------------------------------------------------ control

    async def control(
        self, method: str, parts: list[str], body: bytes, *, signing_key: str | bytes
    ) -> Answer:
        """The ``/__fake__/aml/...`` control endpoints (``parts`` after ``aml``), for a
        served fake driven from outside Python:

        * ``POST script`` ``{"name", "hits": [...], "adverseMedia": [...]}``: as `script`;
        * ``POST monitorings/ID/rescreen`` ``{"hits": [...]}``: as `rescreen`;
        * ``POST monitorings/ID/webhook`` ``{"url", "signingKey"?}``: the signed
          ``AML_MONITORING`` webhook; answers ``{"status": <the app's status>}``;
        * ``POST expiration-webhook`` ``{"url", "usersToExtend", "usersToExpire",
          "signingKey"?}``.
        """
        if method != "POST":
            return answer(405, {"error": "use POST"})
        payload = json_object(body or b"{}")
        if not isinstance(payload, dict):
            return answer(400, {"error": "the body must be a JSON object"})
        try:
            return await self._control(parts, payload, signing_key)
        except (KeyError, TypeError, ValueError) as exc:
            return answer(400, {"error": f"bad control request: {type(exc).__name__}"})
        except httpx.HTTPError as exc:
            return answer(502, {"error": f"the webhook got no answer: {type(exc).__name__}"})

    async def _control(
        self, parts: list[str], payload: dict[str, Any], signing_key: str | bytes
    ) -> Answer:
        key = payload.get("signingKey", signing_key)
        if parts == ["script"]:
            self.script(
                str(payload["name"]),
                hits=payload.get("hits", []),
                adverse_media=payload.get("adverseMedia", []),
            )
            return answer(200, {"scripted": payload["name"]})
        if parts == ["expiration-webhook"]:
            status = await self.send_expiration_webhook(
                url=str(payload["url"]),
                signing_key=key,
                users_to_extend=int(payload.get("usersToExtend", 0)),
                users_to_expire=int(payload.get("usersToExpire", 0)),
            )
            return answer(200, {"status": status})
        if len(parts) == 3 and parts[0] == "monitorings" and parts[1] in self.monitorings:
            if parts[2] == "rescreen":
                self.rescreen(parts[1], hits=payload.get("hits", []))
                return answer(200, self.monitorings[parts[1]])
            if parts[2] == "webhook":
                url = str(payload["url"])
                status = await self.send_monitoring_webhook(parts[1], url=url, signing_key=key)
                return answer(200, {"status": status})
        return answer(404, {"error": "no such AML control endpoint or monitoring"})

    # ------------------------------------------------------------------ webhooks

    def rescreen(self, monitoring_id: str, *, hits: Iterable[Mapping[str, Any]] = ()) -> None:
        """Play a daily rescreen that finds ``hits``: the monitoring turns ``ALERT``."""
        monitoring = self.monitorings[monitoring_id]
        check = monitoring["amlCheck"]
        found = [dict(h) for h in hits]
        kind = check["userType"]
        for hit in found:
            self._profiles[hit["resourceId"]] = profile_of(kind, hit)
        check["amlCheck"] = [*check["amlCheck"], *found]
        check["checkedAt"] = self._now().isoformat()
        if found:
            check["overallStatus"] = "FLAGS_FOUND"
            monitoring["status"] = "ALERT"

    def monitoring_payload(self, monitoring_id: str) -> dict[str, Any]:
        """The ``AML_MONITORING`` webhook body for the monitoring as it stands."""
        return webhook_body(monitoring_id, self.monitorings[monitoring_id])

    async def send_monitoring_webhook(
        self,
        monitoring_id: str,
        *,
        url: str,
        signing_key: str | bytes,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = 10.0,
    ) -> int:
        """POST the signed ``AML_MONITORING`` webhook of a monitoring to ``url``; return
        the answer's status (recorded in ``fake.webhooks`` under the monitoring's id)."""
        return await self._state.deliver(
            monitoring_id,
            "AML_MONITORING",
            url,
            self.monitoring_payload(monitoring_id),
            signing_key,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
        )

    async def send_expiration_webhook(
        self,
        *,
        url: str,
        signing_key: str | bytes,
        users_to_extend: int = 0,
        users_to_expire: int = 0,
        http_client: httpx.AsyncClient | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float | None = 10.0,
    ) -> int:
        """POST a signed ``AML_MONITORING_EXPIRATION`` webhook to ``url``."""
        return await self._state.deliver(
            "",
            "AML_MONITORING_EXPIRATION",
            url,
            {"usersToExtend": users_to_extend, "usersToExpire": users_to_expire},
            signing_key,
            http_client=http_client,
            transport=transport,
            timeout=timeout,
        )


def _sort_key(key: str) -> Callable[[Mapping[str, Any]], str]:
    return lambda row: str(row[key])


def _bound(endpoint: _Endpoint, params: tuple[str, ...]) -> Callable[[Request], Answer]:
    return lambda request: endpoint(request, params)
