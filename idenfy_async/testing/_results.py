"""The fake's result endpoints: status, data, files, delete, PDF, the listing, file downloads.

They read the sessions of the fake's `FakeState`; the module also
builds what a finished session reports (`document_data`), the PDF and the files'
bytes (`file_content`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Final

from ._common import (
    DEFAULT_PAGE_SIZE,
    FAKE_FILES_PREFIX,
    MAX_PAGE_SIZE,
    Answer,
    FakeSession,
    Request,
    answer,
    error,
)
from ._state import FakeState

__all__ = ["Results", "document_data", "file_content", "status_object"]

FILE_NAMES: Final = ("FRONT", "BACK", "FACE")
FILE_SIZE: Final = 20_000
# (autoDocument, autoFace) each outcome reports unless told otherwise.
OUTCOME_RESULTS: Final = {
    "APPROVED": ("DOC_VALIDATED", "FACE_MATCH"),
    "SUSPECTED": ("DOC_VALIDATED", "FACE_MATCH"),
    "REVIEWING": ("DOC_VALIDATED", "FACE_MATCH"),
    "DENIED": ("DOC_VALIDATED", "FACE_MISMATCH"),
}
#: What the contract's enums say when nothing was analysed (an EXPIRED session, one
#: still ACTIVE): the contract has no null for autoDocument/autoFace.
NOT_ANALYSED: Final = ("DOC_NOT_ANALYSED", "FACE_NOT_ANALYSED")
NULL_DATA: Final[Mapping[str, Any]] = dict.fromkeys(
    (
        "docFirstName docLastName docNumber docPersonalCode docExpiry docDob docDateOfIssue"
        " docType docSex docNationality docIssuingCountry docTemporaryAddress docBirthName"
        " docPatronymic birthPlace authority address mothersMaidenName driverLicenseCategory"
        " manuallyDataChanged fullName selectedCountry orgFirstName orgLastName orgNationality"
        " orgBirthPlace orgAuthority orgAddress orgTemporaryAddress orgMothersMaidenName"
        " orgPatronymic orgBirthName ageEstimate clientIpProxyRiskLevel duplicateFaces"
        " duplicateDocFaces additionalData"
    ).split()
)


class Results:
    """The result endpoints of one fake, over its state."""

    def __init__(self, state: FakeState) -> None:
        self._state = state

    def routes(self) -> dict[str, tuple[str, Callable[[Request], Answer]]]:
        """Path -> (method, endpoint) for the fake's route table."""
        return {
            "/api/v2/status": ("POST", self._status),
            "/api/v2/data": ("POST", self._data),
            "/api/v2/files": ("POST", self._files),
            "/api/v2/delete": ("POST", self._delete),
            "/api/v2/generate-pdf": ("POST", self._generate_pdf),
            "/kyc/identifications/": ("GET", self._list),
        }

    def _lookup(self, request: Request) -> FakeSession | Answer:
        try:
            payload = json.loads(request.body)
        except (ValueError, UnicodeDecodeError):
            return error(400, "JSON_ERROR", "JSON parse error.")
        scan_ref = payload.get("scanRef") if isinstance(payload, dict) else None
        if scan_ref is None or scan_ref == "":
            return error(400, "MISSING_VALUE", "Missing value: 'scanRef'.")
        if not isinstance(scan_ref, str):
            return error(400, "BAD_VALUE", "Field 'scanRef' must be a string.")
        try:
            return self._state.session(scan_ref)
        except KeyError:
            return error(404, "NOT_FOUND", "Identification not found.")

    def _status(self, request: Request) -> Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        result = session.result
        return answer(
            200,
            {
                "fraudTags": result.get("fraudTags", []),
                "mismatchTags": result.get("mismatchTags", []),
                "autoDocument": result.get("autoDocument"),
                "autoFace": result.get("autoFace"),
                "manualDocument": result.get("manualDocument"),
                "manualFace": result.get("manualFace"),
                "scanRef": session.scan_ref,
                "clientId": session.client_id,
                "status": session.status,
            },
        )

    def _data(self, request: Request) -> Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        return answer(
            200,
            {
                **NULL_DATA,
                **session.data,
                "scanRef": session.scan_ref,
                "clientId": session.client_id,
            },
        )

    def _files(self, request: Request) -> Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        return answer(200, self._state.files_at(session.file_urls, request.origin))

    def _delete(self, request: Request) -> Answer:
        # Deleting twice is fine: a retried deletion whose answer was lost must not fail.
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        if session.status == "ACTIVE":
            return answer(
                400,
                {
                    "message": "Token has not expired yet.",
                    "identifier": "PARTNER_ERROR",
                    "documentation": "https://documentation.idenfy.com",
                    "severity": "NOT_SEVERE",
                },
            )
        if session.status not in ("DELETED", "EXPIRED-DELETED"):
            session.status = "EXPIRED-DELETED" if session.status == "EXPIRED" else "DELETED"
        session.data = {}
        session.file_urls = {}
        return 200, {}, b""

    def _generate_pdf(self, request: Request) -> Answer:
        session = self._lookup(request)
        if not isinstance(session, FakeSession):
            return session
        if session.status in ("DELETED", "EXPIRED-DELETED"):
            return error(404, "NOT_FOUND", "Identification data was deleted.")
        pdf = _minimal_pdf(
            [
                "iDenfy verification report (FakeIdenfy)",
                f"scanRef: {session.scan_ref}",
                f"status: {session.status}",
            ]
        )
        if self._state.pdf_format == "raw":
            return 200, {"content-type": "application/pdf"}, pdf
        encoded = base64.b64encode(pdf).decode()
        if self._state.pdf_format == "base64-text":
            return 200, {"content-type": "text/plain"}, encoded.encode()
        return 200, {"content-type": "application/json"}, json.dumps(encoded).encode()

    def _list(self, request: Request) -> Answer:
        # Django REST framework's page-number pagination, as the OpenAPI shape suggests.
        client_id = request.query.get("clientId")
        size = request.query.get("perPage", "")
        per_page = min(int(size), MAX_PAGE_SIZE) if size.isdigit() and int(size) > 0 else 0
        per_page = per_page or DEFAULT_PAGE_SIZE
        # Sessions younger than listing_delay are not listed yet.
        listed_before = self._state.clock() - self._state.listing_delay
        chosen = [
            s
            for s in self._state.sessions
            if (client_id is None or s.client_id == client_id) and s.created_at <= listed_before
        ]
        number = request.query.get("page", "1")
        pages = max(1, -(-len(chosen) // per_page))
        if not number.isdigit() or not 1 <= int(number) <= pages:
            return answer(404, {"detail": "Invalid page."})
        page = int(number)

        def link(to: int) -> str | None:
            if not 1 <= to <= pages:
                return None
            params = {k: v for k, v in request.query.items() if k != "page"}
            query = urllib.parse.urlencode({**params, "page": to})
            return f"{request.origin or self._state.base_url}{request.path}?{query}"

        results = [
            {"scanRef": s.scan_ref, "status": s.status, "suspected": s.suspected}
            for s in chosen[(page - 1) * per_page : page * per_page]
        ]
        return answer(
            200,
            {
                "count": len(chosen),
                "next": link(page + 1),
                "previous": link(page - 1),
                "results": results,
            },
        )

    # ------------------------------------------------------------------ files

    def file_url(self, scan_ref: str, name: str) -> str:
        """A pre-signed URL of one of the session's files (the URL is the credential)."""
        return self._state.file_url(scan_ref, name)

    def file_signature(self, path: str) -> str:
        """The ``X-Amz-Signature`` a file path must carry."""
        return self._state.file_signature(path)

    def download(self, request: Request) -> Answer:
        """Serve a file URL: refused with an Authorization header, as S3 does."""
        self._state.file_requests.append(
            (request.path, {k.lower(): v for k, v in request.headers.items()})
        )
        if "authorization" in {k.lower() for k in request.headers}:
            return _s3_error(400, "InvalidArgument", "Only one auth mechanism allowed")
        given = request.query.get("X-Amz-Signature", "")
        if not hmac.compare_digest(given, self.file_signature(request.path)):
            return _s3_error(403, "AccessDenied", "Request has expired or is not signed")
        scan_ref, _, file_name = request.path.removeprefix(FAKE_FILES_PREFIX).partition("/")
        name = file_name.removesuffix(".jpg")
        try:
            session = self._state.session(scan_ref)
        except KeyError:
            session = None
        if session is None or name not in session.file_urls:
            return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
        return 200, {"content-type": "image/jpeg"}, file_content(scan_ref, name)


def file_content(scan_ref: str, name: str) -> bytes:
    """The bytes the fake serves for one of its file URLs (deterministic, ~20 KiB)."""
    filler = hashlib.shake_256(f"{scan_ref}/{name}".encode()).digest(FILE_SIZE)
    return b"\xff\xd8\xff\xe0" + filler + b"\xff\xd9"


def status_object(
    overall: str,
    *,
    fraud_tags: list[str] | None = None,
    mismatch_tags: list[str] | None = None,
    auto: tuple[str | None, str | None] = NOT_ANALYSED,
    manual: tuple[str | None, str | None] = (None, None),
) -> dict[str, Any]:
    """The webhook's ``status`` object: overall status, tags, (document, face) results."""
    return {
        "overall": overall,
        "suspicionReasons": [],
        "mismatchTags": mismatch_tags or [],
        "fraudTags": fraud_tags or [],
        "autoDocument": auto[0],
        "autoFace": auto[1],
        "manualDocument": manual[0],
        "manualFace": manual[1],
        "additionalSteps": None,
    }


def document_data(session: FakeSession) -> dict[str, Any]:
    """The document data a verified session reports, from what its request said."""
    request = session.request
    country = request.get("country")
    if isinstance(country, list):
        country = country[0] if country else None
    country = country if isinstance(country, str) else "LT"
    documents = request.get("documents")
    first = str(request.get("firstName") or "John").upper()
    last = str(request.get("lastName") or "Doe").upper()
    digest = hashlib.sha256(session.scan_ref.encode()).hexdigest()
    return {
        **NULL_DATA,
        "docFirstName": first,
        "docLastName": last,
        "fullName": f"{first} {last}",
        "docNumber": request.get("documentNumber") or f"FK{int(digest[:12], 16) % 10**8:08d}",
        "docPersonalCode": request.get("personalNumber"),
        "docExpiry": request.get("dateOfExpiry") or "2035-01-01",
        "docDob": request.get("dateOfBirth") or "1990-01-01",
        "docDateOfIssue": request.get("dateOfIssue") or "2025-01-01",
        "docType": documents[0] if isinstance(documents, list) and documents else "ID_CARD",
        "docSex": {"M": "MALE", "F": "FEMALE"}.get(str(request.get("sex")), "UNDEFINED"),
        "docNationality": request.get("nationality") or country,
        "docIssuingCountry": country,
        "selectedCountry": country,
        "manuallyDataChanged": False,
        "ageEstimate": "OVER_25",
        "clientIpProxyRiskLevel": "LOW",
        "duplicateFaces": [],
        "duplicateDocFaces": [],
    }


def _minimal_pdf(lines: Iterable[str]) -> bytes:
    """A valid one-page PDF showing ``lines`` (ASCII), with a correct xref table."""
    escaped = (
        line.encode("ascii", "replace")
        .replace(b"\\", b"\\\\")
        .replace(b"(", b"\\(")
        .replace(b")", b"\\)")
        for line in lines
    )
    stream = b"BT /F1 12 Tf 72 740 Td 16 TL " + b" ".join(b"(%s) '" % t for t in escaped) + b" ET"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792]"
        b" /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d >>\nstream\n%s\nendstream" % (len(stream), stream),
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, obj in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n%s\nendobj\n" % (number, obj)
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def _s3_error(status: int, code: str, message: str) -> Answer:
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return status, {"content-type": "application/xml"}, body.encode()
