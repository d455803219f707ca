"""A small HTTP surface: health, Prometheus metrics, the live state as JSON, and the wallboard.

The full agent/supervisor API (issue 6) mounts beside these routes."""

from __future__ import annotations

import json
from typing import Callable

from aiohttp import web

WALLBOARD = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>acd wallboard</title>
<style>
body{font-family:system-ui,sans-serif;margin:1.5rem;background:#0f172a;color:#e2e8f0}
h1{font-size:1.4rem;margin:0 0 1rem}table{border-collapse:collapse;margin-bottom:1.5rem;min-width:40rem}
th,td{padding:.35rem .8rem;text-align:left;border-bottom:1px solid #334155}th{color:#94a3b8;font-weight:500}
.ready{color:#4ade80}.on_call{color:#60a5fa}.ringing,.reserved{color:#facc15}.wrap_up{color:#c084fc}
.not_ready,.logged_out{color:#f87171}.num{text-align:right;font-variant-numeric:tabular-nums}
#stamp{color:#64748b;font-size:.8rem}
</style></head><body>
<h1>acd wallboard <span id="stamp"></span></h1>
<table id="queues"><thead><tr><th>Queue</th><th class="num">Waiting</th><th class="num">Longest wait (s)</th><th class="num">Answered</th><th class="num">Abandoned</th><th class="num">Service level</th></tr></thead><tbody></tbody></table>
<table id="agents"><thead><tr><th>Agent</th><th>State</th><th class="num">In state (s)</th><th class="num">Calls</th></tr></thead><tbody></tbody></table>
<script>
function cell(text, cls){const td=document.createElement('td');td.textContent=text;if(cls)td.className=cls;return td}
async function refresh(){
  try{
    const r=await fetch('/api/v1/live');const s=await r.json();
    const qb=document.querySelector('#queues tbody');qb.replaceChildren();
    for(const [name,q] of Object.entries(s.queues)){
      const tr=document.createElement('tr');
      tr.append(cell(name),cell(q.waiting,'num'),cell(q.longest_wait_s,'num'),cell(q.answered,'num'),cell(q.abandoned,'num'),cell(q.service_level==null?'–':Math.round(q.service_level*100)+'%','num'));
      qb.append(tr)}
    const ab=document.querySelector('#agents tbody');ab.replaceChildren();
    for(const [id,a] of Object.entries(s.agents)){
      const tr=document.createElement('tr');
      tr.append(cell(a.name+' ('+id+')'),cell(a.state.replace('_',' ')+(a.reason?' – '+a.reason:''),a.state),cell(a.in_state_s,'num'),cell(a.calls,'num'));
      ab.append(tr)}
    document.getElementById('stamp').textContent=new Date().toLocaleTimeString();
  }catch(e){document.getElementById('stamp').textContent='disconnected'}
}
refresh();setInterval(refresh,1000);
</script></body></html>
"""

METRICS = web.AppKey("metrics", Callable[[], bytes])


async def _health(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok"})


async def _metrics(request: web.Request) -> web.Response:
    body = request.app[METRICS]()
    return web.Response(body=body, headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})


async def _wallboard(request: web.Request) -> web.Response:
    return web.Response(text=WALLBOARD, content_type="text/html")


async def _root(request: web.Request) -> web.Response:
    raise web.HTTPFound("/wallboard")


def create_web_app(metrics: Callable[[], bytes]) -> web.Application:
    app = web.Application()
    app[METRICS] = metrics
    app.router.add_get("/healthz", _health)
    app.router.add_get("/metrics", _metrics)
    app.router.add_get("/wallboard", _wallboard)
    app.router.add_get("/", _root)
    return app
