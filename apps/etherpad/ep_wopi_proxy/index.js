'use strict';
/**
 * ep_wopi_proxy: the Etherpad side of wopi-proxy's bridge (BRIDGE-CONTRACT.md, "Etherpad plugin").
 *
 * - Push: signed POST {edgeUrl}/bridge/etherpad/events for change (padUpdate; throttled per pad to
 *   one per second with a trailing send, API writes with author "" ignored), join (clientReady on
 *   1.8.14, userJoin from 1.8.15), leave (userLeave) and remove (padRemove). Fire-and-forget: the
 *   bridge's reconcile polling covers anything lost.
 * - GET /wopi-proxy/enter?code=: redeems a one-time code with the edge (signed POST
 *   {edgeUrl}/bridge/etherpad/redeem), sets the sessionID cookie of an Etherpad API session and
 *   redirects to the pad. No WOPI token ever reaches Etherpad or the browser.
 * - POST /wopi-proxy/notify, /wopi-proxy/kick: signed by the edge; a CUSTOM message to a pad's
 *   clients, or disconnect everyone from a pad.
 *
 * Signature (both ways): header X-WopiProxy-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret,
 * "<t>." + raw body)>, accepted within 300 s (shared/signatures.py is the Python twin).
 * Config: settings.json block "ep_wopi_proxy": {"edgeUrl", "secret"}; a JSON file named by env
 * EP_WOPI_PROXY_CONFIG wins when it exists and is re-read when it changes (secret rotation without
 * a restart). Node built-ins only. No hook ever throws (a throwing padUpdate kicks the user), the
 * secret and session ids are never logged, request bodies are capped and outbound calls time out.
 */

const crypto = require('crypto');
const fs = require('fs');
const http = require('http');
const https = require('https');
const {URL} = require('url');

const SIGNATURE_HEADER = 'X-WopiProxy-Signature';
const REPLAY_WINDOW_S = 300;
const MAX_BODY = 64 * 1024; // our routes' request bodies and the edge's answers
const OUTBOUND_TIMEOUT_MS = 5000;
const BODY_READ_TIMEOUT_MS = 10000;
const THROTTLE_MS = 1000;
// Outbound calls in flight at once: a slow or dead edge (5 s each) must not pile up sockets.
// Events over the cap are dropped (reconcile polling covers them); enters get a 503.
const MAX_EVENTS_IN_FLIGHT = 200;
const MAX_REDEEMS_IN_FLIGHT = 50;
const CODE_PATTERN = /^[A-Za-z0-9._~=-]{1,512}$/;
const SESSION_PATTERN = /^s\.[A-Za-z0-9]{1,64}$/;

// ---------------------------------------------------------------------------------------------
// Logging: brief, rate-limited (a dead edge must not flood Etherpad's log), never a secret.

const log = (level, text) => console[level](`[ep_wopi_proxy] ${text}`);
let warnWindowStart = 0;
let warnCount = 0;
const warn = (text) => {
  const now = Date.now();
  if (now - warnWindowStart > 10000) {
    if (warnCount > 5) log('warn', `${warnCount - 5} more warnings suppressed`);
    warnWindowStart = now;
    warnCount = 0;
  }
  if (++warnCount <= 5) log('warn', text);
};
const errText = (err) => String((err && (err.code || err.message)) || err).slice(0, 200);
const guard = (what, fn) => {
  try {
    const result = fn();
    if (result && typeof result.catch === 'function') {
      result.catch((err) => warn(`${what} failed: ${errText(err)}`));
    }
  } catch (err) {
    warn(`${what} failed: ${errText(err)}`);
  }
};

// Etherpad's own modules: resolved from the server's entry point, because this folder is usually
// a symlink from outside Etherpad's tree and Node resolves `require` from the real path.
const core = (name) => {
  try {
    return require.main.require(`ep_etherpad-lite/${name}`);
  } catch (err) {
    return require(`ep_etherpad-lite/${name}`);
  }
};

// ---------------------------------------------------------------------------------------------
// Configuration

let settingsRef = null; // Etherpad's settings object, from the loadSettings hook
let fileState = {key: null, config: null};

const parseConfig = (raw) => {
  if (raw == null || typeof raw !== 'object') return null;
  const {edgeUrl, secret} = raw;
  if (typeof edgeUrl !== 'string' || typeof secret !== 'string' || secret === '') return null;
  let url;
  try {
    url = new URL(edgeUrl);
  } catch (err) {
    return null;
  }
  if (!['http:', 'https:'].includes(url.protocol) || url.search || url.hash) return null;
  if (url.username || url.password) return null;
  const base = `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
  return {edgeUrl: base, secret: Buffer.from(secret, 'utf8')};
};

const settingsConfig = () => {
  let block = settingsRef && settingsRef.ep_wopi_proxy;
  if (block === undefined) {
    try {
      block = core('node/utils/Settings').ep_wopi_proxy;
    } catch (err) {
      block = undefined;
    }
  }
  return parseConfig(block);
};

/** The current {edgeUrl, secret} or null when not configured. Cheap: one stat per call. */
const config = () => {
  const path = process.env.EP_WOPI_PROXY_CONFIG;
  if (path) {
    let st = null;
    try {
      st = fs.statSync(path);
    } catch (err) {
      st = null;
    }
    if (st) {
      const key = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (key !== fileState.key) {
        let parsed = null;
        try {
          if (st.size <= MAX_BODY) parsed = parseConfig(JSON.parse(fs.readFileSync(path, 'utf8')));
        } catch (err) {
          parsed = null;
        }
        if (parsed) log('info', `configuration read from ${path} (edge ${parsed.edgeUrl})`);
        else if (st.size > 2) warn(`${path} is not JSON with "edgeUrl" (http/https URL) and "secret"`);
        else log('info', `${path} is empty: not configured`);
        fileState = {key, config: parsed};
      }
      // The file wins even when invalid: a half-rotated secret must not revive an older one.
      return fileState.config;
    }
  }
  return settingsConfig();
};

// ---------------------------------------------------------------------------------------------
// Signatures (same scheme as shared/signatures.py)

const mac = (secret, timestamp, body) => crypto.createHmac('sha256', secret)
    .update(`${timestamp}.`).update(body).digest('hex');

const sign = (secret, body, now) => {
  const timestamp = now == null ? Math.floor(Date.now() / 1000) : now;
  return `t=${timestamp},v1=${mac(secret, timestamp, body)}`;
};

const verify = (secret, body, header, now) => {
  if (typeof header !== 'string' || header === '' || header.length > 200) return false;
  const fields = new Map();
  for (const part of header.split(',')) {
    const item = part.trim();
    const eq = item.indexOf('=');
    if (eq < 0 || fields.has(item.slice(0, eq))) return false;
    fields.set(item.slice(0, eq), item.slice(eq + 1));
  }
  const t = fields.get('t') || '';
  const given = Buffer.from(fields.get('v1') || '', 'utf8');
  if (!/^[0-9]{1,12}$/.test(t) || given.length !== 64) return false;
  const timestamp = Number(t);
  const current = now == null ? Math.floor(Date.now() / 1000) : now;
  if (Math.abs(current - timestamp) > REPLAY_WINDOW_S) return false;
  return crypto.timingSafeEqual(given, Buffer.from(mac(secret, timestamp, body), 'utf8'));
};

// ---------------------------------------------------------------------------------------------
// Outbound: one signed JSON POST to the edge, with a hard deadline and a capped answer.

const postSigned = (cfg, path, payload) => new Promise((resolve, reject) => {
  const body = Buffer.from(JSON.stringify(payload), 'utf8');
  const url = new URL(`${cfg.edgeUrl}${path}`);
  const transport = url.protocol === 'https:' ? https : http;
  let settled = false;
  let timer = null;
  const settle = (fn, value) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    fn(value);
  };
  const req = transport.request(url, {
    method: 'POST',
    agent: false, // no idle keep-alive sockets racing the edge's own idle timeout
    headers: {
      'Content-Type': 'application/json',
      'Content-Length': body.length,
      'User-Agent': 'ep_wopi_proxy',
      [SIGNATURE_HEADER]: sign(cfg.secret, body),
    },
  }, (res) => {
    const chunks = [];
    let size = 0;
    res.on('data', (chunk) => {
      size += chunk.length;
      if (size > MAX_BODY) req.destroy(new Error('answer too large'));
      else chunks.push(chunk);
    });
    res.on('end', () => settle(resolve, {status: res.statusCode, body: Buffer.concat(chunks)}));
    res.on('error', (err) => settle(reject, err));
  });
  timer = setTimeout(() => req.destroy(new Error('timed out')), OUTBOUND_TIMEOUT_MS);
  req.on('error', (err) => settle(reject, err));
  req.end(body);
});

// ---------------------------------------------------------------------------------------------
// Events

let eventsInFlight = 0;
const sendEvent = (event, pad, rev, author) => {
  const cfg = config();
  if (!cfg) return;
  if (eventsInFlight >= MAX_EVENTS_IN_FLIGHT) {
    warn(`${event} event for ${pad} dropped: ${eventsInFlight} events already in flight`);
    return;
  }
  const payload = {event, pad, rev: Number.isInteger(rev) ? rev : 0, author: author || '',
    ts: Date.now()};
  eventsInFlight++;
  postSigned(cfg, '/bridge/etherpad/events', payload).then(({status}) => {
    if (status < 200 || status >= 300) warn(`${event} event for ${pad}: edge answered ${status}`);
  }, (err) => warn(`${event} event for ${pad} not delivered: ${errText(err)}`))
      .finally(() => { eventsInFlight--; });
};

// Per-pad throttle: the first change is sent at once and opens a 1 s window; changes inside the
// window only remember the latest revision, sent when the window closes (which opens the next).
const windows = new Map(); // pad id -> {timer, pending: {rev, author} | null}

const closeWindow = (pad) => {
  const win = windows.get(pad);
  if (!win) return;
  if (win.pending) {
    sendEvent('change', pad, win.pending.rev, win.pending.author);
    win.pending = null;
    win.timer = setTimeout(() => guard('change window', () => closeWindow(pad)), THROTTLE_MS);
  } else {
    windows.delete(pad);
  }
};

const noteChange = (pad, rev, author) => {
  const win = windows.get(pad);
  if (win) {
    if (!win.pending || rev >= win.pending.rev) win.pending = {rev, author};
    return;
  }
  sendEvent('change', pad, rev, author);
  windows.set(pad, {
    pending: null,
    timer: setTimeout(() => guard('change window', () => closeWindow(pad)), THROTTLE_MS),
  });
};

const padIdOf = (ctx) => (ctx.pad && ctx.pad.id) || ctx.padID || ctx.padId;
const authorOf = (ctx) => ctx.authorId != null ? ctx.authorId : ctx.author;

const headRev = async (padId) => {
  const padManager = core('node/db/PadManager');
  if (!(await padManager.doesPadExist(padId))) return 0;
  return (await padManager.getPad(padId)).getHeadRevisionNumber();
};

// 1.8.15 added userJoin (with the author); before it only clientReady exists, without the author.
let hasUserJoin = null;
const etherpadHasUserJoin = () => {
  if (hasUserJoin == null) {
    try {
      const [major, minor, patch] = core('package.json').version.split('.').map(Number);
      hasUserJoin = major > 1 || (major === 1 && (minor > 8 || (minor === 8 && patch >= 15)));
    } catch (err) {
      hasUserJoin = false;
    }
  }
  return hasUserJoin;
};

// The author behind a CLIENT_READY: the same access check Etherpad just granted (clientReady
// runs only after it), so an API session maps to its author and a token to the token's author.
const joinFromClientReady = async (padId, sessionID, token) => {
  const {accessStatus, authorID} =
      await core('node/db/SecurityManager').checkAccess(padId, sessionID, token, null);
  if (accessStatus !== 'grant' || !authorID) return;
  const readOnlyManager = core('node/db/ReadOnlyManager');
  const pad = readOnlyManager.isReadOnlyId(padId) ? await readOnlyManager.getPadId(padId) : padId;
  if (!pad) return;
  sendEvent('join', pad, await headRev(pad), authorID);
};

// ---------------------------------------------------------------------------------------------
// Hooks: each returns undefined synchronously (Etherpad 1.8.14 calls most of them synchronously)
// and never throws.

exports.loadSettings = (hookName, ctx) => {
  guard('loadSettings', () => { settingsRef = ctx && ctx.settings; });
};

let io = null;
exports.socketio = (hookName, ctx) => {
  guard('socketio', () => { io = ctx && ctx.io; });
};

exports.padUpdate = (hookName, ctx) => {
  guard('padUpdate', () => {
    const author = authorOf(ctx);
    if (typeof author !== 'string' || author === '') return; // the bridge's own API writes
    const rev = Number.isInteger(ctx.revs) ? ctx.revs : ctx.pad.getHeadRevisionNumber();
    noteChange(padIdOf(ctx), rev, author);
  });
};

exports.clientReady = (hookName, message) => {
  guard('clientReady', () => {
    if (etherpadHasUserJoin() || !message || typeof message.padId !== 'string') return;
    return joinFromClientReady(message.padId, message.sessionID, message.token);
  });
};

exports.userJoin = (hookName, ctx) => {
  guard('userJoin', async () => {
    const pad = ctx.padId;
    sendEvent('join', pad, await headRev(pad), authorOf(ctx));
  });
};

exports.userLeave = (hookName, session) => {
  guard('userLeave', () => {
    // rev: the last revision Etherpad sent to that client (no DB read: the pad may be going away).
    if (session && session.padId) sendEvent('leave', session.padId, session.rev, authorOf(session));
  });
};

exports.padRemove = (hookName, ctx) => {
  guard('padRemove', () => {
    const pad = padIdOf(ctx);
    const win = windows.get(pad);
    if (win) {
      clearTimeout(win.timer);
      windows.delete(pad);
    }
    sendEvent('remove', pad, ctx.pad ? ctx.pad.head : 0, '');
  });
};

// ---------------------------------------------------------------------------------------------
// Routes

const INVALID_LINK_PAGE = '<!doctype html><html><head><meta charset="utf-8"><title>Link expired' +
    '</title></head><body><p>This link is no longer valid.</p></body></html>\n';

const invalidLink = (res) => {
  res.status(403).set({'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer'}).send(INVALID_LINK_PAGE);
};

const json = (res, status, payload) => {
  res.status(status).set({'Content-Type': 'application/json', 'Cache-Control': 'no-store'})
      .send(JSON.stringify(payload));
};
const unauthorized = (res) => json(res, 401, {error: 'unauthorized'});

class HttpError extends Error {
  constructor(status, reason) {
    super(reason);
    this.status = status;
  }
}

const readBody = (req) => new Promise((resolve, reject) => {
  const declared = Number(req.headers['content-length']);
  if (declared > MAX_BODY) return reject(new HttpError(413, 'too large'));
  const chunks = [];
  let size = 0;
  const timer = setTimeout(() => reject(new HttpError(408, 'timeout')), BODY_READ_TIMEOUT_MS);
  req.on('data', (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) {
      clearTimeout(timer);
      req.pause();
      reject(new HttpError(413, 'too large'));
    } else {
      chunks.push(chunk);
    }
  });
  req.on('end', () => {
    clearTimeout(timer);
    resolve(Buffer.concat(chunks));
  });
  req.on('error', (err) => {
    clearTimeout(timer);
    reject(err);
  });
});

const asyncRoute = (what, handler) => (req, res) => {
  handler(req, res).catch((err) => {
    if (err instanceof HttpError) {
      res.set('Connection', 'close'); // the rest of the body is not read
      json(res, err.status, {error: err.message});
    } else {
      warn(`${what} failed: ${errText(err)}`);
      if (!res.headersSent) json(res, 500, {error: 'internal'});
    }
  });
};

// A signed edge → Etherpad call: 401 for anything unsigned, stale, mis-signed or naming a pad that
// does not exist (one answer, so a caller learns nothing), 400 for a signed but malformed body.
const signedPadRequest = async (req, res) => {
  const body = await readBody(req);
  const cfg = config();
  if (!cfg || !verify(cfg.secret, body, req.headers[SIGNATURE_HEADER.toLowerCase()])) {
    unauthorized(res);
    return null;
  }
  let message = null;
  try {
    message = JSON.parse(body.toString('utf8'));
  } catch (err) {
    message = null;
  }
  if (!message || typeof message !== 'object' || typeof message.pad !== 'string') {
    json(res, 400, {error: 'bad request'});
    return null;
  }
  const padManager = core('node/db/PadManager');
  if (!padManager.isValidPadId(message.pad) || !(await padManager.doesPadExist(message.pad))) {
    unauthorized(res);
    return null;
  }
  return message;
};

const notify = async (req, res) => {
  const message = await signedPadRequest(req, res);
  if (!message) return;
  if (typeof message.message !== 'string') return json(res, 400, {error: 'bad request'});
  core('node/handler/PadMessageHandler').handleCustomObjectMessage({
    type: 'COLLABROOM',
    data: {type: 'CUSTOM', payload: {padId: message.pad, action: 'wopiProxyNotify',
      message: message.message}},
  }, null);
  res.status(204).end();
};

// Everyone on the pad gets {disconnect: "deleted"} (what browsers show), then the server drops
// their sockets, so a client that ignores the message cannot keep editing on that connection.
const disconnectRoom = (pad) => {
  if (!io) return;
  if (typeof io.in(pad).disconnectSockets === 'function') { // socket.io >= 4 (Etherpad 2.x)
    io.in(pad).disconnectSockets(true);
    return;
  }
  const room = io.sockets.adapter.rooms[pad];
  for (const id of Object.keys((room && room.sockets) || {})) {
    const socket = io.sockets.connected[id];
    if (socket) socket.disconnect(true);
  }
};

const kick = async (req, res) => {
  const message = await signedPadRequest(req, res);
  if (!message) return;
  core('node/handler/PadMessageHandler').kickSessionsFromPad(message.pad);
  // Let the "deleted" message leave first; then close what is left.
  setTimeout(() => guard('kick', () => disconnectRoom(message.pad)), 250).unref();
  res.status(204).end();
};

// Etherpad reads a comma-separated list of API sessions from the cookie and uses the one of the
// pad's group (SessionManager.findAuthorID): keep the browser's other valid-looking sessions (say,
// a document of another tenant open in another tab, whose reconnects need them), newest first.
const MAX_KEPT_SESSIONS = 4;
const sessionList = (req, sessionID) => {
  const current = String((req.cookies && req.cookies.sessionID) || '').replace(/^"|"$/g, '');
  const kept = current.split(',').map((id) => id.trim())
      .filter((id) => SESSION_PATTERN.test(id) && id !== sessionID);
  return [sessionID, ...new Set(kept)].slice(0, 1 + MAX_KEPT_SESSIONS).join(',');
};

let redeemsInFlight = 0;
const enter = async (req, res) => {
  // Etherpad's access log prints originalUrl: keep the one-time code out of it.
  req.originalUrl = req.originalUrl.replace(/([?&]code=)[^&]*/g, '$1[redacted]');
  if (req.method !== 'GET') return res.status(405).set('Allow', 'GET').end();
  const code = typeof req.query.code === 'string' ? req.query.code : '';
  if (!CODE_PATTERN.test(code)) return invalidLink(res);
  const cfg = config();
  if (!cfg) {
    warn('enter: no edgeUrl/secret configured');
    return invalidLink(res);
  }
  if (redeemsInFlight >= MAX_REDEEMS_IN_FLIGHT) {
    warn('enter: too many redemptions in flight');
    return res.status(503).set({'Retry-After': '5', 'Cache-Control': 'no-store'}).end();
  }
  let answer;
  redeemsInFlight++;
  try {
    answer = await postSigned(cfg, '/bridge/etherpad/redeem', {code});
  } catch (err) {
    warn(`enter: redeem failed: ${errText(err)}`);
    return invalidLink(res);
  } finally {
    redeemsInFlight--;
  }
  if (answer.status !== 200) return invalidLink(res);
  let grant = null;
  try {
    grant = JSON.parse(answer.body.toString('utf8'));
  } catch (err) {
    grant = null;
  }
  const now = Date.now() / 1000;
  if (!grant || typeof grant !== 'object' ||
      typeof grant.sessionID !== 'string' || !SESSION_PATTERN.test(grant.sessionID) ||
      typeof grant.pad !== 'string' || !core('node/db/PadManager').isValidPadId(grant.pad) ||
      /[\x00-\x1f\x7f]/.test(grant.pad) ||
      (grant.userName != null && typeof grant.userName !== 'string') ||
      !Number.isFinite(grant.validUntil) || grant.validUntil <= now) {
    warn('enter: the edge answered 200 with an unusable grant');
    return invalidLink(res);
  }
  const proto = String(req.headers['x-forwarded-proto'] || '').split(',')[0].trim().toLowerCase();
  const secure = req.secure || proto === 'https';
  const expires = new Date(Math.floor(grant.validUntil) * 1000).toUTCString();
  const cookie = `sessionID=${sessionList(req, grant.sessionID)}; Path=/; Expires=${expires}` +
      (secure ? '; Secure; SameSite=None' : '; SameSite=Lax');
  const userName = (grant.userName || '').slice(0, 200);
  res.status(302).set({
    'Set-Cookie': cookie,
    'Location': `/p/${encodeURIComponent(grant.pad)}?userName=${encodeURIComponent(userName)}`,
    'Cache-Control': 'no-store',
    'Referrer-Policy': 'no-referrer',
  }).end();
};

exports.expressCreateServer = (hookName, ctx) => {
  guard('expressCreateServer', () => {
    const {app} = ctx;
    app.get('/wopi-proxy/enter', asyncRoute('enter', enter));
    app.post('/wopi-proxy/notify', asyncRoute('notify', notify));
    app.post('/wopi-proxy/kick', asyncRoute('kick', kick));
    log('info', 'routes /wopi-proxy/{enter,notify,kick} ready');
  });
};

// For unit checks of the signature scheme (tests compare with shared/signatures.py).
exports._sign = sign;
exports._verify = verify;
