"""Maps (the layers themselves are described in ``geo.layers``): their colours
(``palette``), what a map is asked for (``map_request``), rendering with mapnik for the
WMS and the bulletin (``render``) with its numpy rasters (``overlays``) and hot-spot
layer (``hotspot_layer``), Mapbox vector tiles (``tiles``) and the OGC API Features
collections (``ogc_features``)."""
