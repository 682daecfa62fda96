// What the room page keeps for a reload of its own tab: the name the member
// chose and the digest of the ground rules they accepted, so that a reload
// (F5, a phone that dropped the page) comes straight back instead of asking
// both again. sessionStorage only: that tab, gone when it closes; under a
// digest of the link (never the link's token itself), and never a message,
// a key or anything of the room. Leaving, the end, a removal or a refusal
// forget it (room.js `wipe`).

const STORAGE = "safespace.room";

/** @param {string} link the page's fragment @returns {Promise<string>} */
async function linkDigest(link) {
  const bytes = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(link));
  return [...new Uint8Array(bytes)].map((b) => b.toString(16).padStart(2, "0")).join("");
}

/**
 * The name and accepted rules kept for this link in this tab, if any.
 * @param {string} link @returns {Promise<{name: string, digest: string} | null>}
 */
export async function keptFor(link) {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORAGE) ?? "null");
    if (!kept || kept.link !== (await linkDigest(link))) return null;
    if (typeof kept.name !== "string" || typeof kept.digest !== "string") return null;
    return { name: kept.name, digest: kept.digest };
  } catch {
    return null; // storage refused, or damaged: as if nothing were kept
  }
}

/** Keep the member's choice for a reload of this tab. @param {string} link @param {string} name @param {string} digest */
export async function keep(link, name, digest) {
  try {
    sessionStorage.setItem(STORAGE, JSON.stringify({ link: await linkDigest(link), name, digest }));
  } catch {
    // a browser that keeps nothing: a reload asks again, as before
  }
}

export function forget() {
  try {
    sessionStorage.removeItem(STORAGE);
  } catch {
    // nothing kept
  }
}
