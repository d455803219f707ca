// Shared by the pages: the token (kept in sessionStorage: a signed-in person's token ends with the
// browser session), API calls, and the live stream. A kiosk (a wall screen's read-only token) keeps
// its token in localStorage instead, so the screen needs no sign-in after a browser restart.
let store = sessionStorage, key = "acd.token";
export function useKioskStorage() { store = localStorage; key = "acd.kiosk"; }
export function token() { return store.getItem(key) || ""; }
export function setToken(t) { store.setItem(key, t); }
export function clearToken() { store.removeItem(key); }

export async function api(method, path, body) {
  const r = await fetch(path, {
    method,
    headers: { "Authorization": "Bearer " + token(), ...(body ? { "Content-Type": "application/json" } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  });
  const data = r.headers.get("Content-Type")?.includes("json") ? await r.json() : null;
  if (!r.ok) { const e = new Error((data && data.detail) || r.statusText); e.status = r.status; e.body = data; throw e; }
  return data;
}

export const KINDS = ["agent_state", "offer", "connected", "ended", "wrapup_done", "wrapup_overdue", "queue",
  "task_created", "task_changed", "task_complete", "task_cancel", "task_reopen", "task_escalated", "task_overdue", "task_callback_booked", "task_callback_connected", "task_callback_failed", "task_callback_unreachable"];

// Follows /api/v1/events.
// - EventSource reconnects by itself after a network error and sends Last-Event-ID, so nothing
//   is missed. When the browser gives up instead (readyState CLOSED: a stream cut mid-chunk, or
//   an HTTP error), a new one is opened with ?after=<last id>, unless the token no longer works
//   (then `unauthorized` is called and nothing reopens).
// - "reset" means the server no longer has what we missed: the page re-fetches its state, and
//   the stream restarts from the sequence number the reset names. The reset carries no id, so
//   letting the browser reconnect by itself would resend the old Last-Event-ID and be reset again.
// window.acdStream shows where the stream stands (for people debugging the page, and the tests).
export function follow({ onEvent, onReset, onStatus, onUnauthorized }) {
  const info = (window.acdStream = { lastId: null, opens: 0, resets: 0, status: "connecting" });
  let source = null, timer = null, closed = false;
  const status = (s) => { info.status = s; onStatus(s); };
  const open = () => {
    if (closed) return;
    const after = info.lastId === null ? "" : "&after=" + info.lastId;
    source = new EventSource("/api/v1/events?access_token=" + encodeURIComponent(token()) + after);
    info.opens += 1;
    for (const kind of KINDS) {
      source.addEventListener(kind, (e) => { info.lastId = Number(e.lastEventId); onEvent(kind, JSON.parse(e.data), info.lastId); });
    }
    source.addEventListener("hello", (e) => { info.lastId = Number(e.lastEventId); });
    source.addEventListener("reset", (e) => {
      const seq = Number(JSON.parse(e.data).seq);
      info.resets += 1;
      source.close();
      info.lastId = Number.isFinite(seq) ? seq : null;
      open();
      onReset();
    });
    source.onopen = () => status("live");
    source.onerror = () => {
      status("reconnecting…");
      if (source.readyState === EventSource.CLOSED) { clearTimeout(timer); timer = setTimeout(reopen, 1000); }
    };
  };
  const reopen = async () => {
    try { await api("GET", "/api/v1/me"); } catch (e) {
      if (e.status === 401) { status("signed out"); closed = true; onUnauthorized(); return; }
    }
    open();
  };
  open();
  return { close: () => { closed = true; clearTimeout(timer); if (source) source.close(); status("signed out"); } };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v;
    else if (k.startsWith("data-") || k.startsWith("aria-") || k === "role") node.setAttribute(k, v);
    else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

export function pretty(state) { return (state || "").replaceAll("_", " "); }

export function seconds(s) {
  s = Math.max(0, Math.round(s));
  return s < 60 ? `${s} s` : s < 3600 ? `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}` : `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`;
}
