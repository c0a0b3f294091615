"""Every string the workspace's JavaScript shows, for translation (English text is the key).

``N_`` only marks a string for extraction (``pybabel extract -F babel.cfg``); the
catalogue ``/ui/i18n.json`` translates them for the request's language. A string the
JavaScript passes to ``t()`` must be listed here (``tests/app/ui/test_ui.py`` checks it).
Strings of Python code shown by the templates (flash messages, roles, vocabularies) are
listed in ``TEMPLATE_MESSAGES`` for the same reason.
"""

from __future__ import annotations


def N_(text: str) -> str:  # noqa: N802  (the gettext convention for "mark only")
    return text


JS_MESSAGES = (
    # status and errors
    N_("Updating…"), N_("{n} incidents, {period}"), N_("{n} sections ranked"),
    N_("The link is for region {region}, which is not among your regions (or does not exist): the page shows {shown} instead."),  # noqa: E501
    N_("partial period"),
    N_("{sections} sections, {incidents} incidents; partial period (not over): not compared with full periods"),  # noqa: E501
    N_("Incidents within {km} km of a border section, each counted for its nearest section whatever region it lies in, including other agencies' records counted in aggregates; categories, outcome and agency filters do not apply."),  # noqa: E501
    N_("Incidents linked to the region (all regions: every incident you may see) that match the filters and that you see in detail: what the map and the export show."),  # noqa: E501
    N_("(partial period: not over)"),
    N_("{layer}: only {n} incidents in this area and period; the statistic needs at least "
       "{min}. The layer is empty."),
    N_("{layer}: only {n} grid cells hold incidents in this area and period; the statistic "
       "needs at least {min}. The layer is empty."),
    N_("{layer} could not be computed: {detail}. The layer is empty."),
    N_("Widen the period to {from} – {to}"), N_("Use automatic cells ({m} m)"),
    N_("This link's {names} could not be read: the map shows the defaults instead."),
    N_("(the period lies in the future: nothing has been recorded yet)"),
    N_("{region} has no border sections: nothing to rank. Its incidents and hot spots are "
       "on the map."),
    N_("The map draws {drawn} of the {n} incidents in view: zoom in to see them all."),
    N_("Could not load a layer: {detail}"), N_("Could not load the map layers: {detail}"),
    N_("The map service (WMS) is not available."), N_("The start must not be after the end."),
    N_("Click the map where the incident happened (Esc cancels)."), N_("Cancelled."),
    N_("Demonstration data: not real records. Contains {kinds} data (see the README for sources)."),  # noqa: E501
    N_("generalised (Natural Earth 1:10m)"), N_("approximate"), N_("synthetic"),
    N_("Border: Natural Earth (public domain)"),
    # filters and controls
    N_("all"), N_("Play"), N_("Pause"), N_("Legend"),
    N_("Offline basemap (countries)"), N_("Online basemap"), N_("No basemap"),
    N_("Regions"), N_("Border sections (risk level)"), N_("Crossing points"), N_("Incidents"),
    N_("Hot spots"), N_("Density (KDE)"), N_("Emerging hot spots"), N_("Alerts"),
    N_("Emerging hot spots by border section"),
    # legend
    N_("Border sections: risk level"), N_("incident (aggregated at small scales)"),
    N_("incident (clickable when zoomed in)"), N_("crossing point"),
    N_("Density (KDE), incidents per km²"), N_("Originating agency (ring)"),
    N_("section above its expected count"), N_("Border sections: emerging hot spots"),
    N_("hot spot, confidence {p}"), N_("cold spot, confidence {p}"),
    N_("LISA HH"), N_("LISA HL"), N_("LISA LH"), N_("LISA LL"),
    # risk levels
    N_("low"), N_("medium"), N_("high"), N_("critical"), N_("not assessed"),
    # panel
    N_("same period last year"), N_("previous period"), N_("this period"),
    N_("expected next period"), N_("risk"), N_("{n} incidents"), N_("vs previous"),
    N_("vs last year"),
    N_("{sections} sections, {incidents} incidents; {change} vs previous period, {year} vs last year"),  # noqa: E501
    N_("No section is above its expected count."),
    N_("{observed} observed, {expected} expected (p = {p})"),
    N_("computed: {level}"), N_("Decision by {who}: {why}"), N_("score"),
    N_("Threat"), N_("Vulnerability"), N_("Impact"),
    # how a section's risk is explained (panel.js)
    N_("{formula}, each of T (threat), V (vulnerability) and I (impact) scored {low}–{high}"),
    N_("Levels:"), N_("{level} {from}–{to}"), N_("Factors and trend"),
    N_("Factors and trend of {code}"), N_("factor"), N_("value"), N_("weight"), N_("share"),
    N_("{name}: {value}"), N_("Impact is measured over {n} periods: values are means per {days} days."),  # noqa: E501
    N_("History"), N_("History of {code}"), N_("No assessments or decisions yet."),
    N_("assessed"), N_("decided"), N_("lifted"), N_("Could not load the history: {detail}"),
    N_("{level} (risk {risk}), {period}"), N_("by {who}: {why}"),
    N_("Incidents per period: {series}; expected {low}–{high}"),
    N_("expected range"), N_("By category"),
    # agencies: releasability and the aggregate flag in a popup
    N_("all agencies"), N_("originating agency only"), N_("yes"), N_("no"),
    # forms
    N_("Please correct the marked fields."), N_("At {lat}, {lon}"), N_("Importing…"),
    N_("Importing… {rows} rows read"),
    N_("Checked, nothing written:"), N_("Imported:"), N_("Level saved."),
    N_("inserted"), N_("updated"), N_("unchanged"), N_("errors"),
    # feature properties shown in popups
    N_("code"), N_("name"), N_("name_en"), N_("name_ka"), N_("kind"), N_("provenance"),
    N_("length_m"), N_("region_id"), N_("terrain_class"), N_("neighbour_country"),
    N_("surveillance_level"), N_("status"), N_("source"), N_("external_id"),
    N_("occurred_at"), N_("category"), N_("outcome"), N_("direction"),
    N_("detection_method"), N_("persons_count"), N_("nationality"), N_("transport_means"),
    N_("description"), N_("source_reliability"), N_("information_credibility"),
    N_("nearest_segment_id"), N_("segment_distance_m"), N_("nearest_crossing_id"),
    N_("crossing_distance_m"), N_("created_at"), N_("updated_at"), N_("level"),
    N_("threat"), N_("vulnerability"), N_("impact"), N_("incidents"), N_("cell"),
    N_("count"), N_("z"), N_("p"), N_("bin"), N_("cluster"), N_("density"),
    N_("trend_z"), N_("trend_p"), N_("agency"), N_("reporting_unit"), N_("releasability"),
    N_("aggregate"), N_("count_trend_z"), N_("count_trend_p"), N_("count_trend_tau"),
    # emerging hot-spot categories
    N_("new hot spot"), N_("consecutive hot spot"), N_("intensifying hot spot"),
    N_("persistent hot spot"), N_("diminishing hot spot"), N_("sporadic hot spot"),
    N_("oscillating hot spot"), N_("historical hot spot"), N_("new cold spot"),
    N_("consecutive cold spot"), N_("intensifying cold spot"), N_("persistent cold spot"),
    N_("diminishing cold spot"), N_("sporadic cold spot"), N_("oscillating cold spot"),
    N_("historical cold spot"), N_("no pattern"),
    # cell popups: why a cell is hot (popups.js)
    N_("kernel density (quartic)"),
    N_("emerging hot-spot analysis (Gi* per month, Mann-Kendall trend)"),
    N_("Method: {method}"),
    N_("{method}, false discovery rate corrected"),
    N_("Cells: hexagons of {m} m"),
    N_("Neighbourhood: cells within {m} m"),
    N_("Bandwidth: {m} m"),
    N_("Period: {period}"),
    N_("Hot spot, {p} confidence"),
    N_("Cold spot, {p} confidence"),
    N_("{d} incidents per km²"),
    N_("{count} incidents in this cell; {total} in it and its neighbours ({cells} cells): "
       "{mean} per cell, against {overall} per cell over the study area."),
    N_("{count} incidents in this cell."),
    N_("As a cold spot (fewer incidents than around): {sentence}"),
    N_("As a hot spot (more incidents than around): {sentence}"),
    N_("Incidents per month: {series}"),
    N_("Significant in the last month for the first time in the window."),
    N_("Significant in an unbroken run of recent months, ending in the last, and not before."),
    N_("Significant in at least nine months in ten, including the last, and growing stronger."),
    N_("Significant in at least nine months in ten, including the last, with no clear trend."),
    N_("Significant in at least nine months in ten, including the last, and weakening."),
    N_("Significant on and off, including the last month, never the opposite."),
    N_("Significant in the last month, but the opposite in an earlier one."),
    N_("Significant in at least nine months in ten, but not in the last."),
    N_("Getis-Ord Gi*"),
    N_("Local Moran (LISA)"),
    # the inbox
    N_("{n} unread"), N_("Mark read"), N_("No notifications."),
    N_("Could not load the inbox: {detail}"), N_("Saved."), N_("Alert"),
    N_("Level decision"), N_("Bulletin"), N_("Webhook"),
    # the map tools (search.js, measure.js, coordinates.js, opacity.js, incidenttable.js)
    # and the print layout (printlayout.js)
    N_("All regions"), N_("Region"), N_("Border section"), N_("Crossing point"),
    N_("Basemap"), N_("Border risk map: {area}"), N_("Period: {from} – {to}"), N_("N"),
    N_("Made with BorderRisk on {date}."), N_("{n} km"), N_("{n} m"),
    N_("Not included: the online basemap ({origins}), whose server does not allow it."),
    N_("Measure distance"), N_("Finish measuring"), N_("Distance: {km} km"),
    N_("Area: {km2} km²"),
    N_("Click the map to add points; Enter adds the map's centre; Esc ends."),
    N_("Pointer: latitude {lat}°, longitude {lon}°"),
    N_("Map centre: latitude {lat}°, longitude {lon}°"),
    N_("Show on the map"), N_("{n} incidents in view."),
    N_("The {shown} newest of the {n} incidents in view (zoom in to see them all)."),
    N_("Showing {place}."), N_("{n} places found: Enter shows the first."),
    N_("No region, crossing point or section matches “{text}”."),
    N_("The search failed: {detail}"),
    # a section's monthly trend (monthlytrend.js)
    N_("Incidents per calendar month"), N_("Loading…"), N_("Category"),
    N_("{month}: {n}, expected {low}–{high}"),
    N_("{month} (partial, so far): {n}, expected {low}–{high}"),
    N_("Incidents per calendar month, with the expected range: {series}"),
    N_("The band: the counts the ranking's alert model expects in each month from the {k} months before it (above it, the ranking alerts). The current month is partial."),  # noqa: E501
    N_("By category, {from} – {to}"), N_("No incidents in these months."),
    N_("Could not load the monthly trend: {detail}"),
)

TEMPLATE_MESSAGES = (
    N_("viewer"), N_("analyst"), N_("supervisor"), N_("admin"),
    N_("Unknown user name or wrong password."),
    N_("Fill in both fields (the form may have expired: try again)."),
    N_("Too many failed sign-ins: this account is locked for a while. Try again later."),
    N_("Too many failed sign-ins from your address. Try again later."),
    N_("attempted"), N_("actual"),
    N_("illegal_crossing_between_bcp"), N_("illegal_crossing_at_bcp"),
    N_("refusal_of_entry"), N_("illegal_stay"), N_("asylum_application"), N_("facilitator"),
    N_("fraudulent_document"), N_("smuggling_drugs"), N_("smuggling_tobacco"),
    N_("smuggling_weapons"), N_("smuggling_other_goods"), N_("stolen_vehicle"),
    N_("trafficking_human_beings"), N_("other"),
)

# What an incident's popup calls its fields and their coded values (the map page's
# JavaScript gets them translated from /ui/i18n.json: ``i18n.incident_labels``).
INCIDENT_FIELD_LABELS = {
    "source": N_("Source"), "external_id": N_("External id"), "occurred_at": N_("Occurred"),
    "category": N_("Category"), "outcome": N_("Outcome"), "direction": N_("Direction"),
    "detection_method": N_("Detected by"), "persons_count": N_("Persons"),
    "nationality": N_("Nationality"), "transport_means": N_("Means of transport"),
    "description": N_("Description"), "source_reliability": N_("Source reliability"),
    "information_credibility": N_("Information credibility"), "status": N_("Status"),
    "provenance": N_("Provenance"), "agency": N_("Agency"),
    "reporting_unit": N_("Reporting unit"), "releasability": N_("Released to"),
    "aggregate": N_("Counted in aggregates"), "region_id": N_("Region (id)"),
    "nearest_segment_id": N_("Nearest border section (id)"),
    "segment_distance_m": N_("Distance to it (m)"),
    "nearest_crossing_id": N_("Nearest crossing point (id)"),
    "crossing_distance_m": N_("Distance to the crossing point (m)"),
    "created_at": N_("Created"), "updated_at": N_("Updated"),
}
INCIDENT_VALUE_LABELS = {
    "category": {
        "illegal_crossing_between_bcp": N_("Illegal border crossing between crossing points"),
        "illegal_crossing_at_bcp": N_("Illegal border crossing at a crossing point"),
        "refusal_of_entry": N_("Refusal of entry"), "illegal_stay": N_("Illegal stay"),
        "asylum_application": N_("Asylum application"),
        "facilitator": N_("Facilitator (migrant smuggling)"),
        "fraudulent_document": N_("Fraudulent document"),
        "smuggling_drugs": N_("Smuggling of drugs"),
        "smuggling_tobacco": N_("Smuggling of tobacco"),
        "smuggling_weapons": N_("Smuggling of weapons"),
        "smuggling_other_goods": N_("Smuggling of other goods"),
        "stolen_vehicle": N_("Stolen vehicle"),
        "trafficking_human_beings": N_("Trafficking in human beings"),
        "other": N_("Other event"),
    },
    "outcome": {"attempted": N_("Attempted"), "actual": N_("Actual")},
    "direction": {"entry": N_("Entry"), "exit": N_("Exit")},
    "detection_method": {"bcp_check": N_("Check at a crossing point"),
                         "border_surveillance": N_("Border surveillance"),
                         "inland": N_("Inland, after the crossing"), "other": N_("Other")},
    "transport_means": {"on_foot": N_("On foot"), "car": N_("Car"), "truck": N_("Truck"),
                        "bus": N_("Bus"), "train": N_("Train"), "boat": N_("Boat"),
                        "aircraft": N_("Aircraft"), "other": N_("Other")},
    "source_reliability": {"A": N_("A: completely reliable"), "B": N_("B: usually reliable"),
                           "C": N_("C: fairly reliable"), "D": N_("D: not usually reliable"),
                           "X": N_("X: cannot be judged")},
    "information_credibility": {"1": N_("1: known to be true"),
                                "2": N_("2: known to the source, not to the officer"),
                                "3": N_("3: not known personally, corroborated"),
                                "4": N_("4: cannot be judged")},
    "status": {"draft": N_("Draft"), "validated": N_("Validated"), "closed": N_("Closed")},
    "provenance": {"reported": N_("Reported (a real record)"),
                   "generalised": N_("Generalised location"),
                   "approximate": N_("Approximate location"),
                   "synthetic": N_("Synthetic (demonstration data)")},
}

# What the risk model's factors are called, and how their values read (the ranking
# panel's explanation; /ui/i18n.json ``factor_labels``). ``unit`` is a template of the
# value ({value}; {days}: the model's reference period in days); the value shown is the
# API's times ``scale``, with ``digits`` decimals. One table, so that a factor's name and
# unit change here only.
RISK_FACTOR_LABELS = {
    "incidents_per_km": {"name": N_("Incidents per km of section"),
                         "unit": N_("{value} incidents/km per {days} days"), "digits": 2},
    "persons_per_km": {"name": N_("Persons per km of section"),
                       "unit": N_("{value} persons/km per {days} days"), "digits": 2},
    "rate_ratio": {"name": N_("Count against the baseline"),
                   "unit": N_("{value} × the baseline mean"), "digits": 2},
    "probability": {"name": N_("Probability of an incident next period"),
                    "unit": N_("{value} %"), "scale": 100, "digits": 0},
    "hotspot": {"name": N_("Touches a hot spot"), "unit": "{value}"},
    "surveillance": {"name": N_("Surveillance level"), "unit": N_("level {value} of 0–5")},
    "terrain": {"name": N_("Terrain"), "unit": "{value}"},
    "crossing_distance": {"name": N_("Distance to the nearest crossing point"),
                          "unit": N_("{value} km"), "scale": 0.001, "digits": 1},
    "inland_share": {"name": N_("Share detected late (inland, after the crossing)"),
                     "unit": N_("{value} %"), "scale": 100, "digits": 0},
    "severity": {"name": N_("Severity of the incidents' categories"),
                 "unit": N_("{value} on a scale of 1–5"), "digits": 1},
    "persons": {"name": N_("Persons involved"),
                "unit": N_("{value} persons per {days} days"), "digits": 1},
    "life_risk": {"name": N_("Incidents with a risk to life"),
                  "unit": N_("{value} per {days} days"), "digits": 1},
}
# Coded factor values (terrain classes of geo/vocabulary.py, the hot-spot flag).
RISK_FACTOR_VALUE_LABELS = {
    "terrain": {"plain": N_("Plain"), "hills": N_("Hills"), "mountain": N_("Mountain"),
                "high_mountain": N_("High mountain"), "river": N_("River"),
                "coast": N_("Coast"), "urban": N_("Urban")},
    "hotspot": {"true": N_("yes"), "false": N_("no")},
}

# What the coded values of regions, border sections and crossing points read as in their
# popups (``i18n.feature_labels``; incidents have ``INCIDENT_VALUE_LABELS``).
FEATURE_VALUE_LABELS = {
    "kind": {"land": N_("Land border"), "river": N_("River border"), "sea": N_("Sea border"),
             "road": N_("Road"), "rail": N_("Railway"), "pedestrian": N_("Pedestrian"),
             "sea_port": N_("Sea port"), "airport": N_("Airport")},
    "terrain_class": RISK_FACTOR_VALUE_LABELS["terrain"],
    "status": {"open": N_("Open"), "restricted": N_("Restricted"), "closed": N_("Closed")},
    "provenance": INCIDENT_VALUE_LABELS["provenance"],
}

# Leaflet's own words (static/js/leaflet-i18n.js), and the formula of the API's model.
LEAFLET_MESSAGES = (
    N_("Zoom in"), N_("Zoom out"), N_("Layers"), N_("Close popup"),
    N_("A JavaScript library for interactive maps"),
    N_("risk = T x V x I"),  # the API's model formula (panel.js)
)
JS_MESSAGES += LEAFLET_MESSAGES

# What the audit page calls the trail's actions and entities (app/audit: ``action`` and
# ``entity`` of each record; an import's entity is its layer). A value not listed here
# is shown as it is stored.
AUDIT_ACTION_LABELS = {
    "create": N_("created"), "update": N_("changed"), "delete": N_("deleted"),
    "import": N_("imported"), "level": N_("level decided"), "lock": N_("locked"),
    "unlock": N_("unlocked"), "password": N_("password changed"), "revoke": N_("revoked"),
    "sign_in": N_("signed in"), "sign_in_failed": N_("sign-in failed"),
    "sign_in_refused": N_("sign-in refused"), "sign_out": N_("signed out"),
}
AUDIT_ENTITY_LABELS = {
    "user": N_("user"), "token": N_("API token"), "session": N_("session"),
    "agency": N_("agency"), "schedule": N_("schedule"), "subscription": N_("subscription"),
    "assessment": N_("risk assessment"), "section": N_("border section"),
    "demo": N_("demonstration data"), "incidents": N_("incidents"),
    "border_segments": N_("border sections"), "crossing_points": N_("crossing points"),
    "regions": N_("regions"),
}

# What an API answer's status means (api.js ``explain``), on pages not in English.
API_STATUS_MESSAGES = (
    N_("The server could not read the request."), N_("Your session has ended: sign in again."),
    N_("You are not allowed to see this."), N_("Not found: it may have been deleted or moved."),
    N_("It was changed meanwhile: reload the page and try again."),
    N_("The file or request is too large."),
    N_("The server could not use the filters or values as given: check them."),
    N_("Too many requests: wait a moment and try again."),
    N_("The server is busy or a query took too long: try again in a moment."),
    N_("The server failed to answer: try again later."), N_("The server cannot be reached."),
)
JS_MESSAGES += API_STATUS_MESSAGES

# The legend of the WMS's aggregated incident cells (legend.js).
JS_MESSAGES += (N_("{n} per cell"), N_("{from}–{to} per cell"), N_("over {n} per cell"))
