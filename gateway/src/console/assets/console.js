// The sosdesk console's script: session lists kept live over server-sent events, the
// session panel and its actions, the new-session dialog, and the admin forms.
//
// Rules: every text from the gateway goes into the page with textContent (never as HTML);
// which actions are allowed, and why not, comes from the API (`actions` of a session);
// every request that changes something carries this login's CSRF value.
"use strict";

/** The CSRF value of this login, from its cookie (the page's script may read it). */
function csrfValue() {
  for (const pair of document.cookie.split(";")) {
    const [name, value] = pair.trim().split("=");
    if (name === "sosdesk_csrf") return value;
  }
  return "";
}

/** Calls the JSON API; resolves to the answer's JSON (null when empty), or throws an
 *  Error whose message is the gateway's reason. */
async function api(method, path, body) {
  const headers = { "X-CSRF-Token": csrfValue() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    credentials: "same-origin",
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  if (response.status === 401) {
    location.assign("/console/login");
    throw new Error("signed out — log in again");
  }
  const text = await response.text();
  const json = text ? JSON.parse(text) : null;
  if (!response.ok) throw new Error((json && json.error) || `the gateway answered ${response.status}`);
  return json;
}

/** A new element with text content and attributes. */
function el(tag, text, attributes) {
  const node = document.createElement(tag);
  if (text !== undefined && text !== null) node.textContent = text;
  for (const [key, value] of Object.entries(attributes || {})) node.setAttribute(key, value);
  return node;
}

const STATUS = {
  pending: "Pending",
  active: "Active",
  in_queue: "In queue",
  expired: "Expired",
  closed: "Closed",
};

const ACTIONS = {
  request: "Request permission",
  start: "Start remote session",
  assign: "Assign or transfer to a technician",
  transfer_channel: "Transfer to a channel",
  invite: "Invite a technician",
  copy_link: "Copy link",
  show_pin: "Show PIN",
  release: "Release to the queue",
  close: "Close session",
  delete: "Delete session",
};

function when(seconds) {
  return seconds ? new Date(seconds * 1000).toLocaleString() : "—";
}

function permission(remote) {
  switch (remote.state) {
    case "requested": return "requested, waiting for the end user";
    case "granted": return remote.control ? "granted: view and control" : "granted: view only";
    case "denied": return "denied by the end user";
    default: return "not requested";
  }
}

/** Copies the value of the input `id`; says how it went in `status`. */
async function copyField(id, status) {
  const field = document.getElementById(id);
  field.select();
  try {
    await navigator.clipboard.writeText(field.value);
    status.textContent = "Copied.";
  } catch (_) {
    status.textContent = "Selected: press Ctrl+C to copy.";
  }
}

// ---- Session list ---------------------------------------------------------------------

const list = {
  table: null,
  sessions: new Map(),
  open: null, // id of the session shown in the panel
  reloading: false,
  again: false,
};

function listPath() {
  const channel = list.table.dataset.channel;
  return channel
    ? `/api/v1/sessions?channel=${encodeURIComponent(channel)}`
    : "/api/v1/sessions?scope=home";
}

async function reload() {
  if (list.reloading) {
    list.again = true;
    return;
  }
  list.reloading = true;
  const error = document.getElementById("list-error");
  try {
    const sessions = await api("GET", listPath());
    list.sessions = new Map(sessions.map((s) => [s.id, s]));
    render(sessions);
    error.hidden = true;
    if (list.open) await refreshPanel();
  } catch (e) {
    error.textContent = `Could not load the sessions: ${e.message}`;
    error.hidden = false;
  } finally {
    list.reloading = false;
    if (list.again) {
      list.again = false;
      reload();
    }
  }
}

function render(sessions) {
  const body = list.table.tBodies[0];
  const rows = sessions.map((s) => {
    const row = el("tr", null, { "data-id": s.id });
    const badge = el("span", STATUS[s.status] || s.status, { class: `badge ${s.status}` });
    const status = el("td");
    status.append(badge);
    if (s.reconnecting) status.append(el("span", " reconnecting…", { class: "muted" }));
    row.append(
      status,
      el("td", s.machine_name || "not connected yet"),
      el("td", s.assignee || "— (in queue)"),
      el("td", s.invited.join(", ") || "—"),
      el("td", s.channel),
      el("td", when(s.created_at)),
      el("td", s.expires_at ? when(s.expires_at) : "—"),
    );
    const open = el("button", "Open", { type: "button", class: "open", "aria-label": `Open session ${s.machine_name || s.id}` });
    open.addEventListener("click", () => openPanel(s.id));
    const cell = el("td");
    cell.append(open);
    row.append(cell);
    return row;
  });
  body.replaceChildren(...rows);
  document.getElementById("empty").hidden = sessions.length > 0;
}

// ---- Session panel --------------------------------------------------------------------

async function openPanel(id) {
  list.open = id;
  const dialog = document.getElementById("session-dialog");
  document.getElementById("session-output").textContent = "";
  document.getElementById("session-error").textContent = "";
  document.getElementById("session-actions").dataset.key = "";
  await refreshPanel();
  if (!dialog.open) dialog.showModal();
}

async function refreshPanel() {
  const id = list.open;
  let s = list.sessions.get(id);
  try {
    s = await api("GET", `/api/v1/sessions/${encodeURIComponent(id)}`);
  } catch (e) {
    document.getElementById("session-error").textContent = e.message;
    if (!s) return;
  }
  fillPanel(s);
}

function fillPanel(s) {
  document.getElementById("session-title").textContent =
    `Session ${s.machine_name ? `with ${s.machine_name}` : s.id}`;
  const facts = document.getElementById("session-facts");
  const pairs = [
    ["Status", (STATUS[s.status] || s.status) + (s.reconnecting ? " — the end user's app lost its connection; waiting for it to come back" : ""), "session-status"],
    ["Permission", permission(s.remote), "session-permission"],
    ["End user's machine", s.machine_name || "not connected yet"],
    ["Assignee", s.assignee || "— (in queue)"],
    ["Invited", s.invited.join(", ") || "—"],
    ["Channel", s.channel],
    ["Created", when(s.created_at)],
    ["Expires", s.expires_at ? when(s.expires_at) : "—"],
  ];
  facts.replaceChildren(...pairs.flatMap(([k, v, id]) => [el("dt", k), el("dd", v, id ? { id } : {})]));
  // Re-render the actions only when they change, so typing is not lost to a live update.
  const box = document.getElementById("session-actions");
  const key = JSON.stringify([s.actions, s.assignee, s.channel]);
  if (box.dataset.key === key) return;
  box.dataset.key = key;
  box.replaceChildren(...(s.actions || []).map((a) => actionRow(s, a)));
}

/** One action: its inputs, its button, and why it is disabled. */
function actionRow(s, a) {
  const row = el("div", null, { class: "action", "data-action": a.action });
  const button = el("button", ACTIONS[a.action] || a.action, { type: "button", id: `act-${a.action}` });
  const inputs = [];
  if (a.action === "assign" || a.action === "invite") {
    const input = el("input", null, {
      type: "email",
      id: `${a.action}-email`,
      placeholder: "technician's e-mail",
      "aria-label": `E-mail of the technician to ${a.action === "assign" ? "assign" : "invite"}`,
    });
    if (a.action === "assign" && !s.assignee) input.value = document.getElementById("main").dataset.me;
    inputs.push(input);
  }
  if (a.action === "transfer_channel") {
    const select = el("select", null, { id: "transfer-channel", "aria-label": "Channel to transfer to" });
    for (const link of document.querySelectorAll("nav.side a[href^='/console/channels/']")) {
      if (link.textContent !== s.channel) select.append(el("option", link.textContent));
    }
    inputs.push(select);
  }
  const labels = [];
  if (a.action === "request") {
    const control = el("input", null, { type: "checkbox", id: "request-control", checked: "" });
    const label = el("label", " with control", { for: "request-control" });
    label.prepend(control);
    inputs.push(control);
    labels.push(label);
  }
  for (const input of inputs) input.disabled = !a.allowed;
  button.disabled = !a.allowed;
  row.append(...(labels.length ? [] : inputs), button, ...labels);
  if (!a.allowed) {
    const why = el("span", a.reason || "not allowed now", { class: "reason", id: `why-${a.action}` });
    button.setAttribute("aria-describedby", why.id);
    row.append(why);
  }
  button.addEventListener("click", () => act(s, a.action, button, inputs));
  return row;
}

async function act(s, action, button, inputs) {
  const path = `/api/v1/sessions/${encodeURIComponent(s.id)}`;
  const output = document.getElementById("session-output");
  const error = document.getElementById("session-error");
  error.textContent = "";
  // Destructive actions ask once more on the button itself.
  if ((action === "close" || action === "delete") && button.dataset.confirm !== "yes") {
    button.dataset.confirm = "yes";
    button.textContent = action === "close" ? "Click again to close for good" : "Click again to delete";
    return;
  }
  try {
    switch (action) {
      case "request":
        await api("POST", `${path}/request`, { control: inputs[0].checked });
        output.textContent = inputs[0].checked
          ? "Permission to view and control requested: the end user is asked now."
          : "Permission to view requested: the end user is asked now.";
        break;
      case "start":
        location.assign(`/console/sessions/${encodeURIComponent(s.id)}/view`);
        return;
      case "assign": {
        const email = inputs[0].value.trim();
        const route = s.assignee ? "transfer" : "assign";
        await api("POST", `${path}/${route}`, route === "transfer" ? { to_user: email } : { email });
        output.textContent = `Assigned to ${email}.`;
        break;
      }
      case "transfer_channel":
        await api("POST", `${path}/transfer`, { to_channel: inputs[0].value });
        output.textContent = `Moved to ${inputs[0].value}.`;
        break;
      case "invite":
        await api("POST", `${path}/invite`, { email: inputs[0].value.trim() });
        output.textContent = `Invited ${inputs[0].value.trim()}.`;
        break;
      case "copy_link": {
        const { link } = await api("GET", `${path}/link`);
        showValue(output, "Link", link);
        await copyField("panel-value", document.getElementById("panel-copy-status"));
        return;
      }
      case "show_pin": {
        const { pin } = await api("GET", `${path}/pin`);
        showValue(output, "PIN", pin);
        return;
      }
      case "release":
        await api("POST", `${path}/release`);
        output.textContent = "Released to the channel's queue.";
        break;
      case "close":
        await api("POST", `${path}/close`);
        output.textContent = "Closed: the link and PIN no longer work.";
        break;
      case "delete":
        await api("DELETE", path);
        list.open = null;
        document.getElementById("session-dialog").close();
        await reload();
        return;
    }
    await reload();
  } catch (e) {
    error.textContent = e.message;
    await refreshPanel();
  }
}

function showValue(output, label, value) {
  const field = el("input", null, { id: "panel-value", readonly: "", "aria-label": label });
  field.value = value;
  const status = el("span", "", { id: "panel-copy-status", class: "muted" });
  output.replaceChildren(el("span", `${label}: `), field, status);
  field.select();
}

// ---- New session ----------------------------------------------------------------------

async function newSession(button) {
  const error = document.getElementById("list-error");
  try {
    const s = await api("POST", "/api/v1/sessions", { channel: button.dataset.channel });
    document.getElementById("new-link").value = s.link;
    document.getElementById("new-pin").value = s.pin;
    document.getElementById("copy-status").textContent = "";
    document.getElementById("new-session-dialog").showModal();
    document.querySelector("[data-copy='new-link']").focus();
    error.hidden = true;
    reload();
  } catch (e) {
    error.textContent = `Could not create a session: ${e.message}`;
    error.hidden = false;
  }
}

// ---- Live updates ---------------------------------------------------------------------

function listen() {
  const live = document.getElementById("live");
  const events = new EventSource("/api/v1/events");
  events.addEventListener("open", () => {
    live.textContent = "Live";
    live.className = "live on";
    reload();
  });
  events.addEventListener("session", () => reload());
  events.addEventListener("error", () => {
    live.textContent = "Reconnecting…";
    live.className = "live off";
  });
}

// ---- Admin forms ----------------------------------------------------------------------

/** Sends a `data-api` form as JSON: numbers in minutes become seconds, comma-separated
 *  fields and checkbox groups become lists; empty optional fields are left out. */
async function submitForm(form) {
  const body = {};
  for (const field of form.elements) {
    if (!field.name) continue;
    const kind = field.dataset.kind;
    if (field.type === "checkbox") {
      body[field.name] = body[field.name] || [];
      if (field.checked) body[field.name].push(field.value);
    } else if (kind === "csv") {
      body[field.name] = field.value.split(",").map((v) => v.trim()).filter(Boolean);
    } else if (kind === "minutes") {
      if (field.value !== "") body[field.name] = Math.round(Number(field.value) * 60);
    } else {
      body[field.name] = field.value;
    }
  }
  const error = form.querySelector(".form-error");
  try {
    await api(form.dataset.method || "POST", form.dataset.api, body);
    location.reload();
  } catch (e) {
    error.textContent = e.message;
    error.hidden = false;
  }
}

// ---- Alerts for administrators ---------------------------------------------------------

async function showAlerts(box) {
  try {
    const alerts = await api("GET", "/api/v1/alerts");
    box.replaceChildren(...alerts.map((a) => el("p", a.message, { class: `alert alert-${a.kind}` })));
  } catch (error) {
    box.replaceChildren(el("p", `Cannot read the gateway's alerts: ${error.message}`, { class: "alert" }));
  }
}

// ---- Start ----------------------------------------------------------------------------

document.addEventListener("DOMContentLoaded", () => {
  for (const time of document.querySelectorAll("time[data-epoch]")) {
    time.textContent = when(Number(time.dataset.epoch));
  }
  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      submitForm(form);
    });
  }
  for (const button of document.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", () => copyField(button.dataset.copy, document.getElementById("copy-status")));
  }
  const alerts = document.getElementById("alerts");
  if (alerts) {
    showAlerts(alerts);
    setInterval(() => showAlerts(alerts), 30000);
  }
  const newButton = document.getElementById("new-session");
  if (newButton) newButton.addEventListener("click", () => newSession(newButton));
  const dialog = document.getElementById("session-dialog");
  if (dialog) dialog.addEventListener("close", () => { list.open = null; });
  list.table = document.getElementById("sessions");
  if (list.table) {
    reload();
    listen();
    // A session expires by the clock alone; the gateway notices on the next read.
    setInterval(reload, 60000);
  }
});
