"""Links of LINE friends to Salesforce: the lookup (:mod:`.lookup`), Task placement (:mod:`.placement`)."""

from lineworks_salesforce.links.lookup import LinkClient, fetch_links
from lineworks_salesforce.links.placement import LINK_COLUMNS, link_value, placement_fields

__all__ = ["LINK_COLUMNS", "LinkClient", "fetch_links", "link_value", "placement_fields"]
