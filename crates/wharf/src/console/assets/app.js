// Wharf console: plain JavaScript, no framework, no build step.
//
// A hash router (#/clusters/default/services/web, ...) picks a view; a view
// reads its JSON from /console/api, renders it as one HTML string (one DOM
// build, no per-row layout), and patches itself from the live stream
// (/console/events, server-sent events). Every value from the server is
// escaped before it is put in the page: names, reasons and log lines come
// from users.
'use strict';

(() => {
  const main = document.getElementById('main');
  const liveBadge = document.getElementById('live');
  const region = new URLSearchParams(location.search).get('region') || 'us-east-1';

  // --- helpers -------------------------------------------------------------------------

  const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (v) => (v === undefined || v === null ? '' : String(v)).replace(/[&<>"']/g, (c) => ESC[c]);
  const href = (...parts) => '#/' + parts.map(encodeURIComponent).join('/');
  const a = (text, ...parts) => `<a href="${esc(href(...parts))}">${esc(text)}</a>`;
  const st = (s) => (s ? `<span class="st st-${esc(String(s).replace(/[^A-Za-z_]/g, ''))}">${esc(s)}</span>` : '');
  const clock = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
  const hms = new Intl.DateTimeFormat(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  const when = (ms) => (ms ? clock.format(ms) : '');
  const ago = (ms) => {
    if (!ms) return '';
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return s + 's ago';
    if (s < 3600) return Math.floor(s / 60) + 'm ago';
    if (s < 86400) return Math.floor(s / 3600) + 'h ago';
    return Math.floor(s / 86400) + 'd ago';
  };
  const age = (ms) => (ms ? `<time title="${esc(when(ms))}">${esc(ago(ms))}</time>` : '');
  const td = (label, html) => `<td data-l="${esc(label)}">${html}</td>`;
  const table = (cls, heads, body) =>
    `<div class="scroll"><table class="cards ${cls}"><thead><tr>${heads.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${body}</tbody></table></div>`;
  const facts = (pairs) =>
    `<dl class="facts">${pairs.filter(([, v]) => v !== undefined && v !== null && v !== '')
      .map(([k, v, raw]) => `<div><dt>${esc(k)}</dt><dd${raw && raw.id ? ` id="${esc(raw.id)}"` : ''}>${raw ? v : esc(v)}</dd></div>`).join('')}</dl>`;
  const crumbs = (...items) => `<div class="crumbs">${items.join(' / ')}</div>`;

  async function api(path) {
    const sep = path.includes('?') ? '&' : '?';
    const r = await fetch(`/console/api${path}${sep}region=${encodeURIComponent(region)}`);
    const body = await r.json().catch(() => ({ message: `HTTP ${r.status}` }));
    if (!r.ok) throw new Error(body.message || `HTTP ${r.status}`);
    return body;
  }

  // --- rows shared by several views ----------------------------------------------------

  const TASK_HEADS = ['Task', 'Last status', 'Desired', 'Health', 'Task definition', 'Group', 'Host', 'Started', 'Stopped reason'];
  function taskRow(t) {
    const stopped = t.lastStatus === 'STOPPED';
    return `<tr id="t-${esc(t.id)}"${stopped ? ' class="stopped"' : ''}>` +
      td('Task', `<a class="task-link mono" href="${esc(href('clusters', t.cluster, 'tasks', t.id))}">${esc(t.id.slice(0, 12))}</a>`) +
      td('Last status', st(t.lastStatus)) + td('Desired', esc(t.desiredStatus)) + td('Health', st(t.health)) +
      td('Task definition', esc(t.taskDefinition)) + td('Group', esc(t.group)) +
      td('Host', `<span class="mono">${esc(t.host || t.instance)}</span>`) +
      td('Started', age(t.startedAt || t.createdAt)) + td('Stopped reason', esc(t.stoppedReason)) + '</tr>';
  }
  const TASK_COLS = '<colgroup><col class="w-id"><col class="w-st"><col class="w-st"><col class="w-st"><col><col><col class="w-host"><col class="w-age"><col></colgroup>';

  // A task table that paints its first rows at once and adds the others in chunks after
  // that first paint (one string each, appended below), so a cluster of thousands of tasks
  // shows at once. A live change to a row not added yet waits for it in `rows`.
  const FIRST_ROWS = 60;
  const CHUNK = 250;
  function taskList(keep) {
    const rows = new Map();
    let pending = [];
    let waiting = new Set();
    let epoch = 0;
    const tbody = () => document.querySelector('#task-table tbody');
    return {
      rows,
      html(list) {
        epoch++;
        rows.clear();
        for (const t of list) rows.set(t.id, t);
        pending = list.slice(FIRST_ROWS).map((t) => t.id);
        waiting = new Set(pending);
        const head = `<thead><tr>${TASK_HEADS.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead>`;
        return `<div class="scroll"><table class="cards tasks">${TASK_COLS}${head}<tbody>${list.slice(0, FIRST_ROWS).map(taskRow).join('')}</tbody></table></div>`;
      },
      // Adds the remaining rows, a chunk per task of the event loop, after the first paint.
      mounted(afterChunk) {
        const mine = epoch;
        const step = () => {
          const body = tbody();
          if (mine !== epoch || !body) return;
          if (!pending.length) {
            if (!performance.getEntriesByName('wharf-complete').length) {
              performance.mark('wharf-complete');
              requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('wharf-complete-painted')));
            }
            return;
          }
          const ids = pending.splice(0, CHUNK);
          for (const id of ids) waiting.delete(id);
          body.insertAdjacentHTML('beforeend', ids.map((id) => taskRow(rows.get(id))).join(''));
          if (afterChunk) afterChunk();
          setTimeout(step, 0);
        };
        requestAnimationFrame(() => setTimeout(step, 0));
      },
      patch(list) {
        const body = tbody();
        for (const t of list) {
          if (keep && !keep(t)) continue;
          rows.set(t.id, t);
          if (!waiting.has(t.id)) upsertRow('t-' + t.id, taskRow(t), body);
        }
      },
    };
  }

  const SERVICE_HEADS = ['Service', 'Status', 'Desired', 'Running', 'Pending', 'Rollout', 'Task definition', 'Launch type'];
  function serviceRow(s) {
    return `<tr id="s-${esc(s.name)}">` +
      td('Service', `<a class="service-link" href="${esc(href('clusters', s.cluster, 'services', s.name))}">${esc(s.name)}</a>`) +
      td('Status', st(s.status)) + td('Desired', esc(s.desired)) + td('Running', esc(s.running)) +
      td('Pending', esc(s.pending)) + td('Rollout', st(s.rollout) + (s.deployments > 1 ? ` <span class="muted">(${esc(s.deployments)} deployments)</span>` : '')) +
      td('Task definition', esc(s.taskDefinition)) + td('Launch type', esc(s.launchType)) + '</tr>';
  }

  const TARGET_HEADS = ['Target', 'Port', 'Health', 'Reason', 'Task'];
  function targetRows(targets, cluster) {
    return targets.map((t) => '<tr>' + td('Target', `<span class="mono">${esc(t.id)}</span>`) + td('Port', esc(t.port)) +
      td('Health', st(t.state)) + td('Reason', esc(t.reason ? `${t.reason}: ${t.description || ''}` : '')) +
      td('Task', t.task && cluster ? a(t.task.slice(0, 12), 'clusters', cluster, 'tasks', t.task) : '') + '</tr>').join('');
  }
  function targetGroup(g, cluster) {
    return `<div class="card"><b>${esc(g.name)}</b> <span class="muted">${esc(g.protocolPort)} · ${esc(g.targetType)} · health check ${esc(g.healthCheck)}</span>` +
      (g.targets.length ? table('targets', TARGET_HEADS, targetRows(g.targets, cluster)) : '<p class="muted">No targets registered.</p>') + '</div>';
  }

  // `family:revision` as a link to that revision.
  function scaling(g) {
    const last = g.activities[0];
    return `<h2>Auto scaling</h2>` +
      facts([['Capacity', `${g.min} to ${g.max} tasks`], ['Suspended', g.suspended.join(', ')],
        ['Policies', g.policies.map((p) => `${p.name} (${p.kind})`).join(', ')], ['Scheduled actions', g.scheduled.join(', ')],
        ['Last activity', last ? `${last.description} (${last.status})` : '']]) +
      (g.activities.length ? table('activities', ['Activity', 'Status', 'Cause', 'Started'],
        g.activities.map((x) => '<tr>' + td('Activity', esc(x.description)) + td('Status', st(x.status)) +
          td('Cause', `<span class="muted">${esc(x.cause)}</span>`) + td('Started', age(x.at)) + '</tr>').join('')) : '');
  }

  function definitionLink(familyRevision) {
    if (!familyRevision) return '';
    const [family, revision] = familyRevision.split(':');
    return revision ? a(familyRevision, 'task-definitions', family, 'revisions', revision) : esc(familyRevision);
  }

  // Replaces a row by id, or puts it first in a table body.
  function upsertRow(id, html, tbody) {
    const old = document.getElementById(id);
    if (old) old.outerHTML = html;
    else if (tbody) tbody.insertAdjacentHTML('afterbegin', html);
  }

  // A filter box over a table's rows, by their text.
  function filterRows(input, tbody) {
    const q = input.value.trim().toLowerCase();
    for (const tr of tbody.rows) tr.hidden = q !== '' && !tr.textContent.toLowerCase().includes(q);
  }

  // --- views ---------------------------------------------------------------------------
  // A view: { live: {cluster, task} or null, load(): data, render(data): html,
  //           mounted?(data), on?: {tasks, service, changed, elb, log} }

  const views = {
    clusters: () => ({
      section: 'clusters',
      live: {},
      load: () => api('/clusters'),
      render: (list) => `<h1>Clusters</h1>` + (list.length ? table('clusters', ['Cluster', 'Status', 'Services', 'Running', 'Pending', 'Instances'],
        list.map((c) => '<tr>' + td('Cluster', `<a class="cluster-link" href="${esc(href('clusters', c.name))}">${esc(c.name)}</a>`) +
          td('Status', st(c.status)) + td('Services', esc(c.services)) + td('Running', esc(c.running)) +
          td('Pending', esc(c.pending)) + td('Instances', esc(c.instances)) + '</tr>').join(''))
        : '<p class="muted">No clusters in this region.</p>'),
      on: { changed: () => refresh() },
    }),

    cluster: (name) => {
      const list = taskList();
      const counts = () => {
        let running = 0, pending = 0;
        for (const t of list.rows.values()) {
          if (t.lastStatus === 'RUNNING') running++;
          else if (t.lastStatus !== 'STOPPED') pending++;
        }
        const r = document.getElementById('c-running'), p = document.getElementById('c-pending');
        if (r) r.textContent = running;
        if (p) p.textContent = pending;
      };
      return {
        section: 'clusters',
        live: { cluster: name },
        load: () => api(`/clusters/${encodeURIComponent(name)}`),
        render: (c) => {
          return crumbs(a('Clusters', 'clusters')) + `<h1>${esc(c.name)} ${st(c.status)}</h1>` +
            `<div class="counts"><span><b>${esc(c.services)}</b>services</span><span><b id="c-running">${esc(c.running)}</b>running</span>` +
            `<span><b id="c-pending">${esc(c.pending)}</b>pending</span><span><b>${esc(c.instances)}</b>instances</span></div>` +
            `<h2>Services</h2>` + (c.serviceRows.length ? table('services', SERVICE_HEADS, c.serviceRows.map(serviceRow).join(''))
              : '<p class="muted">No services.</p>') +
            `<h2>Tasks (${esc(c.tasks.length)}${c.truncated ? '+, the newest shown' : ''})</h2>` +
            `<div class="tools"><input id="filter" type="search" placeholder="Filter tasks" aria-label="Filter tasks"></div>` +
            `<div id="task-table">${list.html(c.tasks)}</div>` +
            `<h2>Container instances</h2>` + table('instances', ['Instance', 'Address', 'Zone', 'Status', 'Agent', 'Running', 'Pending', 'CPU', 'Memory'],
              c.instanceRows.map((i) => '<tr>' + td('Instance', `<span class="mono">${esc(i.id)}</span>`) +
                td('Address', `<span class="mono">${esc(i.address)}</span>`) + td('Zone', esc(i.zone)) + td('Status', st(i.status)) +
                td('Agent', i.agentConnected ? 'connected' : 'disconnected') + td('Running', esc(i.running)) + td('Pending', esc(i.pending)) +
                td('CPU', esc(i.cpu)) + td('Memory', esc(i.memory)) + '</tr>').join(''));
        },
        mounted: () => {
          const input = document.getElementById('filter');
          const tbody = document.querySelector('#task-table tbody');
          input.addEventListener('input', () => filterRows(input, tbody));
          list.mounted(() => { if (input.value) filterRows(input, tbody); });
        },
        on: {
          tasks: (rows) => {
            list.patch(rows);
            counts();
          },
          service: (change) => {
            if (!change.row) return refresh();
            const tbody = document.querySelector('table.services tbody');
            if (!tbody) return refresh();
            upsertRow('s-' + change.name, serviceRow(change.row), tbody);
          },
        },
      };
    },

    service: (cluster, name) => {
      const list = taskList((t) => t.group === 'service:' + name);
      return {
        section: 'clusters',
        live: { cluster },
        load: () => api(`/clusters/${encodeURIComponent(cluster)}/services/${encodeURIComponent(name)}`),
        render: (s) => crumbs(a('Clusters', 'clusters'), a(cluster, 'clusters', cluster)) +
          `<h1>${esc(s.name)} ${st(s.status)}</h1>` +
          `<div class="counts"><span><b id="s-desired">${esc(s.desired)}</b>desired</span><span><b id="s-running">${esc(s.running)}</b>running</span><span><b id="s-pending">${esc(s.pending)}</b>pending</span></div>` +
          facts([['Task definition', s.taskDefinition], ['Launch type', s.launchType], ['Scheduling', s.schedulingStrategy], ['ARN', s.arn]]) +
          `<h2>Deployments</h2>` + table('deployments', ['Deployment', 'Status', 'Task definition', 'Desired', 'Running', 'Pending', 'Failed', 'Rollout', 'Created'],
            s.deployments.map((d) => '<tr>' + td('Deployment', `<span class="mono">${esc(d.id)}</span>`) + td('Status', st(d.status)) +
              td('Task definition', esc(d.taskDefinition)) + td('Desired', esc(d.desired)) + td('Running', esc(d.running)) +
              td('Pending', esc(d.pending)) + td('Failed', esc(d.failed)) +
              td('Rollout', st(d.rollout) + (d.reason ? `<div class="muted">${esc(d.reason)}</div>` : '')) + td('Created', age(d.createdAt)) + '</tr>').join('')) +
          (s.loadBalancers.length ? `<h2>Load balancers</h2>` + s.loadBalancers.map((lb) =>
            `<p class="muted">Container ${esc(lb.container)}:${esc(lb.containerPort)} →</p>` +
            (lb.targetGroup ? targetGroup(lb.targetGroup, cluster) : `<p class="error">Target group ${esc(lb.targetGroupArn)} not found.</p>`)).join('') : '') +
          (s.scaling ? scaling(s.scaling) : '') +
          `<h2>Tasks</h2><div id="task-table">${list.html(s.tasks)}</div>` +
          `<h2>Events</h2><ul class="plain events">${s.events.slice(0, 50).map((e) => `<li>${age(e.at)}${esc(e.message)}</li>`).join('') || '<li class="muted">No events.</li>'}</ul>`,
        mounted: () => list.mounted(),
        on: {
          tasks: (rows) => list.patch(rows),
          service: (change) => { if (change.name === name) refreshSoon(); },
          elb: () => refreshSoon(),
        },
      };
    },

    task: (cluster, id) => {
      let colours = new Map();
      let count = 0;
      const detail = (t) => crumbs(a('Clusters', 'clusters'), a(cluster, 'clusters', cluster),
        ...(t.group && t.group.startsWith('service:') ? [a(t.group.slice(8), 'clusters', cluster, 'services', t.group.slice(8))] : [])) +
        `<h1 class="mono">${esc(t.id)}</h1>` +
        facts([['Last status', st(t.lastStatus), { id: 'task-status' }], ['Desired status', esc(t.desiredStatus), {}],
          ['Health', st(t.health), {}], ['Task definition', definitionLink(t.taskDefinition), {}],
          ['Group', t.group], ['Started by', t.startedBy], ['Launch type', t.launchType], ['CPU / memory', [t.cpu, t.memory].filter(Boolean).join(' / ')],
          ['Container instance', t.containerInstance], ['Host', t.host], ['Created', when(t.createdAt)], ['Pull started', when(t.pullStartedAt)],
          ['Pull stopped', when(t.pullStoppedAt)], ['Started', when(t.startedAt)], ['Stopping', when(t.stoppingAt)], ['Stopped', when(t.stoppedAt)],
          ['Stop code', t.stopCode], ['Stopped reason', esc(t.stoppedReason), { id: 'task-reason' }], ['ARN', t.arn]]) +
        `<h2>Containers</h2>` + table('containers', ['Container', 'Last status', 'Health', 'Exit code', 'Reason', 'Ports', 'Image', 'Runtime id'],
          t.containers.map((c) => '<tr>' + td('Container', esc(c.name)) + td('Last status', st(c.lastStatus)) + td('Health', st(c.health)) +
            td('Exit code', esc(c.exitCode)) + td('Reason', esc(c.reason)) + td('Ports', c.ports.map((p) => `<div class="mono">${esc(p)}</div>`).join('')) +
            td('Image', `<span class="mono">${esc(c.image)}</span>`) + td('Runtime id', `<span class="mono">${esc(c.runtimeId)}</span>`) + '</tr>').join(''));
      return {
        section: 'clusters',
        live: { cluster, task: id },
        load: () => api(`/clusters/${encodeURIComponent(cluster)}/tasks/${encodeURIComponent(id)}`),
        render: (t) => {
          colours = new Map(t.logs.map((s, i) => [s.container, i % 6]));
          return `<div id="task-detail">${detail(t)}</div><h2>Logs</h2>` +
            (t.logs.length ? `<p class="muted">${t.logs.map((s) => `${esc(s.container)}: <span class="mono">${esc(s.group)} ${esc(s.stream)}</span>`).join(' · ')}</p>`
              : '<p class="muted">No container of this task logs with awslogs; its output is in <code>docker logs</code>.</p>') +
            `<div id="logs" class="logs" role="log" aria-live="polite"></div>`;
        },
        // Only the details: the log pane keeps its lines.
        rerender: (t) => {
          colours = new Map(t.logs.map((s, i) => [s.container, i % 6]));
          const el = document.getElementById('task-detail');
          if (el) el.innerHTML = detail(t);
        },
        opened: () => { const pane = document.getElementById('logs'); if (pane) pane.textContent = ''; count = 0; },
        on: {
          tasks: (rows) => {
            const t = rows.find((r) => r.id === id);
            if (!t) return;
            const s = document.getElementById('task-status');
            if (s) s.innerHTML = st(t.lastStatus);
            refreshSoon();
          },
          log: (lines) => {
            const pane = document.getElementById('logs');
            if (!pane) return;
            const atEnd = pane.scrollHeight - pane.scrollTop - pane.clientHeight < 40;
            pane.insertAdjacentHTML('beforeend', lines.map((l) =>
              `<div class="ln c${colours.get(l.c) ?? 0}"><span class="lc">${esc(l.c)}</span><time>${esc(hms.format(l.t))}</time>${esc(l.m)}</div>`).join(''));
            count += lines.length;
            while (count > 5000 && pane.firstChild) { pane.firstChild.remove(); count--; }
            if (atEnd) pane.scrollTop = pane.scrollHeight;
          },
        },
      };
    },

    families: () => ({
      section: 'task-definitions',
      live: null,
      load: () => api('/task-definitions'),
      render: (list) => `<h1>Task definitions</h1>` + (list.length ? table('families', ['Family', 'Latest', 'Revisions', 'Active'],
        list.map((f) => '<tr>' + td('Family', a(f.family, 'task-definitions', f.family)) +
          td('Latest', a(f.family + ':' + f.latest, 'task-definitions', f.family, 'revisions', String(f.latest))) +
          td('Revisions', esc(f.revisions)) + td('Active', esc(f.active)) + '</tr>').join(''))
        : '<p class="muted">No task definitions in this region.</p>'),
    }),

    family: (family) => ({
      section: 'task-definitions',
      live: null,
      load: () => api(`/task-definitions/${encodeURIComponent(family)}`),
      render: (f) => {
        const options = (sel) => f.revisions.map((r) => `<option value="${esc(r.revision)}"${r.revision === sel ? ' selected' : ''}>${esc(r.revision)}</option>`).join('');
        const [newest, previous] = [f.revisions[0], f.revisions[1] || f.revisions[0]];
        return crumbs(a('Task definitions', 'task-definitions')) + `<h1>${esc(f.family)}</h1>` +
          `<form id="diff-form" class="tools">Compare <select id="diff-a" aria-label="From revision">${options(previous.revision)}</select>` +
          ` with <select id="diff-b" aria-label="To revision">${options(newest.revision)}</select> <button type="submit">Diff</button></form>` +
          table('revisions', ['Revision', 'Status', 'Registered', 'Containers', 'CPU', 'Memory', 'Network mode'],
            f.revisions.map((r) => '<tr>' + td('Revision', a(String(r.revision), 'task-definitions', f.family, 'revisions', String(r.revision))) +
              td('Status', st(r.status)) + td('Registered', age(r.registeredAt)) + td('Containers', r.containers.map((c) => `<div class="mono">${esc(c)}</div>`).join('')) +
              td('CPU', esc(r.cpu)) + td('Memory', esc(r.memory)) + td('Network mode', esc(r.networkMode)) + '</tr>').join(''));
      },
      mounted: () => {
        document.getElementById('diff-form').addEventListener('submit', (e) => {
          e.preventDefault();
          location.hash = href('task-definitions', family, 'diff', document.getElementById('diff-a').value, document.getElementById('diff-b').value);
        });
      },
    }),

    revision: (family, rev) => ({
      section: 'task-definitions',
      live: null,
      load: () => api(`/task-definitions/${encodeURIComponent(family)}/revisions/${encodeURIComponent(rev)}`),
      render: (def) => crumbs(a('Task definitions', 'task-definitions'), a(family, 'task-definitions', family)) +
        `<h1>${esc(family)}:${esc(rev)} ${st(def.status)}</h1>` +
        (Number(rev) > 1 ? `<p>${a(`Diff with revision ${Number(rev) - 1}`, 'task-definitions', family, 'diff', String(Number(rev) - 1), String(rev))}</p>` : '') +
        `<pre class="json">${esc(JSON.stringify(def, null, 2))}</pre>`,
    }),

    diff: (family, from, to) => ({
      section: 'task-definitions',
      live: null,
      load: () => api(`/task-definitions/${encodeURIComponent(family)}/diff/${encodeURIComponent(from)}/${encodeURIComponent(to)}`),
      render: (d) => {
        const show = (v) => (v === null || v === undefined ? '<span class="muted">(none)</span>' : `<pre>${esc(typeof v === 'string' ? v : JSON.stringify(v, null, 1))}</pre>`);
        return crumbs(a('Task definitions', 'task-definitions'), a(family, 'task-definitions', family)) +
          `<h1>${esc(family)}: ${a(String(d.a), 'task-definitions', family, 'revisions', String(d.a))} → ${a(String(d.b), 'task-definitions', family, 'revisions', String(d.b))}</h1>` +
          (d.changes.length ? table('diff', ['Field', `Revision ${d.a}`, `Revision ${d.b}`],
            d.changes.map((c) => `<tr>${td('Field', `<span class="mono">${esc(c.path)}</span>`)}<td class="before" data-l="${esc('Revision ' + d.a)}">${show(c.before)}</td>` +
              `<td class="after" data-l="${esc('Revision ' + d.b)}">${show(c.after)}</td></tr>`).join(''))
            : '<p class="muted">No differences.</p>');
      },
    }),

    loadBalancers: () => ({
      section: 'load-balancers',
      live: {},
      load: () => api('/load-balancers'),
      render: (list) => `<h1>Load balancers</h1>` + (list.length ? table('lbs', ['Load balancer', 'State', 'Scheme', 'Listeners', 'DNS name'],
        list.map((l) => '<tr>' + td('Load balancer', a(l.name, 'load-balancers', l.name)) + td('State', st(l.state)) +
          td('Scheme', esc(l.scheme)) + td('Listeners', esc(l.listeners.join(', '))) + td('DNS name', `<span class="mono">${esc(l.dnsName)}</span>`) + '</tr>').join(''))
        : '<p class="muted">No load balancers in this region.</p>'),
      on: { elb: () => refresh() },
    }),

    loadBalancer: (name) => ({
      section: 'load-balancers',
      live: {},
      load: () => api(`/load-balancers/${encodeURIComponent(name)}`),
      render: (l) => crumbs(a('Load balancers', 'load-balancers')) + `<h1>${esc(l.name)} ${st(l.state)}</h1>` +
        facts([['DNS name', l.dnsName], ['Scheme', l.scheme], ['ARN', l.arn]]) +
        `<h2>Listeners and rules</h2>` + (l.listenerRules.map((li) => `<div class="card"><b>${esc(li.protocolPort)}</b>` +
          table('rules', ['Priority', 'Conditions', 'Actions'], li.rules.map((r) => '<tr>' + td('Priority', esc(r.priority)) +
            td('Conditions', r.conditions.map((c) => `<div>${esc(c)}</div>`).join('') || '<span class="muted">(any request)</span>') +
            td('Actions', r.actions.map((x) => `<div>${esc(x)}</div>`).join('')) + '</tr>').join('')) + '</div>').join('') || '<p class="muted">No listeners.</p>') +
        `<h2>Target groups</h2>` + (l.targetGroups.map((g) => targetGroup(g, null)).join('') || '<p class="muted">No target groups in use.</p>'),
      on: { elb: () => refreshSoon() },
    }),
  };

  const routes = [
    [/^(?:clusters)?$/, views.clusters],
    [/^clusters\/([^/]+)$/, views.cluster],
    [/^clusters\/([^/]+)\/services\/([^/]+)$/, views.service],
    [/^clusters\/([^/]+)\/tasks\/([^/]+)$/, views.task],
    [/^task-definitions$/, views.families],
    [/^task-definitions\/([^/]+)$/, views.family],
    [/^task-definitions\/([^/]+)\/revisions\/(\d+)$/, views.revision],
    [/^task-definitions\/([^/]+)\/diff\/(\d+)\/(\d+)$/, views.diff],
    [/^load-balancers$/, views.loadBalancers],
    [/^load-balancers\/([^/]+)$/, views.loadBalancer],
  ];

  // --- the current view, its data and its live stream -----------------------------------

  let current = null; // { view, generation, rendered, queued: [] }
  let generation = 0;

  function route() {
    const path = location.hash.replace(/^#\/?/, '').replace(/\/$/, '');
    for (const [re, make] of routes) {
      const m = re.exec(path);
      if (m) {
        try { return make(...m.slice(1).map(decodeURIComponent)); } catch (e) { break; }
      }
    }
    return null;
  }

  async function refresh() {
    if (!current) return;
    const mine = current;
    const gen = ++generation;
    try {
      const data = await mine.view.load();
      if (gen !== generation || mine !== current) return; // a newer read or another view
      if (mine.rendered && mine.view.rerender) mine.view.rerender(data);
      else {
        main.innerHTML = mine.view.render(data);
        if (mine.view.mounted) mine.view.mounted(data);
      }
      if (!mine.rendered) {
        mine.rendered = true;
        // For bench/console.sh: the view is in the DOM, and (a frame later) painted.
        performance.mark('wharf-rendered');
        requestAnimationFrame(() => requestAnimationFrame(() => performance.mark('wharf-painted')));
      }
      const queued = mine.queued.splice(0);
      for (const [name, payload] of queued) deliver(name, payload);
    } catch (e) {
      if (mine !== current) return;
      main.innerHTML = `<p class="error">${esc(e.message)}</p>`;
    }
  }

  let soon = null;
  function refreshSoon() {
    if (soon) return;
    soon = setTimeout(() => { soon = null; refresh(); }, 250);
  }

  function deliver(name, payload) {
    if (!current) return;
    if (name === 'refetch') return refresh();
    if (!current.rendered) { current.queued.push([name, payload]); return; }
    const handler = current.view.on && current.view.on[name];
    if (handler) handler(payload);
  }

  // One EventSource per subscription (region, cluster, task); a view with the same one
  // keeps it. The view reads its data once the stream is open (the server subscribes
  // before it answers), and again whenever the stream reopens, so no change is missed.
  const live = { source: null, key: null, open: false };
  function connect(spec) {
    const key = spec ? new URLSearchParams({ region, ...spec }).toString() : null;
    if (key === live.key && live.source) {
      if (live.open) refresh();
      return; // else: the open event reads it
    }
    if (live.source) live.source.close();
    live.source = null;
    live.key = key;
    live.open = false;
    liveBadge.className = 'live';
    if (!key) { liveBadge.title = 'This page does not change by itself'; refresh(); return; }
    const source = new EventSource(`/console/events?${key}`);
    live.source = source;
    // Read anyway if the stream does not open soon (a proxy that buffers it).
    const fallback = setTimeout(() => { if (!live.open && live.source === source) refresh(); }, 1000);
    source.addEventListener('open', () => {
      clearTimeout(fallback);
      live.open = true;
      liveBadge.className = 'live on';
      liveBadge.title = 'Live updates: on';
      if (current && current.view.opened) current.view.opened();
      refresh();
    });
    source.addEventListener('error', () => {
      live.open = false;
      liveBadge.className = 'live off';
      liveBadge.title = 'Live updates: reconnecting';
    });
    for (const name of ['tasks', 'service', 'changed', 'elb', 'log', 'refetch']) {
      source.addEventListener(name, (e) => {
        if (live.source !== source) return;
        let payload;
        try { payload = JSON.parse(e.data); } catch (err) { return; }
        deliver(name, payload);
      });
    }
  }

  // A hidden or left page lets its stream go: a browser gives an origin six HTTP/1.1
  // connections in all, and a stream held by a background tab (or a page kept in the
  // back/forward cache) would take one each. Shown again, it reconnects and so rereads.
  function suspend() {
    if (!live.source) return;
    live.source.close();
    Object.assign(live, { source: null, key: null, open: false });
    liveBadge.className = 'live';
    liveBadge.title = 'Live updates: paused while the page is hidden';
  }
  function resume() {
    if (current && !live.source) connect(current.view.live);
  }
  window.addEventListener('pagehide', suspend);
  window.addEventListener('pageshow', (e) => { if (e.persisted) resume(); });
  document.addEventListener('visibilitychange', () => (document.hidden ? suspend() : resume()));

  function show() {
    const view = route();
    for (const link of document.querySelectorAll('.bar nav a')) {
      link.classList.toggle('on', !!view && link.dataset.section === view.section);
    }
    if (!view) {
      current = null;
      main.innerHTML = `<p class="error">No page at ${esc(location.hash)}.</p><p>${a('Clusters', 'clusters')}</p>`;
      return;
    }
    current = { view, rendered: false, queued: [] };
    main.innerHTML = '<p class="muted">Loading…</p>';
    connect(view.live);
  }

  async function regions() {
    const select = document.getElementById('region');
    try {
      const list = await api('/regions');
      select.innerHTML = list.map((r) => `<option${r === region ? ' selected' : ''}>${esc(r)}</option>`).join('');
    } catch (e) {
      select.innerHTML = `<option selected>${esc(region)}</option>`;
    }
    select.addEventListener('change', () => {
      const q = new URLSearchParams(location.search);
      q.set('region', select.value);
      location.search = q.toString();
    });
  }

  window.addEventListener('hashchange', show);
  show();
  regions();
})();
