"""The shape of style-reference ids and how many one request may name (no model, no PIL: the
request schema imports it)."""

MAX_REQUEST_REFERENCES = 16
REFERENCE_ID_PATTERN = r"^[0-9a-f]{24}$"
MAX_REFERENCE_BYTES = 10 * 1024 * 1024  # an uploaded or --ref image file
