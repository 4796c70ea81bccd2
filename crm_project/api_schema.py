"""The API schema's error responses: one `Error` component, and on every operation each
status it can answer besides its successes (drf-spectacular postprocessing hook)."""

from django.utils.translation import gettext_lazy as _

ERROR_SCHEMA = {
    "type": "object",
    "description": "Every error of the API has this one shape, in the caller's language.",
    "properties": {
        "error": {
            "type": "object",
            "properties": {
                "status": {"type": "integer", "description": "The HTTP status, repeated"},
                "code": {
                    "type": "string",
                    "description": "Stable machine-readable code: invalid, parse_error, "
                    "not_authenticated, authentication_failed, permission_denied, not_found, "
                    "conflict, too_large, unsupported_media_type, throttled, …",
                },
                "message": {"type": "string", "description": "A sentence for people"},
                "fields": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Messages per field (for bulk requests: per object index, "
                    "then per field); empty when the error is not about fields",
                },
                "stored": {
                    "type": "object",
                    "additionalProperties": True,
                    "description": "Only for 409 on a purchase: the sale stored under the "
                    "external_id",
                },
            },
            "required": ["status", "code", "message", "fields"],
        }
    },
    "required": ["error"],
}

STATUS_TEXT = {
    "400": _("Invalid input: see `fields`. Nothing was written."),
    "401": _("No API key, or an invalid or revoked one."),
    "403": _(
        "Not allowed: a read-only key writing, any key deleting, a staff member doing what "
        "only owners may do (deleting, running campaigns)."
    ),
    "404": _("No such row in your business (another business's id included)."),
    "409": _("The external_id belongs to a different sale: nothing was written."),
    "413": _("The request body is too large."),
    "415": _("Send `Content-Type: application/json`."),
    "429": _(
        "Too many requests, or too many wrong API keys from this address: wait for "
        "`Retry-After` seconds."
    ),
    "503": _("The database is busy: try again after `Retry-After` seconds."),
}


# Operations that can answer 409, and what it means for each.
CONFLICTS = {
    "v1_purchases_create": STATUS_TEXT["409"],
    "v1_campaigns_partial_update": _(
        "The campaign has started: only a draft can be changed. Nothing was written."
    ),
    "v1_campaigns_start_create": _(
        "The campaign has finished, or a one-off campaign was already sent: nothing changed."
    ),
    "v1_campaigns_pause_create": _("The campaign has finished: nothing changed."),
}


def _statuses(path: str, method: str, operation_id: str) -> list[str]:
    codes = ["401", "403", "429"]
    if method in ("post", "put", "patch"):
        codes += ["400", "413", "415", "503"]
    if method == "delete":
        codes += ["503"]
    if method == "get" and "{" not in path:
        codes += ["400"]  # filters, page_size, cursor
    if "{" in path:
        codes += ["404"]
    if operation_id in CONFLICTS:
        codes += ["409"]
    return sorted(set(codes))


def add_error_responses(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    ref = {"$ref": "#/components/schemas/Error"}
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and not parameter.get("required"):
                    parameter["allowEmptyValue"] = True  # an empty filter means "any"
            responses = operation.setdefault("responses", {})
            operation_id = operation.get("operationId", "")
            for code in _statuses(path, method, operation_id):
                text = CONFLICTS[operation_id] if code == "409" else STATUS_TEXT[code]
                responses.setdefault(
                    code,
                    {
                        "content": {"application/json": {"schema": ref}},
                        "description": str(text),
                    },
                )
    return result
