// The member's room page: a thin view over ChatClient. Text is put on the
// page with textContent only (never as HTML), and lives in memory only.

import { ChatClient } from "./client.js";
import { parseLink } from "./link.js";

const $ = (id) => document.getElementById(id);

function show(id, visible = true) {
  $(id).hidden = !visible;
}

function status(text) {
  $("status").textContent = text;
}

function warn(text) {
  const p = document.createElement("p");
  p.textContent = text;
  $("warnings").append(p);
}

function fillList(id, items) {
  const list = $(id);
  list.replaceChildren(
    ...items.map((text) => {
      const li = document.createElement("li");
      li.textContent = text;
      return li;
    }),
  );
}

const CLOSE_TEXT = {
  1000: "You are out of the room. Open your link again to come back.",
  4000: "The session has ended. Thank you for being here.",
  4001: "A facilitator removed you from this session.",
  4002: "The facilitator could not let you in to this session.",
  4003: "This seat was opened on another page or device.",
  4008: "The connection fell behind. Open your link again to come back.",
};

function start() {
  let link;
  try {
    link = parseLink(location.hash);
  } catch (err) {
    status(err.message);
    return;
  }
  if (!link.seat) {
    status("This page needs your private link. Please open the link your facilitator gave you.");
    return;
  }
  status("Choose a name for this session.");
  show("join");
  $("join").addEventListener("submit", (ev) => {
    ev.preventDefault();
    show("join", false);
    connect($("name").value.trim());
  });
}

function connect(name) {
  let rulesAnswer = null;
  const client = new ChatClient({
    name,
    link: location.hash,
    acceptRules: () => new Promise((resolve) => (rulesAnswer = resolve)),
  });

  client.addEventListener("rules", ({ detail }) => {
    $("title").textContent = detail.group?.title ?? "safespace";
    fillList("rules-list", detail.rules ?? []);
    fillList("crisis-list", detail.crisis_resources ?? []);
    status("Please read the group's ground rules.");
    show("rules");
  });
  $("accept").addEventListener("click", () => {
    show("rules", false);
    rulesAnswer?.(true);
  });
  $("decline").addEventListener("click", () => {
    show("rules", false);
    rulesAnswer?.(false);
  });

  client.addEventListener("knocking", () => status("The meeting has started; a facilitator will let you in shortly."));
  client.addEventListener("welcome", ({ detail }) => {
    $("title").textContent = detail.group?.title ?? "safespace";
    status(detail.last_msg > 0 ? "You are in. Messages from before you arrived are not shown." : "You are in.");
    show("room");
  });
  client.addEventListener("state", ({ detail }) => {
    if (detail.paused) status("The facilitator has paused the conversation for a moment.");
  });
  client.addEventListener("roster", ({ detail }) => renderPeople(detail.roster, client));
  client.addEventListener("msg", ({ detail }) => renderMessage(detail, client));
  client.addEventListener("deleted", ({ detail }) => document.querySelector(`[data-id="${Number(detail.id)}"]`)?.remove());
  client.addEventListener("warning", ({ detail }) => warn(detail.message));
  client.addEventListener("error", ({ detail }) => warn(detail.message));
  client.addEventListener("close", ({ detail }) => {
    status(CLOSE_TEXT[detail.code] ?? "The connection was lost. Open your link again to come back.");
    show("rules", false);
    for (const b of document.querySelectorAll("#room button, #compose textarea")) b.disabled = b.id !== "wipe";
  });

  $("compose").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const text = $("text").value.trim();
    if (!text) return;
    try {
      await client.send(text);
      $("text").value = "";
    } catch (err) {
      warn(err.message);
    }
  });
  $("private").addEventListener("click", async () => {
    const text = $("text").value.trim();
    if (!text) return warn("Write your message to the facilitators in the box first.");
    try {
      await client.privateToFacilitators(text);
      $("text").value = "";
      status("Your message went to the facilitators only.");
    } catch (err) {
      warn(err.message);
    }
  });
  $("hand").addEventListener("click", () => {
    const up = $("hand").getAttribute("aria-pressed") !== "true";
    client.hand(up);
    $("hand").setAttribute("aria-pressed", String(up));
    $("hand").textContent = up ? "Lower hand" : "Raise hand";
  });
  $("step-out").addEventListener("click", () => client.stepOut());
  $("leave").addEventListener("click", () => client.leave());
  $("wipe").addEventListener("click", () => {
    client.wipe();
    $("messages").replaceChildren();
    $("people").replaceChildren();
    $("warnings").replaceChildren();
  });

  client.connect().catch((err) => status(err.message));
}

function renderMessage(m, client) {
  const li = document.createElement("li");
  li.dataset.id = String(m.id);
  if (m.own) li.classList.add("own");
  const who = document.createElement("span");
  who.className = "who";
  who.textContent = m.name;
  const body = document.createElement("span");
  if (m.text === null) {
    body.className = "unreadable";
    body.textContent = "This message cannot be read on this page.";
  } else {
    body.textContent = m.text;
  }
  li.append(who, body);
  if (!m.own && m.text !== null) {
    const report = document.createElement("button");
    report.type = "button";
    report.textContent = "Report";
    report.addEventListener("click", async () => {
      const note = prompt("What is wrong with this message? (only the facilitators see this)") ?? null;
      if (note === null) return;
      try {
        await client.report(m.id, note);
        status("The facilitators have been told.");
      } catch (err) {
        warn(err.message);
      }
    });
    li.append(report);
  }
  $("messages").append(li);
  li.scrollIntoView({ block: "end" });
}

function renderPeople(roster, client) {
  $("people").replaceChildren(
    ...roster.map((p) => {
      const li = document.createElement("li");
      li.textContent = `${p.name}${p.role === "facilitator" ? " (facilitator)" : ""}${p.hand ? " ✋" : ""}`;
      if (!p.present) li.classList.add("away");
      if (!p.trusted && p.pid !== client.me) li.classList.add("unverified");
      return li;
    }),
  );
}

start();
