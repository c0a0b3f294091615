"""Maps: the catalogue of map layers and styles (``catalogue``), rendering with mapnik
for the WMS and the bulletin (``render``), Mapbox vector tiles (``tiles``) and the OGC
API Features collections (``ogc_features``)."""
