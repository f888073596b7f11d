// A headless Hocuspocus user driven by tests/support/hocuspocus.py (YjsUser) over JSON lines.
//
// argv[2]: JSON {"url": "ws://…", "document": "<name>", "token": "<token>", "headers": {…} (optional)}.
// stdout events: {"event":"synced","text":…} | {"event":"denied","reason":…} | {"event":"text","text":…}
//   (after every change of the Y.Text `content`, local or remote) | {"event":"ack","id":…} |
//   {"event":"closed","code":…} | {"event":"stateless","payload":"…"} | {"event":"error","message":…}.
// stdin commands: {"id":…,"cmd":"insert","text":…,"wait":true} (appends at the end; with wait, answers
//   once the server acknowledged it or after 10 s, "unsynced" telling which) | {"id":…,"cmd":"text"} |
//   {"id":…,"cmd":"leave"} (destroys the provider, waits until the server has our edits, exits 0).
// Run from a directory whose node_modules holds the pinned packages (the fixture copies it there).

import { createInterface } from "node:readline";
import { HocuspocusProvider, HocuspocusProviderWebsocket } from "@hocuspocus/provider";
import WebSocket from "ws";
import * as Y from "yjs";

const options = JSON.parse(process.argv[2]);
const emit = (event) => process.stdout.write(`${JSON.stringify(event)}\n`);

const document = new Y.Doc();
const text = document.getText("content");
text.observe(() => emit({ event: "text", text: text.toString() }));

// Optional extra upgrade-request headers (e.g. a Cookie), to check what reaches the edge.
class HeaderWebSocket extends WebSocket {
  constructor(url, protocols) {
    super(url, protocols, { headers: options.headers ?? {} });
  }
}

const websocketProvider = new HocuspocusProviderWebsocket({
  url: options.url,
  WebSocketPolyfill: HeaderWebSocket,
  maxAttempts: 1, // a test wants to see a refused or dropped connection, not a retry loop
});
const provider = new HocuspocusProvider({
  websocketProvider,
  name: options.document,
  document,
  token: options.token,
  onSynced: () => emit({ event: "synced", text: text.toString() }),
  onAuthenticationFailed: ({ reason }) => emit({ event: "denied", reason }),
  onClose: ({ event }) => emit({ event: "closed", code: event?.code ?? null }),
  onStateless: ({ payload }) => emit({ event: "stateless", payload }),
});
provider.attach();

async function waitUntilSent(deadlineMs) {
  const deadline = Date.now() + deadlineMs;
  while (provider.hasUnsyncedChanges && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const lines = createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  let command;
  try {
    command = JSON.parse(line);
    if (command.cmd === "insert") {
      text.insert(text.length, command.text);
      if (command.wait !== false) await waitUntilSent(10000);
      emit({ event: "ack", id: command.id, text: text.toString(), unsynced: provider.unsyncedChanges });
    } else if (command.cmd === "text") {
      emit({ event: "ack", id: command.id, text: text.toString() });
    } else if (command.cmd === "leave") {
      await waitUntilSent(10000);
      provider.destroy();
      websocketProvider.destroy();
      emit({ event: "ack", id: command.id });
      setTimeout(() => process.exit(0), 50);
    } else {
      emit({ event: "error", id: command.id, message: `unknown command ${command.cmd}` });
    }
  } catch (error) {
    emit({ event: "error", id: command?.id ?? null, message: String(error?.message ?? error) });
  }
});
lines.on("close", () => process.exit(0));
