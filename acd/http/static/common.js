// Shared by the pages: the token (kept in sessionStorage), API calls, and the live stream.
export function token() { return sessionStorage.getItem("acd.token") || ""; }
export function setToken(t) { sessionStorage.setItem("acd.token", t); }
export function clearToken() { sessionStorage.removeItem("acd.token"); }

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

// Follows /api/v1/events. EventSource reconnects by itself after a network error and sends
// Last-Event-ID, so nothing is missed. When the browser gives up on the connection instead
// (readyState CLOSED, e.g. a stream cut mid-chunk), a new one is opened with ?after=<last id>.
// On "reset" (too far behind) the page re-fetches everything.
export function follow(onEvent, onReset, onStatus) {
  const kinds = ["agent_state", "offer", "connected", "ended", "wrapup_done", "wrapup_overdue", "queue"];
  let lastId = null, source = null;
  const open = () => {
    const after = lastId === null ? "" : "&after=" + lastId;
    source = new EventSource("/api/v1/events?access_token=" + encodeURIComponent(token()) + after);
    for (const kind of kinds) source.addEventListener(kind, (e) => { lastId = Number(e.lastEventId); onEvent(kind, JSON.parse(e.data), lastId); });
    source.addEventListener("hello", (e) => { lastId = Number(e.lastEventId); });
    source.addEventListener("reset", () => { lastId = null; onReset(); });
    source.onopen = () => onStatus("live");
    source.onerror = () => {
      onStatus("reconnecting…");
      if (source.readyState === EventSource.CLOSED) setTimeout(open, 1000);
    };
  };
  open();
  return { close: () => source.close() };
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "class") node.className = v; else if (k.startsWith("data-")) node.setAttribute(k, v); else node[k] = v;
  }
  for (const c of children) node.append(c instanceof Node ? c : document.createTextNode(c ?? ""));
  return node;
}

export function pretty(state) { return (state || "").replace("_", " "); }
