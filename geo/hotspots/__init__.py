"""Hot-spots of incidents: hexagon grids (``hexgrid``), distance-band neighbourhoods
(``gridweights``), Gi* and Moran's I (``spatial_stats``), Local Moran's I by
permutation (``permutation``), k-nearest-neighbour and inverse-distance weights
(``neighbourhoods``), border length and rates per cell (``rates``), emerging hot-spots
(``emerging``), kernel density (``density``), predictive accuracy (``evaluation``), and
the one pipeline from the database to GeoJSON: its inputs (``inputs``: study area,
selection, incidents, grid), the analyses (``pipeline``), their output (``output``) and
cache (``cache``); and emerging hot-spots whose locations are border sections, not cells
(``sections``)."""
