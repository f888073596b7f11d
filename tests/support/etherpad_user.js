'use strict';
/**
 * A headless Etherpad 1.8.14 pad user for tests, driven by JSON lines (tests/support/etherpad.py).
 *
 *   node etherpad_user.js '{"etherpadDir": ".cache/etherpad-1.8.14", "url": "http://127.0.0.1:PORT",
 *                           "pad": "g.x$doc", "sessionID": "s.…" | null, "name": "Ann" | null}'
 *
 * Uses Etherpad's own socket.io-client 2.x and its Changeset/AttributePool code, and speaks the
 * protocol the browser client speaks (CLIENT_READY, USER_CHANGES, ACCEPT_COMMIT, NEW_CHANGES).
 * stdin commands:  {"cmd": "type", "id": n, "text": "..."}   append text before the final newline
 *                  {"cmd": "leave"}                            close the socket and exit
 * stdout events:   {"event": "ready", "text", "rev", "author", "readonly"}
 *                  {"event": "denied"}             accessStatus deny (at join, or later)
 *                  {"event": "text", "text", "rev"} after every change (ours or others')
 *                  {"event": "accepted", "id", "rev"}
 *                  {"event": "custom", "payload"}  a COLLABROOM CUSTOM message (plugin notify)
 *                  {"event": "disconnect", "reason"} the server's {disconnect: reason} or a close
 *                  {"event": "error", "message"}
 * One change is in flight at a time (the browser client's rule); others' changes arriving meanwhile
 * are transformed with Changeset.follow as the browser does.
 */

const path = require('path');
const readline = require('readline');

const options = JSON.parse(process.argv[2]);
const src = path.resolve(options.etherpadDir, 'src');
const io = require(path.join(src, 'node_modules/socket.io/node_modules/socket.io-client'));
const Changeset = require(path.join(src, 'static/js/Changeset'));
const AttributePool = require(path.join(src, 'static/js/AttributePool'));

const emit = (obj) => process.stdout.write(`${JSON.stringify(obj)}\n`);

let base = null; // the text at `rev` as the server has it
let rev = -1;
let author = null;
let inFlight = null; // {id, changeset} sent, not yet accepted
const queue = []; // type commands waiting for the one in flight
let joined = false;

const visibleText = () => (inFlight ? Changeset.applyToText(inFlight.changeset, base) : base);

const socket = io(options.url, {
  path: '/socket.io',
  query: {padId: options.pad},
  reconnection: false,
  transports: ['websocket'],
});

const send = (data) => socket.json.send({type: 'COLLABROOM', component: 'pad', data});

const sendNext = () => {
  if (inFlight || !queue.length || !joined) return;
  const {id, text} = queue.shift();
  const pool = new AttributePool();
  // Etherpad's text always ends with "\n"; insert before it, attributed to us.
  const changeset = Changeset.makeSplice(base, base.length - 1, 0, text, [['author', author]], pool);
  inFlight = {id, changeset};
  send({type: 'USER_CHANGES', baseRev: rev, changeset, apool: pool.toJsonable()});
};

const onCollab = (msg) => {
  if (msg.type === 'NEW_CHANGES') {
    if (msg.newRev !== rev + 1) return emit({event: 'error', message: `NEW_CHANGES ${msg.newRev} after ${rev}`});
    base = Changeset.applyToText(msg.changeset, base);
    rev = msg.newRev;
    if (inFlight) {
      inFlight.changeset = Changeset.follow(msg.changeset, inFlight.changeset, false, new AttributePool());
    }
    emit({event: 'text', text: visibleText(), rev});
  } else if (msg.type === 'ACCEPT_COMMIT') {
    if (!inFlight) return emit({event: 'error', message: 'ACCEPT_COMMIT without a change in flight'});
    base = Changeset.applyToText(inFlight.changeset, base);
    rev = msg.newRev;
    const {id} = inFlight;
    inFlight = null;
    emit({event: 'text', text: base, rev});
    emit({event: 'accepted', id, rev});
    sendNext();
  } else if (msg.type === 'CUSTOM') {
    emit({event: 'custom', payload: msg.payload});
  }
};

socket.on('connect', () => {
  socket.json.send({
    component: 'pad',
    type: 'CLIENT_READY',
    padId: options.pad,
    sessionID: options.sessionID || undefined,
    token: `t.${Math.random().toString(36).slice(2)}${Date.now().toString(36)}`,
    protocolVersion: 2,
  });
});

socket.on('message', (obj) => {
  if (obj.accessStatus) {
    emit({event: 'denied', accessStatus: obj.accessStatus});
  } else if (obj.disconnect) {
    emit({event: 'disconnect', reason: obj.disconnect});
  } else if (obj.type === 'CLIENT_VARS') {
    const vars = obj.data;
    const cv = vars.collab_client_vars;
    base = cv.initialAttributedText.text;
    rev = cv.rev;
    author = vars.userId;
    joined = true;
    if (options.name) {
      send({type: 'USERINFO_UPDATE', userInfo: {name: options.name, colorId: '#4477aa'}});
    }
    emit({event: 'ready', text: base, rev, author, readonly: !!vars.readonly});
    sendNext();
  } else if (obj.type === 'COLLABROOM' && obj.data) {
    onCollab(obj.data);
  }
});

socket.on('disconnect', (reason) => {
  emit({event: 'disconnect', reason: `socket: ${reason}`});
  process.exit(0);
});
socket.on('connect_error', (err) => {
  emit({event: 'error', message: `connect_error: ${err && err.message}`});
  process.exit(2);
});

readline.createInterface({input: process.stdin}).on('line', (line) => {
  let cmd;
  try {
    cmd = JSON.parse(line);
  } catch (err) {
    return emit({event: 'error', message: `bad command: ${line}`});
  }
  if (cmd.cmd === 'type') {
    queue.push({id: cmd.id, text: cmd.text});
    sendNext();
  } else if (cmd.cmd === 'leave') {
    socket.close();
    process.exit(0);
  }
}).on('close', () => {
  // The test process went away: leave like a closed browser tab.
  socket.close();
  process.exit(0);
});
