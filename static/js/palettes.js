// Colour-blind-safe palettes (ColorBrewer RdYlBu / RdBu / YlGnBu), the same as the WMS.

export const LEVEL_COLOURS = {
  low: "#4575b4", medium: "#fee090", high: "#f46d43", critical: "#a50026", none: "#999999",
};

// Gi* bins -3..3: 99/95/90 % cold and hot; 0 is not drawn.
export const GI_BIN_COLOURS = {
  3: "#b2182b", 2: "#ef8a62", 1: "#fddbc7", "-1": "#d1e5f0", "-2": "#67a9cf", "-3": "#2166ac",
};

export const LISA_COLOURS = { HH: "#b2182b", HL: "#ef8a62", LH: "#67a9cf", LL: "#2166ac" };

export const DENSITY_COLOURS = ["#ffffcc", "#a1dab4", "#41b6c4", "#2c7fb8", "#253494"];

// Emerging hot-spot categories (Esri's names): hot in reds, cold in blues.
export const EMERGING_COLOURS = {
  "new hot spot": "#fddbc7", "consecutive hot spot": "#f4a582",
  "intensifying hot spot": "#b2182b", "persistent hot spot": "#d6604d",
  "diminishing hot spot": "#fbb4b9", "sporadic hot spot": "#fee0d2",
  "oscillating hot spot": "#ef8a62", "historical hot spot": "#e7d4e8",
  "new cold spot": "#d1e5f0", "consecutive cold spot": "#92c5de",
  "intensifying cold spot": "#2166ac", "persistent cold spot": "#4393c3",
  "diminishing cold spot": "#c6dbef", "sporadic cold spot": "#deebf7",
  "oscillating cold spot": "#67a9cf", "historical cold spot": "#e0e0e0",
};

export const INCIDENT_COLOUR = "#762a83";
