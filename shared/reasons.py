"""Machine-readable reason codes, shared by failed events, HTTP errors and metrics labels.

A bounded set on purpose: they are Prometheus label values and API contract at once.
"""

from enum import StrEnum


class ReasonCode(StrEnum):
    # input problems (permanent: never retried)
    EMPTY_FILE = "empty_file"
    UNSUPPORTED_TYPE = "unsupported_type"
    ENCRYPTED = "encrypted"
    CORRUPT = "corrupt"
    TOO_LARGE = "too_large"
    TOO_MANY_PAGES = "too_many_pages"
    # resource limits hit while working on it
    TIMEOUT = "timeout"
    MEMORY_LIMIT = "memory_limit"
    # analysis provider outcomes
    RATE_LIMITED = "rate_limited"
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    PROVIDER_REJECTED = "provider_rejected"
    SAFETY_BLOCKED = "safety_blocked"
    INVALID_CREDENTIALS = "invalid_credentials"
    BAD_MODEL_OUTPUT = "bad_model_output"
    # housekeeping / anything else
    BLOB_MISSING = "blob_missing"
    # the upload's sealed password does not open with the extractor's key (the services'
    # DOCSTREAM_AUTH_SECRET differs, or changed since the upload): see shared/passwords.py
    PASSWORD_UNREADABLE = "password_unreadable"
    # the upload was answered 503 while part of it reached the queue; it is withdrawn
    NOT_QUEUED = "not_queued"
    STALLED = "stalled"
    INTERNAL = "internal_error"
