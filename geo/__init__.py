"""BorderRisk's geospatial core: storage, statistics, risk and maps, without Flask.

One concept, one home (``docs/architecture.md``):

- ``geo.io``: files in and out (readers, the checks a file passes before a reader opens
  it, validation, ingest, export, import jobs).
- ``geo.hotspots``: hot-spot statistics (Gi*, Moran's I, emerging hot-spots, kernel
  density, evaluation) on hexagon grids, and the one pipeline that reads incidents and
  caches its results.
- ``geo.risk``: the CIRAM model (``risk.yaml``), risk assessments of border sections and
  the regional bulletin.
- ``geo.maps``: colours, rendering (mapnik), the tile scheme, vector tiles and the OGC
  API Features items.
- ``geo.queries``: every SQL statement, named, values bound (the audit trail's too).
- ``geo.demo``: the synthetic demo data and its approximate geography.
- Top level: the catalogue of layers (``layers``), the region-scope predicate
  (``scope``), incidents as arrays (``incidents``), the unit of work of a write
  (``transactions``), the tables (``models``), vocabularies, the data clock, CRS
  transformations, the renderer's connections (``db``) and the caller-fixable
  ``errors``.

Modules are imported by name (``from geo.hotspots import pipeline``); this package
imports none of them itself, so importing ``geo`` costs nothing (mapnik, for one, is
loaded only where a map is drawn).
"""
