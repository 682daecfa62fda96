// The private link's fragment (docs/e2ee.md section 2):
//
//     https://chat.example/join#seat=TOKEN&f=B64U(identity_pub)[&f=...]
//
// Browsers never send a fragment to a server; the client sends the server the
// seat token only, and keeps the facilitator keys to check vouches with.

import { FormatError, bytesEqual, fromB64u } from "./bytes.js";

/** A link whose `f` key is not 32 bytes of base64url: damaged, or tampered with. */
export class LinkError extends Error {
  constructor(message) {
    super(message);
    this.name = "LinkError";
    this.code = "bad_link";
  }
}

/**
 * @param {string} link a whole link, a fragment (`#seat=...` or `seat=...`), or `location.hash`
 * @returns {{seat: string | null, identities: Uint8Array[]}} identities in link order, without repeats
 */
export function parseLink(link) {
  const text = String(link ?? "").trim();
  const fragment = text.includes("#") ? text.slice(text.indexOf("#") + 1) : text.includes("=") ? text : "";
  const params = new URLSearchParams(fragment);
  const seat = params.get("seat") || null;
  const identities = [];
  for (const value of params.getAll("f")) {
    let key;
    try {
      if (value.includes("=")) throw new FormatError("padded"); // base64url without padding, as the spec says
      key = fromB64u(value);
    } catch (err) {
      if (err instanceof FormatError) throw new LinkError("The link's facilitator key is damaged; please ask for the link again.");
      throw err;
    }
    if (key.length !== 32) throw new LinkError("The link's facilitator key is damaged; please ask for the link again.");
    if (!identities.some((k) => bytesEqual(k, key))) identities.push(key);
  }
  return { seat, identities };
}
