"""What the tests and the benchmarks share: throwaway PostGIS databases (``databases``),
an app on one with the sample layers and a live server (``apps``), the browser
(``browser``). The benchmarks import this package, never ``tests``."""
