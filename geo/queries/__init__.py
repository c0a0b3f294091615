"""Spatial SQL of BorderRisk as named, parameterised functions: every statement on
the database's tables lives in this package (ruff's S608 is on everywhere else).

Each function takes a SQLAlchemy ``Session`` (or ``Connection``) and binds every value;
identifiers come from ``geo.layers`` (the catalogue) and module constants, never from
input. Distances and lengths are in metres, measured in the analysis CRS given as an
EPSG code (``analysis_srid``, e.g. 32638).
"""

from geo.queries.database import (  # noqa: F401
    border_lines_wkb,
    data_stamps,
    data_versions,
    local_settings,
    postgis_version,
    region_id_for_code,
    regions_extent,
    result_versions,
    study_area_regions,
    window_reads,
    without_jit,
)
from geo.queries.feature_info import (  # noqa: F401
    features_at_point,
)
from geo.queries.features import (  # noqa: F401
    NUMBER_MATCHED_BOUND,
    FeaturePage,
    FeatureQuery,
    count_cap,
    delete_feature,
    feature_filter,
    feature_geojson,
    feature_page,
    features_geojson,
    iter_feature_rows,
    layer_extent,
    layer_time_extent,
)
from geo.queries.forecast import (  # noqa: F401
    region_codes,
    region_sections,
    section_incidents,
)
from geo.queries.links import (  # noqa: F401
    INCIDENT_LINK_COLUMNS,
    INCIDENT_LINKS,
    LINK_CELL_M,
    derive_links,
    incident_links,
    link_incidents,
    refresh_segment_lengths,
)
