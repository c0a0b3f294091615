// The map as the screen shows it, drawn onto a canvas: every pane of the Leaflet map in
// its stacking order, each image, canvas and SVG path where the browser has put it (its
// on-screen box, so a pan or zoom in progress is drawn as seen) and with the opacity of
// the elements above it. Popups, tooltips and the controls are not part of the map.

const LEFT_OUT_PANES = new Set(["leaflet-popup-pane", "leaflet-tooltip-pane"]);

function opacityOf(element) {
  return Number(getComputedStyle(element).opacity);
}

function hidden(element) {
  const style = getComputedStyle(element);
  return style.display === "none" || style.visibility === "hidden";
}

/** Whether an image can be drawn without tainting the canvas (same origin, loaded). */
function drawableImage(image) {
  if (!image.complete || image.naturalWidth === 0) return false;
  return new URL(image.src, window.location.href).origin === window.location.origin;
}

/** Draws the paths of a Leaflet SVG renderer with their computed styles. */
function drawSvg(ctx, svg, box, origin) {
  const view = svg.viewBox.baseVal;
  if (!view || view.width === 0 || view.height === 0) return;
  const sx = box.width / view.width;
  const sy = box.height / view.height;
  for (const path of svg.querySelectorAll("path")) {
    if (hidden(path)) continue;
    const d = path.getAttribute("d");
    if (!d || d === "M0 0") continue; // Leaflet's empty path
    const style = getComputedStyle(path);
    const shape = new Path2D(d);
    ctx.save();
    ctx.translate(box.left - origin.left, box.top - origin.top);
    ctx.scale(sx, sy);
    ctx.translate(-view.x, -view.y);
    const alpha = ctx.globalAlpha * Number(style.opacity);
    if (style.fill !== "none") {
      ctx.globalAlpha = alpha * Number(style.fillOpacity);
      ctx.fillStyle = style.fill;
      ctx.fill(shape, style.fillRule === "evenodd" ? "evenodd" : "nonzero");
    }
    if (style.stroke !== "none" && parseFloat(style.strokeWidth) > 0) {
      ctx.globalAlpha = alpha * Number(style.strokeOpacity);
      ctx.strokeStyle = style.stroke;
      ctx.lineWidth = parseFloat(style.strokeWidth);
      ctx.lineCap = style.strokeLinecap;
      ctx.lineJoin = style.strokeLinejoin;
      const dashes = style.strokeDasharray === "none" ? []
        : style.strokeDasharray.split(/[ ,]+/).map(parseFloat).filter((v) => !Number.isNaN(v));
      ctx.setLineDash(dashes);
      ctx.stroke(shape);
    }
    ctx.restore();
  }
}

/** Draws `element`'s children, depth first in document order (the order they stack). */
function drawChildren(ctx, element, origin, alpha, leftOut) {
  for (const child of element.children) {
    if (hidden(child)) continue;
    const childAlpha = alpha * opacityOf(child);
    if (childAlpha === 0) continue;
    const box = child.getBoundingClientRect();
    ctx.globalAlpha = childAlpha;
    if (child instanceof HTMLImageElement) {
      if (drawableImage(child)) {
        ctx.drawImage(child, box.left - origin.left, box.top - origin.top, box.width, box.height);
      } else if (child.complete && child.naturalWidth > 0) {
        leftOut.add(new URL(child.src, window.location.href).origin);
      }
    } else if (child instanceof HTMLCanvasElement) {
      if (child.width > 0 && child.height > 0) {
        ctx.drawImage(child, box.left - origin.left, box.top - origin.top, box.width, box.height);
      }
    } else if (child instanceof SVGSVGElement) {
      drawSvg(ctx, child, box, origin);
    } else {
      drawChildren(ctx, child, origin, childAlpha, leftOut);
    }
  }
  ctx.globalAlpha = 1;
}

/**
 * Draws the map's layers as the screen shows them into `ctx`, the map's top left corner
 * at the context's origin (CSS pixels; scale the context for more device pixels).
 *
 * Returns the origins of images left out because another site serves them (an online
 * basemap without CORS would make the canvas unreadable).
 */
export function drawMap(ctx, map) {
  const container = map.getContainer();
  const origin = container.getBoundingClientRect();
  const mapPane = map.getPane("mapPane");
  const panes = [...mapPane.children]
    .filter((pane) => ![...pane.classList].some((name) => LEFT_OUT_PANES.has(name)))
    .map((pane, index) => ({ pane, index, z: Number(getComputedStyle(pane).zIndex) || 0 }))
    .sort((a, b) => a.z - b.z || a.index - b.index);
  const leftOut = new Set();
  ctx.save();
  ctx.beginPath();
  ctx.rect(0, 0, origin.width, origin.height);
  ctx.clip();
  // the map's own background (the page's CSS), seen where no layer covers it
  ctx.fillStyle = getComputedStyle(container).backgroundColor;
  ctx.fillRect(0, 0, origin.width, origin.height);
  for (const { pane } of panes) {
    if (hidden(pane)) continue;
    drawChildren(ctx, pane, origin, opacityOf(mapPane) * opacityOf(pane), leftOut);
  }
  ctx.restore();
  return [...leftOut];
}
