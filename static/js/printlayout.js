// "Save map as PNG": a print layout of the map as the screen shows it (snapshot.js),
// with a title, the period, the legend of the layers that are on (legend.js's blocks),
// a scale bar, a north arrow and the sources, previewed in a dialog whose title the
// user may change before downloading.

import { formatDate, formatNumber, localName, t } from "./i18n.js";
import { legendBlocks } from "./legend.js";
import { printColour } from "./palettes.js";
import { drawMap } from "./snapshot.js";
import { app } from "./workspace.js";

// The layout in CSS pixels (the PNG has devicePixelRatio times as many).
const MARGIN = 20;
const HEADER = 64; // title and period above the map
const GAP = 16; // between the map and the legend
const LEGEND_WIDTH = 260;
const SCALE_BAR_MAX = 150; // the longest scale bar
const LINE = 16; // a line of small text

function fontFamily() {
  return getComputedStyle(document.body).fontFamily || "sans-serif";
}

const font = (size, weight = "normal") => `${weight} ${size}px ${fontFamily()}`;

/** The longest round distance (1, 2 or 5 times a power of ten, metres) that fits in
 *  `maxPx` pixels at the middle of the map, and its length in pixels. */
export function scaleBarLength(map, maxPx = SCALE_BAR_MAX) {
  const size = map.getSize();
  const y = size.y / 2;
  const metresPerPx = map.distance(map.containerPointToLatLng([0, y]),
                                   map.containerPointToLatLng([maxPx, y])) / maxPx;
  const most = metresPerPx * maxPx;
  const power = 10 ** Math.floor(Math.log10(most));
  const metres = [5, 2, 1].map((k) => k * power).find((m) => m <= most);
  return { metres, px: metres / metresPerPx };
}

/** A distance as a person reads it: "2 km", "500 m". */
export function distanceText(metres) {
  return metres >= 1000 ? t("{n} km", { n: formatNumber(metres / 1000, 1) })
    : t("{n} m", { n: formatNumber(metres) });
}

/** `text` broken into lines no wider than `width` at the context's font. */
function wrap(ctx, text, width) {
  const lines = [];
  let line = "";
  for (const word of String(text).split(/\s+/)) {
    const candidate = line ? `${line} ${word}` : word;
    if (line && ctx.measureText(candidate).width > width) {
      lines.push(line);
      line = word;
    } else {
      line = candidate;
    }
  }
  if (line) lines.push(line);
  return lines;
}

function loadImage(url) {
  return new Promise((resolve) => {
    const image = new Image();
    image.onload = () => resolve(image);
    image.onerror = () => resolve(null);
    image.src = url;
  });
}

/** A legend entry's symbol in the box (x, y, 18 x 12). */
function drawSymbol(ctx, entry, x, y) {
  ctx.save();
  ctx.fillStyle = entry.colour;
  ctx.strokeStyle = entry.colour;
  if (entry.shape === "line") {
    ctx.fillRect(x, y + 4, 18, 4);
  } else if (entry.shape === "dash") {
    ctx.lineWidth = 3;
    ctx.setLineDash([3, 3]);
    ctx.beginPath();
    ctx.moveTo(x, y + 6);
    ctx.lineTo(x + 18, y + 6);
    ctx.stroke();
  } else if (entry.shape === "dot" || entry.shape === "ring") {
    ctx.beginPath();
    ctx.arc(x + 9, y + 6, 5, 0, 2 * Math.PI);
    if (entry.shape === "dot") ctx.fill();
    ctx.lineWidth = entry.shape === "ring" ? 2 : 1;
    if (entry.shape === "dot") ctx.strokeStyle = printColour("muted");
    ctx.stroke();
  } else {
    ctx.fillRect(x, y, 18, 12);
    ctx.strokeStyle = printColour("muted");
    ctx.lineWidth = 1;
    ctx.strokeRect(x + 0.5, y + 0.5, 17, 11);
  }
  ctx.restore();
}

/**
 * Lays out (and with `draw`, draws) the legend at (x, y), `width` wide; returns its
 * height and the boxes of its swatches ({ colour, x, y, w, h }).
 */
function legend(ctx, blocks, images, x, y, width, draw) {
  let cursor = y;
  const swatches = [];
  ctx.fillStyle = printColour("ink");
  ctx.textBaseline = "top";
  ctx.font = font(15, "bold");
  if (draw) ctx.fillText(t("Legend"), x, cursor);
  cursor += 22;
  for (const block of blocks) {
    if (block.entries.length === 0) continue;
    ctx.font = font(13, "bold");
    ctx.fillStyle = printColour("ink");
    for (const line of wrap(ctx, block.title, width)) {
      if (draw) ctx.fillText(line, x, cursor);
      cursor += LINE;
    }
    if (block.period) {
      ctx.font = font(11);
      ctx.fillStyle = printColour("muted");
      if (draw) ctx.fillText(block.period, x, cursor);
      cursor += LINE - 2;
    }
    ctx.font = font(12);
    for (const entry of block.entries) {
      const image = entry.image ? images.get(entry.image) : null;
      if (entry.image) {
        if (!image) continue;
        const scale = Math.min(1, width / image.naturalWidth);
        if (draw) {
          ctx.drawImage(image, x, cursor, image.naturalWidth * scale,
                        image.naturalHeight * scale);
        }
        cursor += image.naturalHeight * scale + 2;
        continue;
      }
      if (!entry.colour) { // a line of text
        const lines = wrap(ctx, entry.label, width);
        if (draw) {
          ctx.fillStyle = printColour("ink");
          lines.forEach((line, i) => ctx.fillText(line, x, cursor + i * LINE));
        }
        cursor += lines.length * LINE;
        continue;
      }
      const lines = wrap(ctx, entry.label, width - 26);
      if (draw) {
        drawSymbol(ctx, entry, x, cursor + 1);
        swatches.push({ colour: entry.colour, shape: entry.shape, x, y: cursor + 1, w: 18,
                        h: 12 });
        ctx.fillStyle = printColour("ink");
        lines.forEach((line, i) => ctx.fillText(line, x + 26, cursor + i * LINE));
      }
      cursor += lines.length * LINE;
    }
    cursor += 6;
  }
  return { height: cursor - y, swatches };
}

/** A scale bar of four black and white parts at (x, y) on a white box; returns its box. */
function drawScaleBar(ctx, x, y) {
  const { metres, px } = scaleBarLength(app.map);
  const label = distanceText(metres);
  ctx.font = font(12);
  const box = { x, y, w: Math.max(px, ctx.measureText(label).width) + 16, h: 34 };
  ctx.fillStyle = printColour("paper");
  ctx.globalAlpha = 0.85;
  ctx.fillRect(box.x, box.y, box.w, box.h);
  ctx.globalAlpha = 1;
  const parts = 4;
  for (let i = 0; i < parts; i += 1) {
    ctx.fillStyle = i % 2 === 0 ? printColour("ink") : printColour("paper");
    ctx.fillRect(x + 8 + (i * px) / parts, y + 6, px / parts, 6);
  }
  ctx.strokeStyle = printColour("ink");
  ctx.lineWidth = 1;
  ctx.strokeRect(x + 8.5, y + 6.5, px - 1, 5);
  ctx.fillStyle = printColour("ink");
  ctx.textBaseline = "top";
  ctx.fillText(label, x + 8, y + 16);
  return { ...box, metres, px };
}

/** A north arrow (north is up in Web Mercator) in a white box at (x, y); its box. */
function drawNorthArrow(ctx, x, y) {
  const box = { x, y, w: 32, h: 48 };
  ctx.fillStyle = printColour("paper");
  ctx.globalAlpha = 0.85;
  ctx.fillRect(x, y, box.w, box.h);
  ctx.globalAlpha = 1;
  const cx = x + box.w / 2;
  ctx.fillStyle = printColour("ink");
  ctx.beginPath();
  ctx.moveTo(cx, y + 4);
  ctx.lineTo(cx + 9, y + 30);
  ctx.lineTo(cx, y + 24);
  ctx.lineTo(cx - 9, y + 30);
  ctx.closePath();
  ctx.fill();
  ctx.font = font(12, "bold");
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  ctx.fillText(t("N"), cx, y + 32);
  ctx.textAlign = "start";
  return box;
}

/** The layout's default title: the map of the region (or all the user's regions). */
export function defaultTitle() {
  const layer = app.state.region ? app.regionsByCode.get(app.state.region) : null;
  const area = layer ? localName(layer.feature.properties) : t("All regions");
  return t("Border risk map: {area}", { area });
}

export function periodText() {
  return t("Period: {from} – {to}", { from: formatDate(app.state.from),
                                       to: formatDate(app.state.to) });
}

/** The lines under the map: when and from what it was made, what it leaves out. */
function sourceLines(leftOut) {
  const lines = [t("Made with BorderRisk on {date}.", { date: formatDate(new Date(), true) }),
                 t("Border: Natural Earth (public domain)")];
  const notice = document.getElementById("data-notice");
  if (notice && !notice.hidden) lines.push(notice.textContent);
  if (leftOut.length) {
    lines.push(t("Not included: the online basemap ({origins}), whose server does not " +
                 "allow it.", { origins: leftOut.join(", ") }));
  }
  return lines;
}

/**
 * Draws the print layout; returns the canvas and where each part is (CSS pixels of the
 * layout; the canvas is `scale` times larger): title, period, map, legend (with its
 * swatches), scaleBar and northArrow.
 */
export async function composeLayout(title) {
  const scale = window.devicePixelRatio || 1;
  // the map's box on the screen (Leaflet's size is whole pixels of a fractional box)
  const rect = app.map.getContainer().getBoundingClientRect();
  const size = { x: Math.round(rect.width), y: Math.round(rect.height) };
  const blocks = legendBlocks();
  const images = new Map();
  for (const block of blocks) {
    for (const entry of block.entries) {
      if (entry.image) images.set(entry.image, await loadImage(entry.image));
    }
  }
  const canvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  const map = { x: MARGIN, y: MARGIN + HEADER, w: size.x, h: size.y };
  const legendBox = { x: map.x + map.w + GAP, y: map.y, w: LEGEND_WIDTH, h: 0 };
  legendBox.h = legend(ctx, blocks, images, legendBox.x, legendBox.y, legendBox.w, false).height;
  ctx.font = font(12);
  const period = periodText();
  const width = legendBox.x + legendBox.w + MARGIN;
  const probe = sourceLines([]).flatMap((line) => wrap(ctx, line, width - 2 * MARGIN));
  const footerTop = Math.max(map.y + map.h, legendBox.y + legendBox.h) + 12;
  const height = footerTop + (probe.length + 1) * LINE + MARGIN;
  canvas.width = Math.round(width * scale);
  canvas.height = Math.round(height * scale);
  ctx.scale(scale, scale);
  ctx.fillStyle = printColour("paper");
  ctx.fillRect(0, 0, width, height);

  // The map as the screen shows it, in a frame.
  ctx.save();
  ctx.translate(map.x, map.y);
  const leftOut = drawMap(ctx, app.map);
  ctx.restore();
  ctx.strokeStyle = printColour("frame");
  ctx.lineWidth = 1;
  ctx.strokeRect(map.x - 0.5, map.y - 0.5, map.w + 1, map.h + 1);

  ctx.textBaseline = "top";
  ctx.fillStyle = printColour("ink");
  ctx.font = font(22, "bold");
  ctx.fillText(title, MARGIN, MARGIN, width - 2 * MARGIN);
  const titleBox = { x: MARGIN, y: MARGIN, w: Math.min(ctx.measureText(title).width,
                                                       width - 2 * MARGIN), h: 26 };
  ctx.font = font(15);
  ctx.fillStyle = printColour("muted");
  ctx.fillText(period, MARGIN, MARGIN + 32);
  const periodBox = { x: MARGIN, y: MARGIN + 32, w: ctx.measureText(period).width, h: 18 };

  const scaleBar = drawScaleBar(ctx, map.x + 10, map.y + map.h - 44);
  const northArrow = drawNorthArrow(ctx, map.x + map.w - 42, map.y + 10);
  const { swatches } = legend(ctx, blocks, images, legendBox.x, legendBox.y, legendBox.w, true);

  ctx.font = font(12);
  ctx.fillStyle = printColour("muted");
  let y = footerTop;
  for (const line of sourceLines(leftOut).flatMap((l) => wrap(ctx, l, width - 2 * MARGIN))) {
    ctx.fillText(line, MARGIN, y);
    y += LINE;
  }
  return { canvas, layout: { scale, title, period, map, legend: { ...legendBox, swatches },
                             titleBox, periodBox, scaleBar, northArrow, leftOut } };
}

function fileName() {
  const s = app.state;
  return `borderrisk-map-${s.region || "all"}-${s.from.replaceAll("-", "")}-` +
    `${s.to.replaceAll("-", "")}.png`;
}

/** The "Save map as PNG" button: opens the layout's preview, the title editable. */
export function setUpPrintLayout() {
  const button = document.getElementById("png-link");
  const dialog = document.getElementById("print-dialog");
  if (!button || !dialog) return;
  const titleInput = document.getElementById("print-title");
  const preview = document.getElementById("print-preview");
  const download = document.getElementById("print-download");
  let sequence = 0;
  const compose = async () => {
    const mine = ++sequence;
    dialog.dataset.ready = "false";
    const { canvas, layout } = await composeLayout(titleInput.value.trim() || defaultTitle());
    if (mine !== sequence) return;
    const url = canvas.toDataURL("image/png");
    preview.src = url;
    preview.dataset.layout = JSON.stringify(layout);
    download.href = url;
    download.download = fileName();
    dialog.dataset.ready = "true";
  };
  let timer = null;
  titleInput.addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(compose, 300);
  });
  button.addEventListener("click", () => {
    titleInput.value = defaultTitle();
    document.getElementById("print-period").textContent = periodText();
    app.map.closePopup();
    dialog.showModal();
    compose();
  });
  for (const close of dialog.querySelectorAll(".dialog-cancel")) {
    close.addEventListener("click", () => dialog.close());
  }
}
