"""The process's Prometheus metrics (prometheus-client's default registry).

Events are counted where they happen (HTTP middleware, the sync run, the Graph client, the
notification intake); the figures a scrape reads from the database (held runs, write-back
queue, account freshness, job queue depth) come from a collector registered by the web app.

Label values are bounded: route templates (never raw paths), run kinds, triggers and outcomes,
plan actions, HTTP status codes. Account slugs appear only on the per-account freshness gauge,
whose size the operator sets by the number of accounts they create.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

# Seconds; fine at the low end, where just-in-time changes land.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
RUN_BUCKETS = (0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 300.0, 900.0, 3600.0)

HTTP_REQUESTS = Counter(
    "switchboard_http_requests",
    "HTTP requests answered, by route template, method and status code",
    ["route", "method", "status"],
)
HTTP_LATENCY = Histogram(
    "switchboard_http_request_duration_seconds",
    "Time to answer an HTTP request, by route template and method",
    ["route", "method"],
    buckets=LATENCY_BUCKETS,
)
SYNC_RUNS = Counter(
    "switchboard_sync_runs",
    "Sync runs finished, by kind (full, delta, single), trigger and outcome (run status)",
    ["kind", "trigger", "outcome"],
)
SYNC_RUN_DURATION = Histogram(
    "switchboard_sync_run_duration_seconds",
    "Duration of finished sync runs, by kind",
    ["kind"],
    buckets=RUN_BUCKETS,
)
PLAN_ITEMS = Counter(
    "switchboard_sync_plan_items",
    "Users a sync run decided about, by action (create, update, delete, ...)",
    ["action"],
)
NOTIFICATION_TO_COMMIT = Histogram(
    "switchboard_notification_to_commit_seconds",
    "From a change notification's arrival to the commit of the delta round that applied it",
    buckets=LATENCY_BUCKETS,
)
GRAPH_REQUESTS = Counter(
    "switchboard_graph_requests",
    "Requests sent to Microsoft Graph and its token endpoint, by HTTP status (0: no answer)",
    ["status"],
)
GRAPH_RETRIES = Counter("switchboard_graph_retries", "Graph requests sent again after a failure")
GRAPH_THROTTLED = Counter("switchboard_graph_throttled", "Graph answers of 429 (throttled)")
GRAPH_RETRY_AFTER = Counter(
    "switchboard_graph_retry_after_wait_seconds",
    "Seconds spent waiting before retrying Graph requests (Retry-After or backoff)",
)
SCIM_REFUSED = Counter(
    "switchboard_scim_refused",
    "SCIM requests refused before they reached the endpoint, by reason (rate_limit: 429,"
    " body_too_large: 413); not in any account's request log, as the token was not checked",
    ["reason"],
)
SCIM_LOG_FAILURES = Counter(
    "switchboard_scim_request_log_failures",
    "SCIM requests answered whose request-log entry could not be written",
)
