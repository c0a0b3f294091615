"""Controlled vocabularies of BorderRisk.

One place for every closed list of codes. The database enforces them with CHECK
constraints built from these tuples (see ``geo.models``), the API validates against
them, and the UI labels them. Codes are stable identifiers: rename a label, never a code.

Incident categories cover the seven Eastern Partnership Risk Analysis Network (EaP-RAN)
monthly indicators and the FRAN-style goods smuggling, stolen vehicle and trafficking
categories (see ``shared/DOMAIN.md``).
"""

INCIDENT_CATEGORIES: dict[str, str] = {
    # EaP-RAN indicators 1-7
    "illegal_crossing_between_bcp": "Illegal border crossing between crossing points",
    "illegal_crossing_at_bcp": "Illegal border crossing at a crossing point",
    "refusal_of_entry": "Refusal of entry",
    "illegal_stay": "Illegal stay",
    "asylum_application": "Asylum application",
    "facilitator": "Facilitator (migrant smuggling)",
    "fraudulent_document": "Fraudulent document",
    # FRAN-style additions
    "smuggling_drugs": "Smuggling of drugs",
    "smuggling_tobacco": "Smuggling of tobacco",
    "smuggling_weapons": "Smuggling of weapons",
    "smuggling_other_goods": "Smuggling of other goods",
    "stolen_vehicle": "Stolen vehicle",
    "trafficking_human_beings": "Trafficking in human beings",
    "other": "Other event",
}

INCIDENT_OUTCOMES = ("attempted", "actual")
DIRECTIONS = ("entry", "exit")
# EUROSUR event reports (2021/581 Annex 2): check at a crossing point, surveillance, other;
# "inland" marks detections after the border was crossed.
DETECTION_METHODS = ("bcp_check", "border_surveillance", "inland", "other")
TRANSPORT_MEANS = ("on_foot", "car", "truck", "bus", "train", "boat", "aircraft", "other")
# 4x4 intelligence grading: source reliability A-D (X = cannot be judged) and
# information credibility 1-4.
SOURCE_RELIABILITY = ("A", "B", "C", "D", "X")
INFORMATION_CREDIBILITY = (1, 2, 3, 4)
INCIDENT_STATUSES = ("draft", "validated", "closed")

SEGMENT_KINDS = ("land", "river", "sea")
TERRAIN_CLASSES = ("plain", "hills", "mountain", "high_mountain", "river", "coast", "urban")
CROSSING_KINDS = ("road", "rail", "pedestrian", "sea_port", "airport")
CROSSING_STATUSES = ("open", "restricted", "closed")

# Neighbour countries of the demo (ISO 3166-1 alpha-2); the database accepts any
# two-letter upper-case code.
DEMO_NEIGHBOURS = ("RU", "AZ", "TR", "AM")

# Where a feature's geometry and attributes come from. Demo data is never "reported":
# the UI and exports show this so synthetic or approximate data cannot pass as real.
PROVENANCES = ("reported", "generalised", "approximate", "synthetic")

ROLES = ("viewer", "analyst", "supervisor", "admin")

# The Border Police: the agency of the data from before agencies were recorded (the
# migration that added them) and of the system's writes that name none (the CLI's
# import without --agency, the demo's defaults).
LEGACY_AGENCY = "GBP"
