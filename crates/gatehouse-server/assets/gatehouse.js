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

// Says `text` in the page's status region (read out by screen readers).
function announce(text, problem = false) {
  const status = document.getElementById("status");
  if (!status) return;
  status.textContent = text;
  status.className = problem ? "notice problem" : "notice";
  status.focus();
}

// A JSON POST to the API, authenticated by the session cookie (the
// browser adds the Origin the server checks). A refusal throws its detail.
async function post(path, body) {
  const init = { method: "POST", credentials: "same-origin", headers: { Accept: "application/json" } };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const answer = await response.json().catch(() => null);
  if (!response.ok) {
    throw new Error(answer?.detail ?? `the server answered ${response.status}`);
  }
  return answer;
}

function reason(error) {
  if (error?.name === "NotAllowedError") {
    return "the passkey did not answer, or the request was cancelled";
  }
  return (error?.message ?? String(error)).replace(/\.+$/, "");
}

const passkeysWork = typeof window.PublicKeyCredential?.parseRequestOptionsFromJSON === "function";

// Adds a passkey: the API's registration ceremony around the browser's.
async function registerPasskey(form) {
  const label = form.elements.label.value.trim();
  announce("Follow your browser to create the passkey.");
  try {
    const started = await post("/api/v1/mfa/webauthn/register/start");
    const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(started.options);
    const credential = await navigator.credentials.create({ publicKey });
    await post("/api/v1/mfa/webauthn/register/finish", {
      ceremony_id: started.ceremony_id,
      label,
      credential: credential.toJSON(),
    });
    window.location.assign("/ui/mfa?done=passkey-added");
  } catch (error) {
    announce(`The passkey was not added: ${reason(error)}.`, true);
  }
}

// Steps up with a passkey, then sends the form that asked for it (its
// session is now fresh, so the form needs no code).
async function verifyWithPasskey(button) {
  const form = button.closest("form");
  button.disabled = true;
  announce("Use your passkey when your browser asks.");
  try {
    const started = await post("/api/v1/mfa/webauthn/verify/start");
    const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(started.options);
    const credential = await navigator.credentials.get({ publicKey });
    await post("/api/v1/mfa/webauthn/verify/finish", {
      ceremony_id: started.ceremony_id,
      credential: credential.toJSON(),
    });
    const code = form.elements.code;
    if (code) {
      code.required = false;
      code.value = "";
    }
    announce("Your passkey is verified.");
    form.submit();
  } catch (error) {
    announce(`Your passkey was not verified: ${reason(error)}. Nothing was done.`, true);
    button.disabled = false;
  }
}

function wirePasskeys() {
  if (!passkeysWork) return;
  for (const button of document.querySelectorAll("button[data-passkey-verify]")) {
    button.hidden = false;
    button.addEventListener("click", () => verifyWithPasskey(button));
  }
  for (const form of document.querySelectorAll("form[data-passkey-register]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      registerPasskey(form);
    });
  }
}

document.addEventListener("DOMContentLoaded", () => {
  showLocalTimes();
  focusStatus();
  wirePasskeys();
});
