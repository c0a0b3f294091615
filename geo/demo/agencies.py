"""Which agency of the ministry reported each synthetic demo incident, which regional
unit reported it, and to whom its originator released it (issue 16).

The four agencies the migration seeds share the demo about as they would share real
work: the Border Police (``GBP``) about 55 %, at the border (border surveillance and
crossing-point checks); the Patrol Police Department (``PPD``) about 25 %, detected
inland (roads and checkpoints away from the line: smuggling, stolen vehicles, irregular
movements that continue inland); the Migration Department (``MD``) about 15 %, mostly
overstays, asylum applications, fraudulent documents and refusals of entry; the
Information-Analytical Department (``IAD``) about 5 %, a little of everything, from
analysis (detection ``"other"``). The agency is drawn per incident from what the
incident is (category) and how it was found (detection method), with weights calibrated
so that the shares come out as above (:func:`agency_probabilities`).

The reporting unit is the region the incident lies in, except for a few (3 %) reported
by a unit of a neighbouring region. About 1.5 % are not released to all: to the
originating agency only (``"agency"``) or to one or two named agencies, a third of them
not counted in aggregates either (``aggregate`` false). Migration and analytical records
(personal data, sources) are restricted more often than the Border Police's.

Everything is synthetic; the draws use their own random stream (from the demo's seed),
so the other columns of the demo are those drawn before agencies existed, except the
detection method of the Patrol Police's and the Analytical Department's records.
"""

from __future__ import annotations

import numpy as np
import shapely

from geo.demo.geography import DemoRegion

AGENCIES = ("GBP", "PPD", "MD", "IAD")
AGENCY_SHARES = (0.55, 0.25, 0.15, 0.05)

# Relative weight of each agency (order of AGENCIES) for an incident of a category, and
# a factor by its detection method; products, calibrated to AGENCY_SHARES.
CATEGORY_AFFINITY = {
    "illegal_crossing_between_bcp": (8.0, 1.0, 0.2, 0.3),
    "illegal_crossing_at_bcp": (8.0, 0.2, 1.0, 0.3),
    "refusal_of_entry": (1.5, 0.0, 8.0, 0.2),
    "illegal_stay": (0.3, 1.5, 10.0, 0.3),
    "asylum_application": (0.3, 0.0, 10.0, 0.2),
    "facilitator": (4.0, 3.0, 1.0, 2.0),
    "fraudulent_document": (1.5, 0.5, 8.0, 0.5),
    "smuggling_drugs": (4.0, 4.0, 0.0, 2.0),
    "smuggling_tobacco": (5.0, 3.0, 0.0, 0.5),
    "smuggling_weapons": (4.0, 3.0, 0.0, 2.0),
    "smuggling_other_goods": (5.0, 3.0, 0.0, 0.5),
    "stolen_vehicle": (3.0, 5.0, 0.0, 0.5),
    "trafficking_human_beings": (3.0, 2.0, 2.0, 3.0),
    "other": (3.0, 3.0, 0.5, 1.5),
}
DETECTION_AFFINITY = {
    "border_surveillance": (2.0, 0.6, 0.2, 1.0),
    "bcp_check": (1.5, 0.05, 1.5, 1.0),
    "inland": (0.3, 4.0, 2.0, 1.0),
    "other": (1.0, 1.0, 1.0, 2.0),
}
# How an agency's incidents were found: the Patrol Police's inland (roads, checkpoints),
# the Analytical Department's by analysis; the others' as drawn.
PPD_INLAND_SHARE = 0.9
IAD_OTHER_SHARE = 0.8

OTHER_UNIT_SHARE = 0.03
# Share of an agency's incidents not released to all; of those, the share released to
# named agencies (else to the agency only), and the share not counted in aggregates.
RESTRICTED_SHARE = {"GBP": 0.01, "PPD": 0.015, "MD": 0.03, "IAD": 0.04}
NAMED_SHARE = 0.45
NOT_COUNTED_SHARE = 1 / 3

# The agency stream's offset from the demo's seed (np.random.SeedSequence entropy).
AGENCY_STREAM = 16


def agency_probabilities(category: np.ndarray, detection: np.ndarray,
                         shares=AGENCY_SHARES, iterations: int = 200) -> np.ndarray:
    """Probability of each agency (columns in ``AGENCIES`` order) reporting each incident.

    Each row is proportional to ``CATEGORY_AFFINITY[category] *
    DETECTION_AFFINITY[detection]`` times a per-agency factor, the factors fitted by
    iterative proportional fitting so that the mean of each column is that agency's
    share of ``shares``.

    Parameters
    ----------
    category, detection : numpy.ndarray
        Object arrays of category and detection method codes, one per incident.
    shares : sequence of float
        Target share per agency, summing to 1.

    Returns
    -------
    numpy.ndarray
        ``(n, 4)`` array of probabilities; rows sum to 1.
    """
    affinity = (np.array([CATEGORY_AFFINITY[c] for c in CATEGORY_AFFINITY])[:, None, :]
                * np.array([DETECTION_AFFINITY[d] for d in DETECTION_AFFINITY])[None, :, :])
    category_index = _index_of(category, CATEGORY_AFFINITY)
    detection_index = _index_of(detection, DETECTION_AFFINITY)
    # Fitted on the (category, detection) combinations weighted by their counts.
    combination = category_index * len(DETECTION_AFFINITY) + detection_index
    counts = np.bincount(combination, minlength=affinity.shape[0] * affinity.shape[1])
    weights = affinity.reshape(-1, len(AGENCIES))
    scale = np.ones(len(AGENCIES))
    target = np.asarray(shares, dtype=float)
    for _ in range(iterations):
        probabilities = _normalised(weights * scale)
        scale *= target / (counts @ probabilities / counts.sum())
    return _normalised(weights * scale)[combination]


def _normalised(weights: np.ndarray) -> np.ndarray:
    return weights / weights.sum(axis=1, keepdims=True)


def _index_of(values: np.ndarray, vocabulary) -> np.ndarray:
    """Position of each value in ``vocabulary`` (KeyError on a value not in it)."""
    position = {code: i for i, code in enumerate(vocabulary)}
    return np.fromiter((position[v] for v in values), dtype=np.int64, count=len(values))


def region_codes(lon: np.ndarray, lat: np.ndarray, regions: list[DemoRegion]) -> np.ndarray:
    """Code of the region each point (degrees, EPSG:4326) lies in; a point on no region
    (a boundary's rounding) gets the nearest one's."""
    codes = np.full(len(lon), None, dtype=object)
    for region in regions:
        shapely.prepare(region.geom)
        inside = (codes == None) & shapely.contains_xy(region.geom, lon, lat)  # noqa: E711
        codes[inside] = region.code
    missing = np.flatnonzero(codes == None)  # noqa: E711
    if len(missing):
        tree = shapely.STRtree([region.geom for region in regions])
        nearest = tree.query_nearest(shapely.points(lon[missing], lat[missing]),
                                     all_matches=False)[1]
        codes[missing] = np.array([r.code for r in regions], dtype=object)[nearest]
    return codes


def neighbouring_regions(regions: list[DemoRegion]) -> dict[str, list[str]]:
    """Codes of the regions sharing a boundary with each region (within 1e-6 degrees,
    about 0.1 m: the regions tile Georgia's outline)."""
    return {a.code: [b.code for b in regions
                     if b.code != a.code and shapely.dwithin(a.geom, b.geom, 1e-6)]
            for a in regions}


def agency_columns(seed: int, category: np.ndarray, detection: np.ndarray,
                   lon: np.ndarray, lat: np.ndarray, regions: list[DemoRegion]) -> dict:
    """The agency columns of synthetic incidents, drawn deterministically for ``seed``.

    Parameters
    ----------
    seed : int
        The demo's seed; the draws use a stream of their own (``AGENCY_STREAM``).
    category, detection : numpy.ndarray
        Category and detection method codes (object arrays), one per incident.
    lon, lat : numpy.ndarray
        Positions in degrees (EPSG:4326).
    regions : list of DemoRegion
        The demo's regions (their codes are the reporting units).

    Returns
    -------
    dict
        Object arrays ``agency``, ``detection_method`` (``detection`` with the Patrol
        Police's mostly ``"inland"`` and the Analytical Department's mostly
        ``"other"``), ``reporting_unit`` and ``releasability`` (``"all"``, ``"agency"``
        or a sorted list of other agencies' codes, as ``geo.releasability``), and the
        boolean array ``aggregate``.
    """
    rng = np.random.default_rng([seed, AGENCY_STREAM])
    n = len(category)
    cumulative = np.cumsum(agency_probabilities(category, detection), axis=1)
    drawn = (rng.random(n)[:, None] > cumulative[:, :-1]).sum(axis=1)
    agency = np.array(AGENCIES, dtype=object)[drawn]

    detection = detection.copy()
    ppd, iad = agency == "PPD", agency == "IAD"
    detection[ppd] = np.where(rng.random(int(ppd.sum())) < PPD_INLAND_SHARE, "inland", "other")
    detection[iad & (rng.random(n) < IAD_OTHER_SHARE)] = "other"

    releasability, aggregate = _releases(rng, agency)
    return {
        "agency": agency,
        "detection_method": detection,
        "reporting_unit": _reporting_units(rng, lon, lat, regions),
        "releasability": releasability,
        "aggregate": aggregate,
    }


def _reporting_units(rng, lon, lat, regions) -> np.ndarray:
    """The region each incident lies in; for ``OTHER_UNIT_SHARE`` of them a neighbour."""
    lying_in = region_codes(lon, lat, regions)
    units = lying_in.copy()
    other = rng.random(len(units)) < OTHER_UNIT_SHARE
    for code, candidates in neighbouring_regions(regions).items():
        rows = np.flatnonzero(other & (lying_in == code))
        if candidates and len(rows):
            units[rows] = np.array(candidates, dtype=object)[
                rng.integers(0, len(candidates), len(rows))]
    return units


def _releases(rng, agency: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Releasability and aggregate flag per incident (see the module's docstring)."""
    n = len(agency)
    restricted_share = np.array([RESTRICTED_SHARE[a] for a in AGENCIES])
    restricted = rng.random(n) < restricted_share[_index_of(agency, AGENCIES)]
    named = restricted & (rng.random(n) < NAMED_SHARE)
    releasability = np.full(n, "all", dtype=object)
    releasability[restricted] = "agency"
    for row in np.flatnonzero(named):
        others = [a for a in AGENCIES if a != agency[row]]
        chosen = rng.choice(len(others), size=int(rng.integers(1, 3)), replace=False)
        releasability[row] = sorted(others[i] for i in chosen)
    aggregate = ~(restricted & (rng.random(n) < NOT_COUNTED_SHARE))
    return releasability, aggregate
