"""The schemas of the OpenAPI document (``app.api.openapi``): each layer's feature,
properties and geometry from the catalogue (``geo.layers``), the import report, and the
shared ones (problem, links)."""

from __future__ import annotations

from geo.io.ingest import IngestReport
from geo.layers import LAYERS, Field, Layer
from geo.queries.features import NUMBER_MATCHED_BOUND

_KIND_TYPES = {
    "text": {"type": "string"},
    "choice": {"type": "string"},
    "int": {"type": "integer"},
    "float": {"type": "number"},
    "timestamp": {"type": "string", "format": "date-time"},
    "bool": {"type": "boolean"},
    "releasability": {"oneOf": [{"type": "string", "enum": ["all", "agency"]},
                                {"type": "array", "minItems": 1,
                                 "items": {"type": "string", "pattern": "^[A-Z][A-Z0-9]{1,15}$"}}]},
}
# Depth of nested arrays in GeoJSON ``coordinates`` around a position, and the minimum
# length of each array, outermost first (RFC 7946, 3.1).
_COORDINATE_ARRAYS = {
    "Point": (),
    "LineString": (2,),
    "Polygon": (1, 4),
}


def ref(section: str, name: str) -> dict:
    return {"$ref": f"#/components/{section}/{name}"}


def schema_name(layer: Layer, suffix: str) -> str:
    """``IncidentsFeature`` for incidents and ``Feature``, ``BorderSegmentsFeature``
    for border_segments."""
    return "".join(part.capitalize() for part in layer.name.split("_")) + suffix


# --- schemas ---------------------------------------------------------------------------

def field_schema(field: Field, *, read_only: bool = False) -> dict:
    """JSON Schema of one property: type, vocabulary, range, length, pattern, default.

    An optional property may be null (meaning "not given": the default applies).
    """
    schema = dict(_KIND_TYPES[field.kind])
    if field.choices:
        if isinstance(field.choices[0], int):
            schema["type"] = "integer"
        schema["enum"] = list(field.choices)
    if field.minimum is not None:
        schema["minimum"] = field.minimum
    if field.maximum is not None:
        schema["maximum"] = field.maximum
    if field.kind == "text" and field.required:
        schema["minLength"] = 1
    if field.max_length is not None:
        schema["maxLength"] = field.max_length
    if field.pattern is not None:
        schema["pattern"] = field.pattern
    if field.default is not None:
        schema["default"] = field.default
    if field.description:
        schema["description"] = field.description
    if read_only or not field.required:
        schema["nullable"] = True
        if "enum" in schema:
            schema["enum"].append(None)  # OpenAPI 3.0: nullable does not widen an enum
    if read_only:
        schema["readOnly"] = True
    return schema


def properties_schema(layer: Layer, *, partial: bool = False) -> dict:
    """The ``properties`` of a feature; ``partial`` (PATCH) requires none."""
    properties = {f.name: field_schema(f) for f in layer.fields}
    properties |= {f.name: field_schema(f, read_only=True) for f in layer.derived}
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    required = [f.name for f in layer.fields if f.required]
    if not partial:
        # Read-only members in ``required`` bind responses only (OpenAPI 3.0, readOnly).
        schema["required"] = required + [f.name for f in layer.derived]
        schema["description"] = (f"Writable properties, then the derived ones (read-only). "
                                 f"Natural key: {' + '.join(layer.key)}.")
    else:
        schema["description"] = "Only the properties to change; null resets to the default."
    return schema


def alternative_geometry_type(geometry_type: str) -> str:
    """The single/multi counterpart that writes also accept (``Point`` <-> ``MultiPoint``)."""
    if geometry_type.startswith("Multi"):
        return geometry_type.removeprefix("Multi")
    return "Multi" + geometry_type


def geometry_schema(geometry_type: str) -> dict:
    """A GeoJSON geometry object of one type (coordinates in EPSG:4326 or ``crs``)."""
    single = geometry_type.removeprefix("Multi")
    coordinates = {"type": "array", "items": {"type": "number"}, "minItems": 2, "maxItems": 3}
    for min_items in reversed(_COORDINATE_ARRAYS[single]):
        coordinates = {"type": "array", "items": coordinates, "minItems": min_items}
    if single != geometry_type:
        coordinates = {"type": "array", "items": coordinates, "minItems": 1}
    return {
        "type": "object",
        "required": ["type", "coordinates"],
        "properties": {"type": {"type": "string", "enum": [geometry_type]},
                       "coordinates": coordinates},
    }


def feature_schema(layer: Layer) -> dict:
    accepted = [layer.geometry_type, alternative_geometry_type(layer.geometry_type)]
    return {
        "type": "object",
        "description": f"A feature of {layer.title}. Stored geometries are "
                       f"{layer.geometry_type}; a write may also send a {accepted[1]} "
                       "(with one member when the layer is single-part).",
        "required": ["type", "id", "geometry", "properties"],
        "properties": {
            "type": {"type": "string", "enum": ["Feature"]},
            "id": {"type": "integer", "readOnly": True},
            "geometry": {"oneOf": [ref("schemas", name) for name in accepted]},
            "properties": ref("schemas", schema_name(layer, "Properties")),
        },
    }


def feature_collection_schema(layer: Layer) -> dict:
    return {
        "type": "object",
        "required": ["type", "features", "numberReturned"],
        "properties": {
            "type": {"type": "string", "enum": ["FeatureCollection"]},
            "features": {"type": "array", "items": ref("schemas", schema_name(layer, "Feature"))},
            "numberMatched": {
                "type": "integer", "minimum": 0, "readOnly": True,
                "description": "Features that pass the filters (all pages). A list of "
                "incidents without a time window (datetime) counts at most "
                f"max({NUMBER_MATCHED_BOUND:,}, offset + limit) + 1 of them: when more "
                "match, numberMatched is left out and `next` links the following "
                "page."},
            "numberReturned": {"type": "integer", "minimum": 0, "readOnly": True,
                               "description": "Features in this response."},
            "links": {"type": "array", "readOnly": True, "items": ref("schemas", "Link"),
                      "description": "`next` when more pages follow (lists only)."},
        },
    }


def _json_type(value) -> dict:
    for python_type, json_type in ((bool, "boolean"), (int, "integer"), (float, "number"),
                                   (str, "string"), (list, "array")):
        if isinstance(value, python_type):
            return {"type": json_type}
    raise TypeError(f"no JSON type for {type(value).__name__}")


def import_report_schema() -> dict:
    """What ``IngestReport.as_dict`` returns, member for member."""
    sample = IngestReport(next(iter(LAYERS)), "create").as_dict()
    properties = {name: _json_type(value) for name, value in sample.items()}
    properties["layer"]["enum"] = list(LAYERS)
    properties["errors"]["items"] = ref("schemas", "RowProblem")
    properties["ignored_columns"]["items"] = {"type": "string"}
    properties["seconds"]["minimum"] = 0
    return {
        "type": "object",
        "description": "Counts of what an import or a dry run did (or would do). "
                       "`written` is false for a dry run.",
        "required": list(sample),
        "properties": properties,
    }


def common_schemas() -> dict:
    return {
        "Link": {
            "type": "object",
            "required": ["href", "rel"],
            "properties": {"href": {"type": "string", "format": "uri"},
                           "rel": {"type": "string"}, "type": {"type": "string"}},
        },
        "RowProblem": {
            "type": "object",
            "description": "One problem of one feature or file row. `index` (API "
                           "writes, from 0), `line` (CSV, header = 1) or `feature` "
                           "(other files, from 1) says which; `pointer` is where in "
                           "the request body.",
            "required": ["field", "message"],
            "properties": {
                "index": {"type": "integer"},
                "line": {"type": "integer"},
                "feature": {"type": "integer"},
                "pointer": {"type": "string"},
                "field": {"type": "string"},
                "message": {"type": "string"},
            },
        },
        "ImportReport": import_report_schema(),
        "Problem": {
            "type": "object",
            "description": "RFC 7807 problem details.",
            "required": ["type", "title", "status", "detail"],
            "properties": {
                "type": {"type": "string", "default": "about:blank"},
                "title": {"type": "string"},
                "status": {"type": "integer"},
                "detail": {"type": "string", "description": "What is wrong, naming it."},
                "field": {"type": "string", "description": "The parameter or property."},
                "errors": {"type": "array", "items": ref("schemas", "RowProblem"),
                           "description": "Every problem of a write (up to 1000)."},
                "error_count": {"type": "integer"},
                "report": ref("schemas", "ImportReport"),
            },
        },
        "Health": {
            "type": "object",
            "required": ["status", "database"],
            "properties": {
                "status": {"type": "string", "enum": ["ok", "unavailable"]},
                "database": {"type": "string", "enum": ["ok", "error"]},
                "postgis": {"type": "string"},
                "reason": {"type": "string"},
            },
        },
    }


def component_schemas() -> dict:
    schemas = common_schemas()
    geometry_types = []
    for layer in LAYERS.values():
        for geometry_type in (layer.geometry_type,
                              alternative_geometry_type(layer.geometry_type)):
            if geometry_type not in geometry_types:
                geometry_types.append(geometry_type)
    schemas |= {t: geometry_schema(t) for t in geometry_types}
    for layer in LAYERS.values():
        schemas[schema_name(layer, "Properties")] = properties_schema(layer)
        schemas[schema_name(layer, "PropertiesPatch")] = properties_schema(layer, partial=True)
        schemas[schema_name(layer, "Feature")] = feature_schema(layer)
        schemas[schema_name(layer, "FeatureCollection")] = feature_collection_schema(layer)
    return schemas


