"""Who may call what: the role each endpoint needs, in one table.

Roles rank ``viewer < analyst < supervisor < admin`` (``geo.vocabulary.ROLES``): a
viewer reads; an analyst also writes incidents and imports them; a supervisor also
validates incidents, sets section levels and edits the reference layers (regions,
border sections, crossing points); an admin also manages users and tokens.

``app.auth`` checks ``required_role`` before every request, so a route is protected
the moment it exists, and a route missing from ``ENDPOINT_ROLES`` is refused (403) for
everyone until it is declared here (the access-matrix test fails on it too).
Region scope (``app.auth.scope``) narrows what a user reads and writes further.
"""

from __future__ import annotations

from geo.layers import get_layer

PUBLIC = "public"

ENDPOINT_ROLES: dict[str, str] = {
    # No sign-in: monitors, the login page, our own CSS/JS (public code, no data).
    "health.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "static": PUBLIC,
    "ui.asset": PUBLIC,  # the same files as "static", at versioned addresses
    "auth.logout": "viewer",
    # The analysts' map page and its assets.
    "ui.index": "viewer",
    "ui.message_catalogue": "viewer",
    "ui.legend_palettes": "viewer",
    "ui.vendor": "viewer",
    # REST API: reads.
    "api.list_features": "viewer",
    "api.get_feature": "viewer",
    "api.openapi_json": "viewer",
    "api.api_docs": "viewer",
    "api.hotspot_map": "viewer",
    "api.emerging_hotspots": "viewer",
    "api.evaluate_hotspots": "viewer",
    "api.forecast": "viewer",
    "api.forecast_backtest": "viewer",
    "api.ranked_segments": "viewer",
    "api.section_history": "viewer",
    "api.section_months": "viewer",
    "api.search_places": "viewer",
    "api.get_assessment": "viewer",
    "api.alerts": "viewer",
    "api.risk_bulletin": "viewer",
    "api.agencies": "viewer",
    "api.get_agency": "viewer",
    # The change feed (each caller sees its own events) and the events' schemas.
    "api.list_changes": "viewer",
    "api.list_event_schemas": "viewer",
    "api.event_schema": "viewer",
    # Scheduled products: schedules and the bulletins' archive, read in one's regions.
    "api.list_schedules": "viewer",
    "api.get_schedule": "viewer",
    "api.list_bulletins": "viewer",
    "api.get_bulletin": "viewer",
    "api.bulletin_file": "viewer",
    # Schedules are written by supervisors (and admins) of their regions.
    "api.create_schedule": "supervisor",
    "api.update_schedule": "supervisor",
    "api.delete_schedule": "supervisor",
    # The caller's own inbox and e-mail subscriptions (another's notification is 404).
    "api.list_notifications": "viewer",
    "api.read_notification": "viewer",
    "api.read_all_notifications": "viewer",
    "api.notification_settings": "viewer",
    "api.update_notification_settings": "viewer",
    # REST API: writes (layer writes also need LAYER_WRITE_ROLES).
    "api.create_features": "analyst",
    "api.update_feature": "analyst",
    "api.delete_feature": "analyst",
    "api.import_features": "analyst",
    "api.import_job": "analyst",  # the job's owner, or an admin (app.api.import_jobs)
    "api.create_assessment": "analyst",
    "api.decide_level": "supervisor",
    # Webhook subscriptions: analysts and above, each their own (admins: everybody's;
    # app.api.subscriptions answers 404 for another's).
    "api.create_subscription": "analyst",
    "api.list_subscriptions": "analyst",
    "api.get_subscription": "analyst",
    "api.update_subscription": "analyst",
    "api.delete_subscription": "analyst",
    "api.subscription_deliveries": "analyst",
    "api.replay_delivery": "analyst",
    # Agencies: admins create and change them.
    "api.create_agency_route": "admin",
    "api.update_agency_route": "admin",
    # The audit trail: admins only.
    "api.audit_log": "admin",
    # GIS services: reads only.
    "ogc.wms": "viewer",
    "ogc.features_landing": "viewer",
    "ogc.features_unknown": "viewer",
    "ogc.features_api": "viewer",
    "ogc.features_collections": "viewer",
    "ogc.features_collection": "viewer",
    "ogc.features_items": "viewer",
    "ogc.features_item": "viewer",
    "ogc.features_queryables": "viewer",
    "ogc.features_conformance": "viewer",
    "ogc.tilejson": "viewer",
    "ogc.vector_tile": "viewer",
    "ogc.tile_directory_metadata": "viewer",
    "ogc.tile_matrix_sets": "viewer",
    "ogc.tile_matrix_set": "viewer",
    "ogc.collection_tilesets": "viewer",
    "ogc.collection_tileset": "viewer",
    "ogc.collection_tile": "viewer",
    "ogc.qgis_project": "viewer",
    # The admin page (app/admin): users, their regions, tokens and sessions, the audit.
    "admin.users": "admin",
    "admin.create_user": "admin",
    "admin.user": "admin",
    "admin.update_user": "admin",
    "admin.reset_password": "admin",
    "admin.unlock_user": "admin",
    "admin.revoke_user_sessions": "admin",
    "admin.create_token": "admin",
    "admin.revoke_token": "admin",
    "admin.sessions": "admin",
    "admin.revoke_session": "admin",
    "admin.audit": "admin",
    "admin.agencies": "admin",
    "admin.create_agency": "admin",
    "admin.update_agency": "admin",
}

# Writing a layer (create, update, delete, import): incidents are the analysts' daily
# work; the reference geography is the supervisors'.
LAYER_WRITE_ROLES: dict[str, str] = {
    "incidents": "analyst",
    "regions": "supervisor",
    "border_segments": "supervisor",
    "crossing_points": "supervisor",
}
LAYER_WRITE_ENDPOINTS = frozenset({
    "api.create_features", "api.update_feature", "api.delete_feature", "api.import_features",
})

# Setting an incident's status to one of these is validating it: a supervisor's act.
INCIDENT_STATUS_ROLES: dict[str, str] = {"validated": "supervisor", "closed": "supervisor"}


class UndeclaredEndpointError(LookupError):
    """An endpoint with no entry in ``ENDPOINT_ROLES``."""


def required_role(endpoint: str, view_args: dict | None = None) -> str:
    """The role (or ``PUBLIC``) that ``endpoint`` with these URL arguments needs.

    Raises ``UndeclaredEndpointError`` for an endpoint missing from ``ENDPOINT_ROLES``.
    """
    try:
        role = ENDPOINT_ROLES[endpoint]
    except KeyError:
        raise UndeclaredEndpointError(endpoint) from None
    layer = (view_args or {}).get("layer_name")
    if endpoint in LAYER_WRITE_ENDPOINTS and layer is not None:
        try:
            layer = get_layer(layer).name  # an alias (segments) needs its layer's role
        except KeyError:
            pass  # no such layer: the route answers 404
        if layer in LAYER_WRITE_ROLES:
            role = max(role, LAYER_WRITE_ROLES[layer], key=_rank)
    return role


def _rank(role: str) -> int:
    from geo.vocabulary import ROLES

    return ROLES.index(role)
