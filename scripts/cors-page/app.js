// A browser app on another origin calling Ferry the way Dolby's browser samples call Dolby.io: a token from
// the token route with Basic auth and a form body, then the job routes with `Authorization: Bearer` and JSON
// bodies (both preflighted), polling the job until it ends. scripts/cors-browser.py starts `runEnhance` and
// reads `window.report` when it is set.
'use strict';

window.report = null;

async function runEnhance({ ferry, key, secret, input, output }) {
  const report = { origin: location.origin };
  const tokenAnswer = await fetch(ferry + '/v1/auth/token', {
    method: 'POST',
    headers: {
      Authorization: 'Basic ' + btoa(key + ':' + secret),
      'Content-Type': 'application/x-www-form-urlencoded',
    },
    body: new URLSearchParams({ grant_type: 'client_credentials' }),
  });
  report.token_status = tokenAnswer.status;
  const token = (await tokenAnswer.json()).access_token;
  const auth = { Authorization: 'Bearer ' + token };

  const posted = await fetch(ferry + '/media/enhance', {
    method: 'POST',
    headers: { ...auth, 'Content-Type': 'application/json' },
    body: JSON.stringify({ input, output, content: { type: 'podcast' } }),
  });
  report.post_status = posted.status;
  // An exposed header: readable only because Ferry says so.
  report.request_id = posted.headers.get('X-Request-Id');
  report.job_id = (await posted.json()).job_id;

  // Bounded: at most 240 polls, 250 ms apart.
  for (let poll = 0; poll < 240; poll += 1) {
    const answer = await fetch(ferry + '/media/enhance?job_id=' + encodeURIComponent(report.job_id), { headers: auth });
    const job = await answer.json();
    report.status = job.status;
    report.progress = job.progress;
    report.polls = poll + 1;
    if (job.status !== 'Pending' && job.status !== 'Running') break;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  // An error is readable too: its problem type, as Dolby's samples read it to decide whether to renew.
  const refused = await fetch(ferry + '/media/jobs', { headers: { Authorization: 'Bearer not-a-token' } });
  report.refused_status = refused.status;
  report.refused_type = (await refused.json()).type;
  return report;
}

// Proof that the browser enforces CORS here: Ferry's /health is same-origin only, so the page cannot read it.
async function readHealth(ferry) {
  try {
    await fetch(ferry + '/health');
    return 'read';
  } catch (error) {
    return 'blocked';
  }
}
