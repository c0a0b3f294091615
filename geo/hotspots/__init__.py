"""Hot-spots of incidents: hexagon grids (``hexgrid``), distance-band neighbourhoods
(``gridweights``), Gi* and Moran's I (``spatial_stats``), emerging hot-spots
(``emerging``), kernel density (``density``), predictive accuracy (``evaluation``), and
the one pipeline from the database to GeoJSON: its inputs (``inputs``: study area,
selection, incidents, grid), the analyses (``pipeline``), their output (``output``) and
cache (``cache``)."""
