// The console's ChatClient: client.js in facilitator mode, plus the commands
// of a facilitator (open, start, admit, mute, remove, ...). The door commands
// and admissions also tell the codec what this facilitator did, so that whom
// it vouches for by itself follows its own acts, not the server's word; and a
// removal carries this facilitator's signature over the keys it removes, so
// that every page can bar them (docs/e2ee.md sections 3.2 and 3.3).

import { ChatClient } from "./client.js";
import { encode } from "./vendor/msgpack/index.mjs";

/** Commands that open (true) or close (false) this facilitator's door. */
const DOOR = { open: true, unlock: true, start: false, lock: false };

export class FacilitatorClient extends ChatClient {
  /**
   * Send a facilitator command. client.js has no public way to send a command
   * frame; this uses its public `ws` and `nextRef` the way its private #command does.
   * @param {string} t @param {object} [fields]
   * @returns {number | Promise<number>} the frame's ref (a removal: once it is signed and sent)
   */
  command(t, fields = {}) {
    this.#connected();
    if (t === "remove") return this.#remove(fields);
    // Told before the frame goes, in order with the frames the codec is still
    // handling. (A codec wiped meanwhile has no door left to tell.)
    if (t in DOOR) this.codec?.setDoor(DOOR[t]).catch(() => {});
    if (t === "admit" && typeof fields.pid === "string") this.codec?.lettingIn(fields.pid).catch(() => {});
    return this.#send(t, fields);
  }

  /** A removal with this facilitator's `by` and `proof`, when this page holds the keys it removes. */
  async #remove(fields) {
    const signed = this.codec ? await this.codec.signRemoval(fields.pid, Boolean(fields.for_good)) : null;
    this.#connected();
    return this.#send("remove", { ...fields, ...(signed ?? {}) });
  }

  #connected() {
    if (!this.ws || this.closed || this.ws.readyState !== WebSocket.OPEN) {
      throw new Error("The console is not connected to the room.");
    }
  }

  #send(t, fields) {
    const ref = this.nextRef++;
    this.ws.send(encode({ t, ...fields, ref }));
    return ref;
  }
}
