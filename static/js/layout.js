// The workspace's layout on a phone (app.css, max-width 600px): the filters fold away
// behind a button so the map comes first. On wider screens the button is not shown and
// the filters are always there.

const workspace = document.getElementById("workspace");
const toggle = document.getElementById("filters-toggle");

if (workspace && toggle) {
  toggle.addEventListener("click", () => {
    const open = toggle.getAttribute("aria-expanded") !== "true";
    toggle.setAttribute("aria-expanded", String(open));
    workspace.classList.toggle("filters-open", open);
  });
}
