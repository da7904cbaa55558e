// Keyboard shortcuts and "select all" for the review grid; charts that redraw themselves; a
// camera's live view that says when it cannot be reached. Everything here has a plain-HTML
// equivalent (checkboxes and submit buttons, reloading the page), so the pages work without it.
"use strict";
document.documentElement.classList.add("js");

document.addEventListener("DOMContentLoaded", () => {
  // An image with data-refresh="SECONDS" is fetched again that often (a new query, as the
  // console's answers are never cached); a tab out of sight asks for nothing.
  document.querySelectorAll("img[data-refresh]").forEach((image) => {
    const source = image.getAttribute("src");
    const seconds = Number(image.dataset.refresh);
    setInterval(() => {
      if (document.visibilityState === "visible") image.src = `${source}?at=${Date.now()}`;
    }, seconds * 1000);
  });
  const live = document.getElementById("live");
  const failed = document.getElementById("live-error");
  if (live && failed) live.addEventListener("error", () => { failed.hidden = false; });
});

document.addEventListener("DOMContentLoaded", () => {
  const form = document.getElementById("review");
  if (!form) return;
  const cards = Array.from(form.querySelectorAll(".card"));
  const boxes = cards.map((card) => card.querySelector("input[type=checkbox]"));
  const selectAll = document.getElementById("select-all");

  const mark = () => cards.forEach((card, i) => card.classList.toggle("picked", boxes[i].checked));
  boxes.forEach((box) => box.addEventListener("change", mark));
  mark();
  if (selectAll) {
    selectAll.addEventListener("change", () => {
      boxes.forEach((box) => { box.checked = selectAll.checked; });
      mark();
    });
  }

  const focused = () => cards.indexOf(document.activeElement.closest(".card"));
  const move = (step) => {
    const next = Math.min(cards.length - 1, Math.max(0, focused() + step));
    cards[next].focus();
  };
  // Decide the selected crops; with none selected, the one in focus.
  const decide = (action) => {
    if (boxes.some((box) => box.checked)) {
      const bulk = form.querySelector(`.bulk button[value="${action}"]`);
      if (bulk) bulk.click();
      return;
    }
    const card = cards[focused()];
    const one = card && card.querySelector(`button[value^="${action}:"]`);
    if (one) one.click();
  };

  document.addEventListener("keydown", (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.target.matches("select, input[type=text], input:not([type]), textarea")) return;
    const key = event.key;
    // Space ticks the card in focus; on a button, tick box or link it keeps its own meaning.
    if (key === " " && !event.target.classList.contains("card")) return;
    if (key.startsWith("Arrow") && focused() < 0) return; // leave scrolling alone off the grid
    if (key === "j" || key === "ArrowRight" || key === "ArrowDown") move(1);
    else if (key === "k" || key === "ArrowLeft" || key === "ArrowUp") move(-1);
    else if (key === "x" || key === " ") {
      const i = focused();
      if (i < 0) return;
      boxes[i].checked = !boxes[i].checked;
      mark();
    } else if (key === "a") decide("accept");
    else if (key === "r") decide("reject");
    else if (key === "p") decide("pending");
    else return;
    event.preventDefault();
  });
});
