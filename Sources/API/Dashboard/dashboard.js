'use strict';
// Ferry's dashboard. The secret is read from its field once, for the token request, and the field is cleared;
// the token lives in this closure only (no storage, no cookies). Everything the API answers is shown as text
// (textContent, or attributes set from code): nothing from the server is ever parsed as HTML.
(function () {
  const POLL_MS = 1000;
  // Status reads per refresh, so a long list of running jobs cannot spend the app's whole request budget.
  const MAX_READS = 10;
  const JOB_PATH = /^\/media\/[a-z0-9_-]+$/;
  const FINAL = new Set(['Success', 'Failed', 'Cancelled', 'InternalError']);
  const SVG = 'http://www.w3.org/2000/svg';

  let token = null;
  let session = 0; // bumped on every sign-in and sign-out: answers meant for an older session are dropped
  let timer = null;
  let busy = false;
  let again = false;
  let jobs = [];
  const envelopes = new Map(); // job_id -> {envelope, read: refresh number}
  let refreshes = 0;
  let selected = null;
  const rowsByID = new Map(); // job_id -> its <tr>
  let shownDetail = '';

  const $ = (id) => document.getElementById(id);

  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    for (const child of children) {
      if (child === null || child === undefined) continue;
      node.append(child instanceof Node ? child : String(child));
    }
    return node;
  }

  function svg(tag, attributes, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  async function api(method, path, options = {}) {
    const headers = Object.assign({ Accept: 'application/json' }, options.headers || {});
    if (token && !headers.Authorization) headers.Authorization = 'Bearer ' + token;
    const response = await fetch(path, {
      method, headers, body: options.body, cache: 'no-store', credentials: 'omit', redirect: 'error',
    });
    let body = null;
    try {
      body = await response.json();
    } catch (_) {
      body = null;
    }
    if (!response.ok) {
      const detail = body && typeof body.detail === 'string' ? body.detail : 'HTTP ' + response.status;
      const error = new Error(detail);
      error.status = response.status;
      throw error;
    }
    return body;
  }

  function basic(key, secret) {
    let binary = '';
    for (const byte of new TextEncoder().encode(key + ':' + secret)) binary += String.fromCharCode(byte);
    return 'Basic ' + btoa(binary);
  }

  // MARK: Session

  async function signIn(event) {
    event.preventDefault();
    const keyField = $('key');
    const secretField = $('secret');
    const key = keyField.value.trim();
    const authorization = key && secretField.value ? basic(key, secretField.value) : null;
    secretField.value = '';
    $('login-error').textContent = '';
    if (!authorization) {
      $('login-error').textContent = 'Enter both the app key and the secret.';
      return;
    }
    const button = $('login-button');
    button.disabled = true;
    try {
      const answer = await api('POST', '/v1/auth/token', {
        headers: { Authorization: authorization, 'Content-Type': 'application/x-www-form-urlencoded' },
        body: 'grant_type=client_credentials',
      });
      if (!answer || typeof answer.access_token !== 'string') {
        throw new Error('the server answered without a token');
      }
      token = answer.access_token;
      session += 1;
      $('who').textContent = 'App ' + key;
      show(true);
      refresh();
    } catch (error) {
      $('login-error').textContent =
        error.status === 401 ? 'The app key or secret is wrong.' : 'Sign-in failed: ' + error.message;
    } finally {
      button.disabled = false;
    }
  }

  function signOut(message) {
    token = null;
    session += 1;
    clearTimeout(timer);
    timer = null;
    jobs = [];
    envelopes.clear();
    rowsByID.clear();
    selected = null;
    shownDetail = '';
    $('job-rows').replaceChildren();
    $('detail-body').replaceChildren();
    $('who').textContent = '';
    $('updated').textContent = '';
    show(false);
    $('login-error').textContent = message || '';
  }

  function show(signedIn) {
    $('login').hidden = signedIn;
    $('jobs').hidden = !signedIn;
    $('detail').hidden = true;
    $('who').hidden = !signedIn;
    $('signout').hidden = !signedIn;
    if (!signedIn) $('key').focus();
  }

  // MARK: Polling

  function schedule() {
    clearTimeout(timer);
    timer = null;
    if (token && !document.hidden) timer = setTimeout(refresh, POLL_MS);
  }

  async function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    clearTimeout(timer);
    try {
      await load(session);
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      return refresh();
    }
    schedule();
  }

  async function load(current) {
    if (!token) return;
    try {
      const list = await api('GET', '/media/jobs');
      if (current !== session) return;
      refreshes += 1;
      const listed = list && Array.isArray(list.jobs) ? list.jobs : [];
      jobs = listed.filter((job) => job && typeof job.job_id === 'string' && typeof job.status === 'string');
      // A final job's envelope never changes: read once. Active jobs are read on every refresh, the selected
      // one first.
      const stale = jobs.filter((job) => {
        if (!JOB_PATH.test(job.path)) return false;
        const known = envelopes.get(job.job_id);
        return !known || !FINAL.has(known.envelope.status) || !FINAL.has(job.status);
      });
      stale.sort((a, b) => (b.job_id === selected) - (a.job_id === selected));
      const round = refreshes;
      await Promise.all(
        stale.slice(0, MAX_READS).map(async (job) => {
          try {
            const envelope = await api('GET', job.path + '?job_id=' + encodeURIComponent(job.job_id));
            if (current === session && envelope && typeof envelope === 'object') {
              envelopes.set(job.job_id, { envelope, read: round });
            }
          } catch (error) {
            if (error.status === 401) throw error;
          }
        }),
      );
      if (current !== session) return;
      renderRows(round);
      if (selected) renderDetail(round);
      $('updated').textContent = 'Updated ' + new Date().toLocaleTimeString();
    } catch (error) {
      if (current !== session) return;
      if (error.status === 401) {
        signOut('The session ended (the token expired or was refused): sign in again.');
        return;
      }
      $('updated').textContent =
        error.status === 429 ? 'Slowed down by the rate limit.' : 'Cannot reach the server: ' + error.message;
    }
  }

  // The freshest view of a job: its envelope when read this refresh or final, else the listing.
  function current(job, round) {
    const known = envelopes.get(job.job_id);
    if (!known) return Object.assign({}, job);
    const fresh = known.read === round || FINAL.has(known.envelope.status);
    const view = Object.assign({}, job, { phase: known.envelope.phase, error: known.envelope.error });
    if (fresh) Object.assign(view, { status: known.envelope.status, progress: known.envelope.progress });
    view.envelope = known.envelope;
    return view;
  }

  // MARK: Table

  // Rows are kept and updated in place, keyed by job id: a row rebuilt every second would swallow a click
  // whose press and release straddle a refresh.
  function renderRows(round) {
    const ordered = jobs.map((job) => {
      let tr = rowsByID.get(job.job_id);
      if (!tr) {
        tr = newRow(job.job_id);
        rowsByID.set(job.job_id, tr);
      }
      fillRow(tr, current(job, round));
      return tr;
    });
    const listed = new Set(jobs.map((job) => job.job_id));
    for (const id of [...rowsByID.keys()]) if (!listed.has(id)) rowsByID.delete(id);
    const body = $('job-rows');
    const inOrder = ordered.length === body.children.length && ordered.every((tr, i) => body.children[i] === tr);
    if (!inOrder) body.replaceChildren(...ordered);
    $('empty').hidden = ordered.length > 0;
  }

  function newRow(jobID) {
    const tr = el('tr', { 'data-job-id': jobID });
    tr.append(el('td', { class: 'id', title: jobID }, el('code', {}, jobID.slice(0, 8))));
    for (const name of ['', '', '', '', 'num', 'num', 'num', 'error']) {
      tr.append(el('td', name ? { class: name } : {}));
    }
    const details = el('button', { type: 'button', class: 'details' }, 'Details');
    details.addEventListener('click', () => select(jobID));
    const cancelButton = el('button', { type: 'button', class: 'cancel' }, 'Cancel');
    cancelButton.addEventListener('click', () => cancel(jobID, cancelButton));
    tr.append(el('td', { class: 'actions' }, details, cancelButton));
    return tr;
  }

  function fillRow(tr, job) {
    const progress = clampProgress(job.progress);
    const started = date(job.time_started);
    const submitted = date(job.time_submitted);
    const completed = date(job.time_completed);
    const now = new Date();
    const waited = submitted ? ((started || completed || now) - submitted) / 1000 : null;
    const ran = started ? ((completed || now) - started) / 1000 : null;
    tr.dataset.status = job.status;
    tr.className = job.job_id === selected ? 'selected' : '';
    const cells = tr.cells;
    cells[1].textContent = operation(job.path);
    cells[2].replaceChildren(el('span', { class: 'badge ' + statusClass(job.status) }, job.status));
    cells[3].textContent = typeof job.phase === 'string' ? job.phase : '';
    cells[4].replaceChildren(
      el('div', { class: 'progress' }, el('progress', { max: 100, value: progress }), progress + '%'));
    cells[5].textContent = submitted ? clock(submitted) : '';
    cells[5].title = job.time_submitted || '';
    cells[6].textContent = waited === null ? '' : duration(waited);
    cells[7].textContent = ran === null ? '' : duration(ran);
    cells[8].replaceChildren(...errorParts(job.error));
    tr.querySelector('button.cancel').hidden = !(job.status === 'Pending' || job.status === 'Running');
  }

  function errorParts(error) {
    if (!error || typeof error !== 'object') return [];
    return [el('strong', {}, text(error.title)), text(error.detail)];
  }

  async function cancel(jobID, button) {
    button.disabled = true;
    const current = session;
    try {
      await api('POST', '/media/jobs/cancel?job_id=' + encodeURIComponent(jobID), {
        headers: { 'Content-Type': 'application/json' },
        body: '{}',
      });
    } catch (error) {
      if (current !== session) return;
      if (error.status === 401) return signOut('The session ended: sign in again.');
      $('updated').textContent = 'Cancel failed: ' + error.message;
    }
    button.disabled = false;
    if (current === session) refresh();
  }

  // MARK: Detail

  function select(jobID) {
    selected = jobID;
    shownDetail = '';
    $('detail').hidden = false;
    renderRows(refreshes);
    renderDetail(refreshes);
    $('detail').scrollIntoView({ block: 'start' });
    refresh();
  }

  function renderDetail(round) {
    const listed = jobs.find((job) => job.job_id === selected);
    if (!listed) {
      $('detail').hidden = true;
      return;
    }
    const job = current(listed, round);
    const envelope = job.envelope || {};
    // Re-drawn only when something shown changed, so a finished job's chart does not flicker.
    const key = JSON.stringify([
      job.job_id, job.status, job.progress, job.phase, job.time_completed, !!job.envelope]);
    if (key === shownDetail) return;
    shownDetail = key;
    $('detail-title').textContent = operation(job.path) + ' job ' + job.job_id;
    const facts = el('dl');
    const fact = (name, value) => facts.append(el('dt', {}, name), el('dd', {}, value));
    fact('Status', job.status);
    fact('Phase', text(job.phase));
    fact('Progress', clampProgress(job.progress) + '%');
    fact('Submitted', text(job.time_submitted));
    fact('Started', text(job.time_started));
    fact('Completed', text(job.time_completed));
    if (Number.isFinite(envelope.bytes_done) && envelope.bytes_done > 0) {
      const total = Number.isFinite(envelope.bytes_total) ? ' of ' + bytes(envelope.bytes_total) : '';
      fact('Transferred', bytes(envelope.bytes_done) + total);
    }
    const parts = [facts];
    if (envelope.error && typeof envelope.error === 'object') {
      parts.push(el('h3', {}, 'Error'));
      const error = el('dl');
      for (const name of ['title', 'detail', 'type']) {
        error.append(el('dt', {}, name), el('dd', {}, text(envelope.error[name])));
      }
      parts.push(error);
    }
    if (Array.isArray(envelope.attempts) && envelope.attempts.length > 0) {
      parts.push(el('h3', {}, 'Attempts'));
      const list = el('dl');
      for (const attempt of envelope.attempts) {
        if (!attempt || typeof attempt !== 'object') continue;
        list.append(el('dt', {}, `#${text(attempt.attempt)} ${text(attempt.at)}`));
        list.append(el('dd', {}, text(attempt.error)));
      }
      parts.push(list);
    }
    const result = envelope.result;
    const loudness = dig(result, ['processed_region', 'audio', 'loudness']);
    if (loudness && typeof loudness === 'object') {
      parts.push(el('h3', {}, 'Loudness'), summary(result), chart(loudness));
    }
    if (result !== undefined && result !== null) {
      parts.push(el('h3', {}, 'Result'), el('pre', {}, JSON.stringify(result, null, 2)));
    }
    $('detail-body').replaceChildren(...parts);
  }

  function summary(result) {
    const audio = dig(result, ['processed_region', 'audio']) || {};
    const box = el('div', { class: 'summary' });
    const item = (name, value, unit) => {
      const shown = Number.isFinite(value) ? `${number(value)} ${unit}` : '—';
      box.append(el('div', {}, el('span', {}, name), el('strong', {}, shown)));
    };
    const loudness = audio.loudness || {};
    item('Integrated', loudness.measured, 'LKFS');
    item('Range', loudness.range, 'LU');
    item('True peak', loudness.true_peak, 'dBTP');
    item('Sample peak', loudness.sample_peak, 'dBFS');
    item('Silence', dig(audio, ['silence', 'percentage']), '%');
    const clipped = dig(audio, ['clipping', 'num_sections']);
    const sections = Number.isFinite(clipped) ? `${clipped} sections` : '—';
    box.append(el('div', {}, el('span', {}, 'Clipping'), el('strong', {}, sections)));
    return box;
  }

  // Loudness over time as an inline SVG: one point per second (short-term loudness), the integrated loudness as
  // a dashed line.
  function chart(loudness) {
    const series = (Array.isArray(loudness.time_series) ? loudness.time_series : []).filter(
      (point) => Array.isArray(point) && Number.isFinite(point[0]) && Number.isFinite(point[1]),
    );
    if (series.length === 0) return el('p', {}, 'This result has no loudness time series.');
    const width = 760, height = 280, left = 56, right = 20, top = 18, bottom = 42;
    const integrated = Number.isFinite(loudness.measured) ? loudness.measured : null;
    const first = series[0][0];
    const last = Math.max(series[series.length - 1][0] + 1, first + 1);
    const values = series.map((point) => point[1]).concat(integrated === null ? [] : [integrated]);
    let low = Math.floor((Math.min(...values) - 2) / 10) * 10;
    const high = Math.ceil((Math.max(...values) + 2) / 10) * 10;
    if (high - low < 20) low = high - 20;
    const x = (t) => left + ((t - first) / (last - first)) * (width - left - right);
    const y = (value) => top + ((high - value) / (high - low)) * (height - top - bottom);
    const root = svg('svg', {
      class: 'chart', viewBox: `0 0 ${width} ${height}`, width, height, role: 'img',
      'aria-label': 'Short-term loudness over time',
    });
    const yStep = high - low > 40 ? 10 : 5;
    for (let value = low; value <= high; value += yStep) {
      root.append(svg('line', { class: 'grid', x1: left, x2: width - right, y1: y(value), y2: y(value) }));
      root.append(svg('text', { x: left - 8, y: y(value) + 4, 'text-anchor': 'end' }, String(value)));
    }
    const span = last - first;
    const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600];
    const xStep = steps.find((step) => span / step <= 10) || 7200;
    for (let t = Math.ceil(first / xStep) * xStep; t <= last; t += xStep) {
      root.append(svg('line', { class: 'grid', x1: x(t), x2: x(t), y1: top, y2: height - bottom }));
      root.append(svg('text', { x: x(t), y: height - bottom + 16, 'text-anchor': 'middle' }, timeLabel(t)));
    }
    root.append(svg('line', { class: 'axis', x1: left, x2: left, y1: top, y2: height - bottom }));
    const floor = height - bottom;
    root.append(svg('line', { class: 'axis', x1: left, x2: width - right, y1: floor, y2: floor }));
    const middle = top + (height - top - bottom) / 2;
    const yTitle = { x: 14, y: middle, transform: `rotate(-90 14 ${middle})`, 'text-anchor': 'middle' };
    root.append(svg('text', yTitle, 'LKFS'));
    const xTitle = { x: (left + width - right) / 2, y: height - 6, 'text-anchor': 'middle' };
    root.append(svg('text', xTitle, 'time (short-term loudness, one point a second)'));
    const points = series.map((point) => `${x(point[0] + 0.5).toFixed(1)},${y(point[1]).toFixed(1)}`).join(' ');
    root.append(svg('polyline', { class: 'loudness', points }));
    if (integrated !== null) {
      const level = y(integrated);
      root.append(svg('line', { class: 'integrated', x1: left, x2: width - right, y1: level, y2: level }));
      const label = { class: 'integrated-label', x: left + 6, y: level - 6, 'text-anchor': 'start' };
      root.append(svg('text', label, `integrated ${integrated.toFixed(1)} LKFS`));
    }
    return root;
  }

  // MARK: Formatting

  function dig(value, path) {
    for (const name of path) {
      if (!value || typeof value !== 'object') return undefined;
      value = value[name];
    }
    return value;
  }
  const text = (value) => (value === null || value === undefined ? '' : String(value));
  const number = (value) => (Number.isFinite(value) ? value.toFixed(1) : '—');
  const date = (value) => {
    const parsed = typeof value === 'string' ? new Date(value) : null;
    return parsed && !isNaN(parsed) ? parsed : null;
  };
  const clampProgress = (value) => (Number.isFinite(value) ? Math.max(0, Math.min(100, Math.round(value))) : 0);
  const operation = (path) => (typeof path === 'string' ? path.replace(/^\/media\//, '') : '');
  const clock = (when) => when.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  const statusClass = (status) =>
    ['Success', 'Failed', 'Cancelled', 'InternalError', 'Running', 'Pending'].includes(status)
      ? status.toLowerCase() : 'other';
  function duration(seconds) {
    if (!Number.isFinite(seconds) || seconds < 0) return '';
    if (seconds < 60) return seconds.toFixed(1) + ' s';
    if (seconds < 3600) return Math.floor(seconds / 60) + ' min ' + Math.floor(seconds % 60) + ' s';
    return Math.floor(seconds / 3600) + ' h ' + Math.floor((seconds % 3600) / 60) + ' min';
  }
  function timeLabel(t) {
    if (t < 60) return t + ' s';
    const minutes = Math.floor(t / 60), rest = t % 60;
    return minutes + ':' + String(rest).padStart(2, '0');
  }
  function bytes(count) {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let value = count, unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return (unit === 0 ? value : value.toFixed(1)) + ' ' + units[unit];
  }

  // MARK: Wiring

  document.addEventListener('DOMContentLoaded', () => {
    $('login-form').addEventListener('submit', signIn);
    $('signout').addEventListener('click', () => signOut(''));
    $('detail-close').addEventListener('click', () => {
      selected = null;
      shownDetail = '';
      $('detail').hidden = true;
      renderRows(refreshes);
    });
    document.addEventListener('visibilitychange', () => {
      if (document.hidden) {
        clearTimeout(timer);
        timer = null;
      } else if (token) {
        refresh();
      }
    });
    $('key').focus();
  });
})();
