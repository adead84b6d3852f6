"""The SCIM 2.0 endpoint (/scim/v2/{account}/...) and what wraps it: the request log and the
request limits (``request_log``)."""
