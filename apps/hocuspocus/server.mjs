// The Hocuspocus (Yjs) server that wopi-proxy bridges (BRIDGE-CONTRACT "Hocuspocus"; README.md here
// documents every request and answer the wopi-proxy edge must implement).
//
// One document = one Y.Text named `content` (plain text / Markdown). Upstream's webhook extension tells
// the edge about `connect`, `create`, `change` and `disconnect`, signed with X-Hocuspocus-Signature-256;
// the SQLite extension is the durable buffer (Hocuspocus unloads a document even when storing failed,
// so edits live in SQLite until the edge has saved them); `GET/PUT/DELETE /doc/<name>` let the edge
// reconcile and reset documents. Node built-ins plus the pinned packages of package.json only.
//
// Env: HOCUSPOCUS_HOST (127.0.0.1), HOCUSPOCUS_PORT (1234; 0 = ephemeral), WEBHOOK_URL, WEBHOOK_SECRET
// (or WEBHOOK_SECRET_FILE), API_KEY (or API_KEY_FILE), SQLITE_PATH, MAX_DOCUMENT_BYTES (32 MiB),
// WEBHOOK_TIMEOUT_MS (10000), READY_FILE (optional: {"port": N} written once listening).
// Never logs a secret, a client token, a request header or document content.

import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { Server } from "@hocuspocus/server";
import { Events, Webhook } from "@hocuspocus/extension-webhook";
import { SQLite } from "@hocuspocus/extension-sqlite";
import { Forbidden } from "@hocuspocus/common";
import * as Y from "yjs";

const FIELD = "content";
const MAX_NAME_LENGTH = 255; // the SQLite extension's column is varchar(255)
const MAX_TOKEN_LENGTH = 4096;
const WEBHOOK_ANSWER_SLACK = 64 * 1024; // a create answer is the document plus JSON framing
// Marks the direct connections our /doc routes open, so their loads and edits do not call the edge
// back (a PUT from the edge must not come back to it as a `change`). A Symbol: no JSON can forge it.
const API_ORIGIN = Symbol("wopi-proxy-api");

function fail(message) {
  console.error(`hocuspocus: ${message}`);
  process.exit(2);
}

function secretFromEnv(name) {
  const file = process.env[`${name}_FILE`];
  const value = file ? readFileSync(file, "utf8").trim() : (process.env[name] ?? "");
  if (!value) fail(`${name} (or ${name}_FILE) is required`);
  return value;
}

function intFromEnv(name, fallback, min = 0) {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min) fail(`${name} must be an integer >= ${min}`);
  return value;
}

const settings = {
  host: process.env.HOCUSPOCUS_HOST || "127.0.0.1",
  port: intFromEnv("HOCUSPOCUS_PORT", 1234),
  webhookUrl: process.env.WEBHOOK_URL || fail("WEBHOOK_URL is required"),
  webhookSecret: secretFromEnv("WEBHOOK_SECRET"),
  apiKey: secretFromEnv("API_KEY"),
  sqlitePath: process.env.SQLITE_PATH || fail("SQLITE_PATH is required (the durable buffer)"),
  maxDocumentBytes: intFromEnv("MAX_DOCUMENT_BYTES", 32 * 1024 * 1024, 1),
  webhookTimeoutMs: intFromEnv("WEBHOOK_TIMEOUT_MS", 10000, 1),
  readyFile: process.env.READY_FILE || "",
};
try {
  const parsed = new URL(settings.webhookUrl);
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new Error();
} catch {
  fail("WEBHOOK_URL must be an http(s) URL");
}

// ---------------------------------------------------------------------------------------------------
// Text <-> Y.Doc: the webhook JSON is {"content": "<text>"}.

const textTransformer = {
  fromYdoc(document) {
    return { [FIELD]: document.getText(FIELD).toString() };
  },
  toYdoc(value, fieldName) {
    const document = new Y.Doc();
    if (fieldName === FIELD && typeof value === "string") document.getText(FIELD).insert(0, value);
    return document;
  },
};

// ---------------------------------------------------------------------------------------------------
// The webhook extension, tightened where upstream's defaults would lose or leak data.

class WebhookError extends Error {}

async function readCapped(response, limit) {
  const chunks = [];
  let size = 0;
  for await (const chunk of response.body ?? []) {
    size += chunk.length;
    if (size > limit) throw new WebhookError(`answer over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

// Request headers the edge has no use for and that may carry other credentials of the browser (cookies of
// sites sharing Hocuspocus's host name, an Authorization of a proxy): dropped from every webhook payload.
const WITHHELD_HEADERS = new Set(["cookie", "authorization", "proxy-authorization", "sec-websocket-key"]);

function withoutCredentials(payload) {
  if (!isPlainObject(payload?.requestHeaders)) return payload;
  const requestHeaders = Object.fromEntries(
    Object.entries(payload.requestHeaders).filter(([name]) => !WITHHELD_HEADERS.has(name.toLowerCase())),
  );
  return { ...payload, requestHeaders };
}

function isPlainObject(value) {
  return value !== null && typeof value === "object" && !Array.isArray(value);
}

function validName(name) {
  // eslint-disable-next-line no-control-regex
  return typeof name === "string" && name.length > 0 && name.length <= MAX_NAME_LENGTH && !/[\u0000-\u001f\u007f]/.test(name);
}

function fromApi(context) {
  return context?.[API_ORIGIN] === true;
}

class BridgeWebhook extends Webhook {
  // Upstream posts with axios: no timeout (a hung edge would hang every connect), redirects followed,
  // proxy variables honoured, answers unbounded. Same body (minus credential headers) and signature,
  // stricter transport; answers {status, data} like axios and throws on non-2xx like axios does.
  async sendRequest(event, payload) {
    // sentAt (ms) is inside the signed body: the edge refuses a webhook older than its replay window, so a
    // captured `create` cannot be replayed later to read the document.
    const json = JSON.stringify({ event, payload: withoutCredentials(payload), sentAt: Date.now() });
    const response = await fetch(this.configuration.url, {
      method: "POST",
      body: json,
      redirect: "manual",
      signal: AbortSignal.timeout(settings.webhookTimeoutMs),
      headers: {
        "X-Hocuspocus-Signature-256": this.createSignature(json),
        "Content-Type": "application/json",
      },
    });
    const text = await readCapped(response, settings.maxDocumentBytes + WEBHOOK_ANSWER_SLACK);
    if (response.status < 200 || response.status > 299) {
      throw new WebhookError(`${event} answered ${response.status}`);
    }
    let data = text;
    if (text.length > 0) {
      try {
        data = JSON.parse(text);
      } catch {
        throw new WebhookError(`${event} answered invalid JSON`);
      }
    }
    return { status: response.status, data };
  }

  // Upstream sends `connect` from onConnect, which runs before the client's token arrives. We send the
  // same event from onAuthenticate with the token added, so the edge can redeem it. Fail closed: only a
  // 200 whose body is a JSON object admits the client; that object becomes the connection's context
  // (sent back with every change/disconnect), and `"readOnly": true` in it makes the connection read-only.
  async onConnect() {}

  async onAuthenticate(data) {
    // Refused here without asking the edge: names the /doc routes could not address, absurd tokens.
    if (!validName(data.documentName) || typeof data.token !== "string" || data.token.length === 0
        || data.token.length > MAX_TOKEN_LENGTH) {
      throw Forbidden;
    }
    let answer;
    try {
      answer = await this.sendRequest(Events.onConnect, {
        documentName: data.documentName,
        requestHeaders: data.requestHeaders,
        requestParameters: Object.fromEntries(data.requestParameters.entries()),
        token: data.token,
      });
    } catch (error) {
      console.error(`hocuspocus: connect to ${JSON.stringify(data.documentName)} refused: ${error.message}`);
      throw Forbidden;
    }
    if (answer.status !== 200 || !isPlainObject(answer.data)) {
      console.error(`hocuspocus: connect to ${JSON.stringify(data.documentName)} refused: answer is not a JSON object`);
      throw Forbidden;
    }
    if (answer.data.readOnly === true) data.connectionConfig.readOnly = true;
    return answer.data;
  }

  // Upstream leaves the document empty when `create` fails; a user would then type into an empty
  // document and the next save would overwrite the file with it. Here the load fails instead (the
  // client is disconnected), unless SQLite already gave this document its text.
  async onLoadDocument(data) {
    if (fromApi(data.context)) return;
    let content = null;
    try {
      const answer = await this.sendRequest(Events.onCreate, {
        documentName: data.documentName,
        requestHeaders: data.requestHeaders,
        requestParameters: Object.fromEntries(data.requestParameters.entries()),
        context: data.context, // ours: the connect answer of the client that made Hocuspocus load it
      });
      if (answer.status === 200 && isPlainObject(answer.data) && typeof answer.data[FIELD] === "string") {
        content = answer.data[FIELD];
      } else {
        throw new WebhookError('create answer is not {"content": "<text>"}');
      }
    } catch (error) {
      if (data.document.isEmpty(FIELD)) {
        console.error(`hocuspocus: create ${JSON.stringify(data.documentName)} failed: ${error.message}`);
        throw error;
      }
      return; // the durable buffer holds newer edits than the edge could give
    }
    if (data.document.isEmpty(FIELD)) data.document.merge(textTransformer.toYdoc(content, FIELD));
  }

  async onChange(data) {
    if (fromApi(data.context)) return;
    return super.onChange(data);
  }

  async onDisconnect(data) {
    if (fromApi(data.context)) return;
    return super.onDisconnect(data);
  }
}

// ---------------------------------------------------------------------------------------------------
// SQLite: upstream's store does not wait for the write; ours does, so "stored" means on disk.

const sqlite = new SQLite({
  database: settings.sqlitePath,
  store: async ({ documentName, state }) => run(
    `INSERT INTO "documents" ("name", "data") VALUES ($name, $data)
       ON CONFLICT(name) DO UPDATE SET data = $data`,
    { $name: documentName, $data: state },
  ),
});

function run(sql, params) {
  return new Promise((resolve, reject) => {
    sqlite.db.run(sql, params, (error) => (error ? reject(error) : resolve()));
  });
}

function storedState(name) {
  return new Promise((resolve, reject) => {
    sqlite.db.get(`SELECT data FROM "documents" WHERE name = $name`, { $name: name },
      (error, row) => (error ? reject(error) : resolve(row?.data ?? null)));
  });
}

// ---------------------------------------------------------------------------------------------------
// GET/PUT/DELETE /doc/<name>, Bearer API_KEY.

class HttpError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

const apiKeyDigest = createHash("sha256").update(settings.apiKey).digest();

function authorized(request) {
  const header = request.headers.authorization ?? "";
  if (!header.startsWith("Bearer ")) return false;
  const digest = createHash("sha256").update(header.slice(7)).digest();
  return timingSafeEqual(digest, apiKeyDigest);
}

function documentName(path) {
  let name;
  try {
    name = decodeURIComponent(path.slice("/doc/".length));
  } catch {
    throw new HttpError(400, "bad document name");
  }
  if (!validName(name)) throw new HttpError(400, "bad document name");
  return name;
}

async function readBody(request, limit) {
  const declared = Number(request.headers["content-length"] ?? 0);
  if (declared > limit) throw new HttpError(413, "body too large");
  const chunks = [];
  let size = 0;
  for await (const chunk of request) {
    size += chunk.length;
    if (size > limit) throw new HttpError(413, "body too large");
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString("utf8");
}

function clientsOf(instance, name) {
  return instance.documents.get(name)?.connections.size ?? 0;
}

async function getDoc(instance, name) {
  const loaded = instance.documents.get(name);
  if (loaded) {
    return { content: loaded.getText(FIELD).toString(), clients: loaded.connections.size, authors: authorsOf(loaded) };
  }
  const state = await storedState(name);
  if (!state) throw new HttpError(404, "no such document");
  const document = new Y.Doc();
  Y.applyUpdate(document, state);
  const content = document.getText(FIELD).toString();
  document.destroy();
  return { content, clients: 0, authors: [] };
}

// Who is connected: the `author` (else the `session`) of each connection's context (the edge's
// connect answer), so that the bridge's reconcile poll settles presence without trusting webhooks alone.
function authorsOf(loaded) {
  const authors = new Set();
  for (const connection of loaded.getConnections()) {
    const author = connection.context?.author ?? connection.context?.session;
    if (typeof author === "string" && author) authors.add(author);
  }
  return [...authors].sort();
}

async function putDoc(instance, name, body) {
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
  if (!isPlainObject(parsed) || typeof parsed[FIELD] !== "string") {
    throw new HttpError(400, 'body must be {"content": "<text>"}');
  }
  if (clientsOf(instance, name) > 0) throw new HttpError(409, "clients connected");
  const connection = await instance.openDirectConnection(name, { [API_ORIGIN]: true });
  try {
    // Checked again after the (async) load, then replaced in the same tick: no client can slip in.
    if (clientsOf(instance, name) > 0) throw new HttpError(409, "clients connected");
    await connection.transact((document) => {
      document.transact(() => {
        const text = document.getText(FIELD);
        text.delete(0, text.length);
        text.insert(0, parsed[FIELD]);
      }, connection);
    });
  } finally {
    await connection.disconnect();
  }
}

async function deleteDoc(instance, name) {
  if (clientsOf(instance, name) > 0) throw new HttpError(409, "clients connected");
  const loaded = instance.documents.get(name);
  if (loaded) {
    // A last store may still be running (the last client just left): let it finish, then unload.
    const deadline = Date.now() + 5000;
    while (instance.documents.has(name) && !instance.shouldUnloadDocument(loaded)) {
      if (clientsOf(instance, name) > 0) throw new HttpError(409, "clients connected");
      if (Date.now() > deadline) throw new HttpError(503, "document busy");
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await instance.unloadDocument(loaded);
  }
  await run(`DELETE FROM "documents" WHERE name = $name`, { $name: name });
  if (instance.documents.has(name)) throw new HttpError(409, "document reopened");
}

function answer(response, status, body) {
  const json = JSON.stringify(body);
  response.writeHead(status, {
    "Content-Type": "application/json",
    "Content-Length": Buffer.byteLength(json),
    "Cache-Control": "no-store",
  });
  response.end(json);
}

async function handleDocRequest(instance, request, response) {
  try {
    if (!authorized(request)) throw new HttpError(401, "unauthorized");
    const name = documentName(new URL(request.url, "http://localhost").pathname);
    if (request.method === "GET") {
      answer(response, 200, await getDoc(instance, name));
    } else if (request.method === "PUT") {
      await putDoc(instance, name, await readBody(request, settings.maxDocumentBytes + WEBHOOK_ANSWER_SLACK));
      answer(response, 200, { ok: true });
    } else if (request.method === "DELETE") {
      await deleteDoc(instance, name);
      editorsSinceTake.delete(name);
      answer(response, 200, { ok: true });
    } else if (request.method === "POST" && new URL(request.url, "http://localhost").searchParams.get("notify") === "1") {
      answer(response, 200, { delivered: notify(instance, name, await readBody(request, MAX_NOTICE_BYTES)) });
    } else if (request.method === "POST" && new URL(request.url, "http://localhost").searchParams.get("kick")) {
      answer(response, 200, { kicked: kick(instance, name, new URL(request.url, "http://localhost").searchParams.get("kick")) });
    } else if (request.method === "POST" && new URL(request.url, "http://localhost").searchParams.get("take") === "editors") {
      const editors = [...(editorsSinceTake.get(name) ?? [])].sort();
      editorsSinceTake.delete(name);
      answer(response, 200, { editors });
    } else {
      response.setHeader("Allow", "GET, PUT, DELETE, POST");
      throw new HttpError(405, "method not allowed");
    }
  } catch (error) {
    const status = error instanceof HttpError ? error.status : 500;
    if (status === 500) console.error(`hocuspocus: ${request.method} /doc failed: ${error?.message}`);
    if (!response.headersSent) answer(response, status, { error: status === 500 ? "internal" : error.message });
    else response.destroy();
    // A 413 answered before the body was read: do not keep reading it.
    if (status === 413) request.resume();
  }
}

// Who edited each document since the edge last asked (POST /doc/<name>?take=editors): the `author`
// (else `session`) of the connections whose updates changed it, so that each save names its editors.
// In memory only (a restart loses it: a save is then attributed to nobody, never to the wrong user).
const MAX_EDITORS_PER_DOCUMENT = 1000;
const editorsSinceTake = new Map();

function noteEditor(documentName, context) {
  if (fromApi(context)) return;
  const author = context?.author ?? context?.session;
  if (typeof author !== "string" || !author) return;
  let editors = editorsSinceTake.get(documentName);
  if (!editors) editorsSinceTake.set(documentName, (editors = new Set()));
  if (editors.size < MAX_EDITORS_PER_DOCUMENT) editors.add(author);
}

// Shows the people in a document a message from the bridge (a save conflict, a file too large): a
// stateless message `{"type": "wopi-proxy/notice", "message": "…"}` the editor page displays.
const MAX_NOTICE_BYTES = 4096;

function notify(instance, name, body) {
  let parsed;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new HttpError(400, "body is not JSON");
  }
  if (!isPlainObject(parsed) || typeof parsed.message !== "string" || !parsed.message) {
    throw new HttpError(400, 'body must be {"message": "<text>"}');
  }
  const loaded = instance.documents.get(name);
  if (!loaded) return 0;
  loaded.broadcastStateless(JSON.stringify({ type: "wopi-proxy/notice", message: parsed.message.slice(0, 500) }));
  return loaded.getConnections().length;
}

// Closes the connections of one wopi-proxy session (its context's `session`) to a document: the edge
// calls this when that session was closed or expired. Its entry code is spent, so it cannot come back.
function kick(instance, name, session) {
  let kicked = 0;
  for (const connection of instance.documents.get(name)?.getConnections() ?? []) {
    if (connection.context?.session === session) {
      connection.close({ code: Forbidden.code, reason: Forbidden.reason });
      kicked += 1;
    }
  }
  return kicked;
}

const docRoutes = {
  async onChange({ documentName, context }) {
    noteEditor(documentName, context);
  },

  async onRequest({ request, response, instance }) {
    if (!new URL(request.url, "http://localhost").pathname.startsWith("/doc/")) return;
    await handleDocRequest(instance, request, response);
    // Upstream's convention: an empty rejection tells the server the request was answered.
    throw null; // eslint-disable-line no-throw-literal
  },
};

// ---------------------------------------------------------------------------------------------------

process.on("unhandledRejection", (reason) => {
  console.error(`hocuspocus: unhandled rejection: ${reason?.message ?? reason}`);
});

// A client's WebSocket message is a Yjs update (the initial sync carries its whole state): bounded by a
// generous multiple of the document cap instead of ws's 100 MiB default.
const websocketOptions = { maxPayload: 4 * settings.maxDocumentBytes + 1024 * 1024 };

const server = new Server({
  name: "wopi-proxy-hocuspocus",
  address: settings.host,
  port: settings.port,
  quiet: true,
  // The SQLite buffer is written 1 s after typing stops, at most 5 s apart while typing goes on.
  debounce: 1000,
  maxDebounce: 5000,
  extensions: [
    sqlite, // first: stored edits are loaded before `create` is asked (create fills empty documents only)
    new BridgeWebhook({
      url: settings.webhookUrl,
      secret: settings.webhookSecret,
      transformer: textTransformer,
      debounce: 2000,
      debounceMaxWait: 10000,
      events: [Events.onConnect, Events.onCreate, Events.onChange, Events.onDisconnect],
    }),
    docRoutes,
  ],
}, websocketOptions);

await server.listen();
// The SQLite extension creates its table without waiting; make sure it exists before we say "ready".
await run(`CREATE TABLE IF NOT EXISTS "documents" ("name" varchar(255) NOT NULL, "data" blob NOT NULL, UNIQUE(name))`, {});
const { port } = server.address;
console.log(`hocuspocus: listening on ${settings.host}:${port}`);
if (settings.readyFile) {
  writeFileSync(`${settings.readyFile}.tmp`, JSON.stringify({ port }));
  renameSync(`${settings.readyFile}.tmp`, settings.readyFile);
}
