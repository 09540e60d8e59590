// gatehouse console: what a page gains with JavaScript. Everything here is
// optional; the forms work without it.
"use strict";

// The reader's local time on hover, beside the UTC text.
function showLocalTimes() {
  for (const element of document.querySelectorAll("time[datetime]")) {
    const at = new Date(element.getAttribute("datetime"));
    if (!Number.isNaN(at.getTime())) {
      element.title = at.toLocaleString() + " (your time)";
    }
  }
}

// A result is announced: focus moves to it so it is read first.
function focusStatus() {
  const status = document.getElementById("status");
  if (status && status.textContent.trim() !== "") {
    status.focus();
  }
}

document.addEventListener("DOMContentLoaded", () => {
  showLocalTimes();
  focusStatus();
});
