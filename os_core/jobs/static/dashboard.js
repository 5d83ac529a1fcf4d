// The qnodeos dashboard: signs in once (an HttpOnly cookie), then follows the service's server-sent
// events ("nodes": every node's state; "jobs": your jobs) and redraws. Every value is written as text
// (never as HTML), so nothing a node or a job returns can inject markup.
"use strict";
(function () {
  const SVG = "http://www.w3.org/2000/svg";
  const TIMELINE_ROWS = 15;
  const ENDED = new Set(["done", "failed"]);
  const ENDED_SHOWN = 4;
  let source = null;
  let selected = null;        // id of the job whose details are shown
  let selectedStamp = "";     // its status and runs when last drawn

  function $(selector, root) { return (root || document).querySelector(selector); }

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) node.append(child);
    return node;
  }

  function svg(tag, attrs) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    return node;
  }

  function time(ns) {
    if (ns === null || ns === undefined) return "–";
    const a = Math.abs(ns);
    if (a < 1e3) return ns + " ns";
    if (a < 1e6) return (ns / 1e3).toFixed(1) + " µs";
    if (a < 1e9) return (ns / 1e6).toFixed(3) + " ms";
    return (ns / 1e9).toFixed(3) + " s";
  }

  function percent(x) { return (typeof x === "number") ? (100 * x).toFixed(1) + " %" : "–"; }

  function table(className, caption, headers, rows, emptyText) {
    const head = el("tr", {}, ...headers.map(h => el("th", {scope: "col", text: h})));
    const body = el("tbody");
    if (!rows.length) body.append(el("tr", {}, el("td", {class: "empty", colspan: String(headers.length), text: emptyText})));
    for (const row of rows) body.append(el("tr", {}, ...row.map(cell => el("td", {text: String(cell)}))));
    return el("table", {class: className}, el("caption", {text: caption}), el("thead", {}, head), body);
  }

  // ---- nodes ----------------------------------------------------------------------------------
  function utilisationChart(node, history) {
    const w = 300, h = 60;
    const chart = svg("svg", {viewBox: `0 0 ${w} ${h}`, class: "chart utilisation", role: "img",
                              "data-samples": history.length,
                              "data-latest": history.length ? history[history.length - 1][1] : ""});
    const latest = history.length ? percent(history[history.length - 1][1]) : "no data";
    chart.setAttribute("aria-label", `Device utilisation of ${node} over device time: latest ${latest}, ` +
                       `${history.length} samples`);
    const title = svg("title");
    title.textContent = chart.getAttribute("aria-label");
    chart.append(title);
    for (const level of [0.25, 0.5, 0.75]) {
      chart.append(svg("line", {x1: 0, x2: w, y1: h - 2 - level * (h - 4), y2: h - 2 - level * (h - 4),
                                stroke: "#cbd5e0", "stroke-width": 0.5}));
    }
    for (const [label, y] of [["100 %", 9], ["0 %", h - 4]]) {
      const text = svg("text", {x: 3, y, "font-size": 8, fill: "#4a5568"});
      text.textContent = label;
      chart.append(text);
    }
    if (history.length) {
      const t0 = history[0][0], t1 = history[history.length - 1][0];
      const span = Math.max(t1 - t0, 1);
      const points = history.map(([t, u]) => `${((t - t0) / span * (w - 4) + 2).toFixed(1)},` +
                                             `${(h - 2 - u * (h - 4)).toFixed(1)}`);
      if (points.length === 1) points.push(`${w - 2},${points[0].split(",")[1]}`);
      chart.append(svg("polyline", {points: points.join(" "), fill: "none", stroke: "#2b6cb0", "stroke-width": 2}));
    }
    return chart;
  }

  function scheduleChart(link, now) {
    const w = 300, h = 18;
    const period = Math.max(link.period_ns, 1);
    const chart = svg("svg", {viewBox: `0 0 ${w} ${h}`, class: "chart schedule", role: "img"});
    chart.setAttribute("aria-label", `Schedule of the link to ${link.peer}: a bin of ${time(link.bin_ns)} every ` +
                       `${time(link.period_ns)}; ${link.attempting ? "attempting now" : "not attempting"}`);
    chart.append(svg("rect", {x: 0, y: 2, width: w, height: h - 4, fill: "#edf2f7"}));
    const start = ((link.offset_ns % period) + period) % period;
    const x = start / period * w, width = link.bin_ns / period * w;
    chart.append(svg("rect", {x, y: 2, width: Math.min(width, w - x), height: h - 4,
                              fill: link.attempting ? "#dd6b20" : "#90cdf4"}));
    if (x + width > w) chart.append(svg("rect", {x: 0, y: 2, width: x + width - w, height: h - 4,
                                                   fill: link.attempting ? "#dd6b20" : "#90cdf4"}));
    const at = (now % period) / period * w;
    chart.append(svg("line", {x1: at, x2: at, y1: 0, y2: h, stroke: "#1a202c", "stroke-width": 2}));
    return chart;
  }

  function facts(pairs) {
    return el("dl", {class: "facts"}, ...pairs.map(([k, v, cls]) =>
      el("div", {}, el("dt", {text: k}), el("dd", {class: cls || "", text: v}))));
  }

  function drawNode(article, name, state) {
    article.replaceChildren();
    article.classList.toggle("down", !state.reachable);
    article.append(el("h3", {text: `Node ${name}`}));
    if (!state.reachable) {
      article.append(el("p", {class: "error", text: `Unreachable: ${state.error || "no answer"}`}));
      return;
    }
    if (state.alive === false) article.append(el("p", {class: "error", text: "This node's service has stopped " +
                                                          "(its last state is shown)."}));
    const network = state.network || {};
    article.append(facts([
      ["device time", time(state.device_ns), "device-time"],
      ["utilisation", percent(state.utilisation), "utilisation"],
      ["pairs delivered", String(network.pairs_delivered ?? "–")],
      ["pairs discarded", String(network.pairs_discarded ?? "–")],
      ["attempts", String(network.attempts ?? "–")],
      ["open requests", String(network.open_requests ?? "–")],
    ]));
    article.append(el("h4", {text: "Utilisation over time"}), utilisationChart(name, state.utilisation_history || []));
    const all = state.processes || [];
    const live = all.filter(p => !ENDED.has(p.state));
    const ended = all.filter(p => ENDED.has(p.state));
    const shown = live.concat(ended.slice(-ENDED_SHOWN));
    article.append(table("processes", `Processes (${live.length} active, ${ended.length} ended` +
                         (ended.length > ENDED_SHOWN ? `; the latest ${ENDED_SHOWN} ended shown)` : ")"),
      ["pid", "name", "state", "priority", "qubits", "waiting for / error"],
      shown.map(p => [p.pid, p.name, p.state, p.priority, (p.qubits || []).join(" ") || "–",
                      p.error || p.waiting_for || ""]), "no processes"));
    article.append(table("entanglement", "Entanglement table", ["qubit", "partner", "pair", "age", "est. fidelity", "below cut-off in"],
      (state.entanglement || []).map(e => [e.qubit, e.peer, e.pair_id, time(e.age_ns),
                                           Number(e.fidelity).toFixed(4),
                                           e.expires_in_ns == null ? "never" :
                                             (e.expires_in_ns <= 0 ? "expired" : time(e.expires_in_ns))]),
      "no entangled qubits"));
    const links = state.links || [];
    article.append(table("links", "Network schedule", ["peer", "bin / period", "next bin", "attempting", "queued"],
      links.map(l => [l.peer, `${time(l.bin_ns)} / ${time(l.period_ns)}`, time(l.next_bin_ns),
                      l.attempting ? "yes" : "no", l.queued_requests]), "no links"));
    for (const link of links) article.append(scheduleChart(link, state.device_ns || 0));
    article.append(table("hosts", "Application hosts", ["host", "state", "clock"],
      (state.hosts || []).map(h => [h.name, h.state, time(h.clock_ns)]), "no hosts"));
    const rows = (state.timeline || []).slice(-TIMELINE_ROWS).reverse();
    const timeline = table("timeline-rows", "Recent instructions (newest first)",
      ["start", "end", "process", "instruction", "physical"],
      rows.map(r => [time(r.start_ns), time(r.end_ns), `${r.process} (${r.pid})`, r.instruction,
                     (r.physical || []).join(", ")]), "no instructions yet");
    article.append(el("div", {class: "timeline", tabindex: "0", role: "region",
                              "aria-label": `Recent instructions of node ${name}`}, timeline));
  }

  function renderNodes(data) {
    $("#network-name").textContent = data.network ? `— ${data.network}` : "";
    const list = $("#node-list");
    for (const [name, state] of Object.entries(data.nodes)) {
      let article = list.querySelector(`article[data-node="${CSS.escape(name)}"]`);
      if (!article) {
        article = el("article", {class: "node", "data-node": name, "aria-label": `Node ${name}`});
        list.append(article);
      }
      drawNode(article, name, state);
    }
  }

  // ---- jobs -----------------------------------------------------------------------------------
  function renderJobs(jobs) {
    const body = $("#job-table tbody");
    body.replaceChildren();
    if (!jobs.length) body.append(el("tr", {}, el("td", {class: "empty", colspan: "6", text: "no jobs yet"})));
    for (const job of jobs) {
      const pick = el("button", {type: "button", class: "link", text: job.id.slice(0, 8),
                                 "aria-label": `Show job ${job.id} (${job.app})`});
      pick.addEventListener("click", () => { selected = job.id; selectedStamp = ""; showJob(job); });
      body.append(el("tr", {"data-job": job.id},
        el("td", {}, pick), el("td", {text: job.app}), el("td", {class: `status-${job.status}`, text: job.status}),
        el("td", {text: `${job.runs_done} / ${job.runs}`}), el("td", {text: new Date(job.created_at).toLocaleString()}),
        el("td", {class: "error", text: job.error || ""})));
      if (job.id === selected) showJob(job);
    }
  }

  async function showJob(job) {
    const stamp = `${job.status}:${job.runs_done}`;
    if (stamp === selectedStamp) return;
    selectedStamp = stamp;
    const response = await fetch(`/api/jobs/${encodeURIComponent(job.id)}`);
    if (!response.ok) return;
    const doc = await response.json();
    const stats = doc.statistics;
    const detail = $("#job-detail");
    detail.replaceChildren(el("h3", {text: `Job ${doc.id} — ${doc.app} (${doc.status})`}));
    if (doc.error) detail.append(el("p", {class: "error", text: doc.error}));
    detail.append(el("p", {text: `${stats.ok_runs} of ${stats.runs} runs finished without errors.`}));
    const quantities = Object.entries(stats.quantities);
    detail.append(table("statistics", "Results over the runs", ["quantity", "runs", "mean ± standard error", "outcomes"],
      quantities.map(([name, q]) => [name, q.n,
        q.mean === undefined ? "–" : `${q.mean.toPrecision(5)}` + (q.std_error == null ? "" : ` ± ${q.std_error.toPrecision(2)}`),
        q.histogram ? Object.entries(q.histogram).map(([k, v]) => `${k}: ${v}`).join(", ") : "–"]),
      "no results yet"));
    const plots = el("div", {class: "plots"});
    for (const [name] of quantities.slice(0, 8)) {
      plots.append(el("img", {src: `/api/jobs/${encodeURIComponent(doc.id)}/plots/${encodeURIComponent(name)}.svg?v=${doc.runs_done}`,
                              alt: `Plot of ${name} over the runs`, width: "420", height: "220"}));
    }
    detail.append(plots);
    if (stats.runs > 0) {
      detail.append(el("figure", {class: "timeline-plot"},
        el("img", {src: `/api/jobs/${encodeURIComponent(doc.id)}/timeline.png?v=${doc.runs_done}`,
                   alt: `Timeline of the latest run of job ${doc.app}: each node's instructions and waits over device time`}),
        el("figcaption", {text: "The latest run's timeline (device time; one lane per process and qubit)"})));
    }
    detail.append(el("p", {}, el("a", {href: `/api/jobs/${encodeURIComponent(doc.id)}/runs`, text: "per-run results"}), " · ",
      el("a", {href: `/api/jobs/${encodeURIComponent(doc.id)}/logs`, text: "log files"}), " · ",
      el("a", {href: `/api/jobs/${encodeURIComponent(doc.id)}/timeline`, text: "timeline of the latest run"})));
  }

  // ---- session --------------------------------------------------------------------------------
  function setStatus(text) { $("#status").textContent = text; }

  function connect(who) {
    $("#login").hidden = true;
    $("#main").hidden = false;
    setStatus(`Signed in as ${who.user}. Connecting…`);
    source = new EventSource("/api/events");
    source.addEventListener("open", () => setStatus(`Signed in as ${who.user}. Live.`));
    source.addEventListener("error", () => setStatus(`Signed in as ${who.user}. Connection lost, retrying…`));
    source.addEventListener("nodes", e => renderNodes(JSON.parse(e.data)));
    source.addEventListener("jobs", e => renderJobs(JSON.parse(e.data)));
  }

  async function whoami() {
    const response = await fetch("/api/whoami");
    if (!response.ok) return null;
    const who = await response.json();
    return who.user ? who : null;
  }

  async function signIn(event) {
    event.preventDefault();
    const token = $("#token").value.trim();
    const response = await fetch("/api/session", {method: "POST", headers: {"Content-Type": "application/json"},
                                                  body: JSON.stringify({token})});
    if (!response.ok) {
      $("#login-error").textContent = response.status === 401 ? "That token is not known." : `Sign-in failed (${response.status}).`;
      return;
    }
    $("#token").value = "";
    $("#login-error").textContent = "";
    const who = await whoami();
    if (who) connect(who);
  }

  async function signOut() {
    if (source) source.close();
    await fetch("/api/session", {method: "DELETE"});
    $("#main").hidden = true;
    $("#login").hidden = false;
    setStatus("Not signed in.");
  }

  document.addEventListener("DOMContentLoaded", async () => {
    $("#login-form").addEventListener("submit", signIn);
    $("#sign-out").addEventListener("click", signOut);
    const who = await whoami();
    if (who) connect(who);
  });
})();
