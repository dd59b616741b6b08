"""The client: [`AsyncIdenfy`][idenfy_async.AsyncIdenfy] (configuration, lifecycle, the endpoint
methods of the core flow) and the resources of the other KYC products it hands out
(``client.face_auth``, ``client.request_info``, ``client.blocklists``,
``client.processing``, ``client.proof_of_address``), AML screening
(``client.aml``: [`AmlScreening`][idenfy_async.client.AmlScreening], its listing of
monitorings [`AmlMonitoringListing`][idenfy_async.client.AmlMonitoringListing]), and the
listing of verifications ``list_verifications`` returns
([`VerificationListing`][idenfy_async.client.VerificationListing], one
[`ListingPage`][idenfy_async.client.ListingPage] at a time)."""

from ._aml import AmlScreening
from ._aml_paging import AmlListingPage, AmlMonitoringListing
from ._client import AsyncIdenfy
from ._paging import Listing, ListingPage, Page, VerificationListing
from ._resources import (
    Blocklists,
    FaceAuthentication,
    InformationRequests,
    Processing,
    ProofOfAddress,
)

__all__ = [
    "AmlListingPage",
    "AmlMonitoringListing",
    "AmlScreening",
    "AsyncIdenfy",
    "Blocklists",
    "FaceAuthentication",
    "InformationRequests",
    "Listing",
    "ListingPage",
    "Page",
    "Processing",
    "ProofOfAddress",
    "VerificationListing",
]
