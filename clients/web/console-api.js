// The HTTP API of docs/protocol.md section 11, for the facilitator console.
//
// The bearer token lives in this object and, so that a reload of the tab
// comes back logged in, in that tab's sessionStorage (console.js; gone with
// the tab, cleared on logout): never in localStorage, IndexedDB or a cookie.

/** A refusal from the API: `code`, `message` and, for validation errors, the `field` at fault. */
export class ApiError extends Error {
  /** @param {number} status @param {{code?: string, message?: string, field?: string, retry_after?: number} | undefined} body */
  constructor(status, body) {
    super(body?.message ?? `The server answered with status ${status}.`);
    this.name = "ApiError";
    this.status = status;
    this.code = body?.code ?? (status === 0 ? "network" : `http_${status}`);
    this.field = body?.field ?? null;
    this.retryAfter = body?.retry_after ?? null;
  }
}

export class Api {
  #token = null;

  /**
   * @param {{base?: string, onExpired?: (err: ApiError) => void}} [options]
   *   `onExpired` is told when a request that carried a token gets 401 (login expired).
   */
  constructor({ base = "", onExpired } = {}) {
    this.base = base;
    this.onExpired = onExpired;
    /** the facilitator's account name, once logged in */
    this.account = null;
  }

  /** For the facilitator's websocket hello (the same token works there). */
  get token() {
    return this.#token;
  }

  get loggedIn() {
    return this.#token !== null;
  }

  async #call(method, path, body) {
    const headers = { Accept: "application/json" };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const token = this.#token;
    if (token) headers.Authorization = `Bearer ${token}`;
    let res;
    try {
      res = await fetch(this.base + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        cache: "no-store",
        credentials: "omit",
        referrerPolicy: "no-referrer",
      });
    } catch {
      throw new ApiError(0, { code: "network", message: "The server could not be reached. Please check the connection and try again." });
    }
    if (res.status === 204) return null;
    let data = null;
    try {
      data = await res.json();
    } catch {
      data = null;
    }
    if (!res.ok) {
      const err = new ApiError(res.status, data?.error);
      if (res.status === 401 && token && this.#token === token) {
        this.#forget();
        this.onExpired?.(err);
      }
      throw err;
    }
    return data;
  }

  #forget() {
    this.#token = null;
    this.account = null;
  }

  /** @returns {Promise<{token: string, expires_at: number, facilitator: string}>} */
  async login(name, password) {
    const data = await this.#call("POST", "/api/login", { name, password });
    this.#token = data.token;
    this.account = data.facilitator;
    return data;
  }

  /**
   * A token kept from before a reload (still to be proved valid by a call);
   * `account` is set once the page knows whose it is.
   * @param {string} token
   */
  resume(token) {
    this.#token = token;
    this.account = null;
  }

  /** Revokes the token on the server; it is forgotten here whatever the answer. */
  async logout() {
    if (!this.#token) return;
    try {
      await this.#call("POST", "/api/logout");
    } catch {
      // Forgotten here all the same; it expires on the server by itself.
    } finally {
      this.#forget();
    }
  }

  /** @param {string} key the public identity key, base64url without padding */
  setIdentity(key) {
    return this.#call("PUT", "/api/me/identity", { key });
  }

  /** @returns {Promise<object[]>} the groups the caller facilitates */
  async groups() {
    return (await this.#call("GET", "/api/groups")).groups;
  }

  /** @returns {Promise<object>} the group, with `facilitator_keys` {name: b64u} */
  group(gid) {
    return this.#call("GET", `/api/groups/${encodeURIComponent(gid)}`);
  }

  createGroup(settings) {
    return this.#call("POST", "/api/groups", settings);
  }

  editGroup(gid, settings) {
    return this.#call("PATCH", `/api/groups/${encodeURIComponent(gid)}`, settings);
  }

  /** @returns {Promise<object[]>} oldest first */
  async links(gid) {
    return (await this.#call("GET", `/api/groups/${encodeURIComponent(gid)}/links`)).links;
  }

  /** @param {{label?: string, expires_in_hours?: number}} spec @returns {Promise<object>} the link with its `url` (shown once) */
  createLink(gid, spec) {
    return this.#call("POST", `/api/groups/${encodeURIComponent(gid)}/links`, spec);
  }

  revokeLink(gid, lid) {
    return this.#call("DELETE", `/api/groups/${encodeURIComponent(gid)}/links/${encodeURIComponent(lid)}`);
  }
}
