// Demo web chat: a WeChat-like conversation with the persona through /api/chat.
// All text is inserted with textContent (never innerHTML), so it cannot inject markup.
(function () {
  "use strict";

  // The console issues the session (an HttpOnly cookie this script cannot read)
  // and a CSRF token for it; this page never chooses who it is.
  var STATE_KEY = "qinghe.webchat.history.";  // + the session's opaque history key
  var HISTORY_MAX = 100;
  var TIME_GAP_MS = 5 * 60 * 1000;  // WeChat shows a time stamp after a pause
  var TYPING = "对方正在输入…";
  var USER_AVATAR = "/static/avatars/user.svg";

  var app = document.getElementById("app");
  var list = document.getElementById("messages");
  var input = document.getElementById("input");
  var sendButton = document.getElementById("send");
  var title = document.getElementById("title");

  var persona = { name: app.dataset.name || "", avatar: app.dataset.avatar || "", self_intro: "" };
  var session = { csrf: "", historyKey: "", refused: null };
  var history = [];
  var lastTime = 0;
  var pending = 0;
  var queue = Promise.resolve();
  var typingRow = null;

  // --- session and local history (a reload continues the conversation) ---

  // Resolves to true when a session exists; a refusal (429) keeps its messages.
  function openSession() {
    return fetch("/api/session", { credentials: "same-origin", cache: "no-store" })
      .then(function (response) {
        return response.json().catch(function () { return {}; }).then(function (data) {
          if (response.ok && typeof data.csrf_token === "string") {
            session.csrf = data.csrf_token;
            session.historyKey = typeof data.history_key === "string" ? data.history_key : "";
            session.refused = null;
            return true;
          }
          session.refused = Array.isArray(data.messages) ? data.messages : null;
          return false;
        });
      })
      .catch(function () { return false; });
  }

  function loadHistory() {
    if (!session.historyKey) return [];
    try {
      var raw = JSON.parse(window.localStorage.getItem(STATE_KEY + session.historyKey) || "null");
      if (raw && Array.isArray(raw.history)) return raw.history;
    } catch (e) { /* corrupt or disabled: start fresh */ }
    return [];
  }

  function saveHistory() {
    history = history.slice(-HISTORY_MAX);
    if (!session.historyKey) return;
    try {
      window.localStorage.setItem(STATE_KEY + session.historyKey, JSON.stringify({ history: history }));
    } catch (e) { /* full or disabled */ }
  }

  // --- rendering ---

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function two(n) { return (n < 10 ? "0" : "") + n; }

  function addTime(ts) {
    if (ts - lastTime > TIME_GAP_MS) {
      var d = new Date(ts);
      list.appendChild(make("div", "time", two(d.getHours()) + ":" + two(d.getMinutes())));
    }
    lastTime = ts;
  }

  function avatar(side) {
    var img = make("img", "avatar");
    img.src = side === "bot" ? persona.avatar : USER_AVATAR;
    img.alt = side === "bot" ? persona.name : "我";
    return img;
  }

  function safeImageUrl(url) {
    return typeof url === "string" && (/^https:\/\//i.test(url) || /^\/static\//.test(url));
  }

  function scrollDown() { list.scrollTop = list.scrollHeight; }

  function addBubble(side, message, ts, save) {
    addTime(ts);
    var row = make("div", "row " + side);
    var bubble = make("div", "bubble");
    if (typeof message.text === "string" && message.text) bubble.appendChild(make("div", "text", message.text));
    if (safeImageUrl(message.image)) {
      var picture = make("img", "picture");
      picture.src = message.image;
      picture.alt = "";
      bubble.appendChild(picture);
    }
    var buttons = Array.isArray(message.buttons) ? message.buttons : [];
    if (buttons.length) {
      // Numbered as in WeChat; the server maps a typed number or title to the option.
      var options = make("ol", "options");
      buttons.forEach(function (button, i) {
        var item = make("li");
        var link = make("button", "option", (i + 1) + ". " + button.title);
        link.type = "button";
        link.addEventListener("click", function () { choose(button); });
        item.appendChild(link);
        options.appendChild(item);
      });
      bubble.appendChild(options);
    }
    row.appendChild(avatar(side));
    row.appendChild(bubble);
    list.insertBefore(row, typingRow);  // the typing indicator stays last
    scrollDown();
    if (save) {
      history.push({ side: side, message: message, ts: ts });
      saveHistory();
    }
  }

  function setTyping(delta) {
    pending += delta;
    title.textContent = pending > 0 ? TYPING : persona.name;
    if (pending > 0 && !typingRow) {
      typingRow = make("div", "row bot typing");
      typingRow.setAttribute("aria-label", TYPING);
      var bubble = make("div", "bubble");
      for (var i = 0; i < 3; i++) bubble.appendChild(make("span", "dot"));
      typingRow.appendChild(avatar("bot"));
      typingRow.appendChild(bubble);
      list.appendChild(typingRow);
      scrollDown();
    } else if (pending === 0 && typingRow) {
      typingRow.remove();
      typingRow = null;
    }
  }

  // --- talking to the bot ---

  function apology() {
    return { text: "抱歉，" + persona.name + "暂时连不上，请稍后再试～" };
  }

  function postChat(message) {
    return fetch("/api/chat", {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": session.csrf },
      body: JSON.stringify({ message: message })
    });
  }

  // Bot messages of a reply: the answer, a persona text for a refusal (429), or an apology.
  function replyMessages(response) {
    if (response.status === 403 && session.refused) return session.refused;  // no session to be had
    return response.json().catch(function () { return null; }).then(function (data) {
      var messages = data && Array.isArray(data.messages) ? data.messages : null;
      return (response.ok || response.status === 429) && messages ? messages : [apology()];
    });
  }

  function exchange(message) {
    setTyping(1);
    return postChat(message)
      .then(function (response) {
        if (response.status !== 403) return response;
        // the session expired or the console restarted: get a new one, try once more
        return openSession().then(function (ok) { return ok ? postChat(message) : response; });
      })
      .then(replyMessages, function () { return [apology()]; })
      .then(function (messages) {
        messages.forEach(function (m) { addBubble("bot", m, Date.now(), true); });
      })
      .then(function () { setTyping(-1); }, function () { setTyping(-1); });
  }

  function post(message) {
    queue = queue.then(function () { return exchange(message); });  // keep the order
  }

  // A click says the option's title, as if typed; the server knows which option it is.
  function choose(button) {
    addBubble("user", { text: button.title }, Date.now(), true);
    post(button.title);
  }

  function submitInput() {
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    resize();
    addBubble("user", { text: text }, Date.now(), true);
    post(text);
    input.focus();
  }

  function resize() {
    input.style.height = "auto";
    input.style.height = Math.min(input.scrollHeight, 120) + "px";
    sendButton.disabled = !input.value.trim();
  }

  input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter is a new line; Enter that confirms an IME candidate does not send.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing && event.keyCode !== 229) {
      event.preventDefault();
      submitInput();
    }
  });
  input.addEventListener("input", resize);
  sendButton.addEventListener("click", submitInput);

  // --- what a guide says while they hold the conversation (no push channel: the page asks) ---

  var MAILBOX_EVERY_MS = 3000;

  function collectMailbox() {
    if (!session.csrf) return Promise.resolve();
    return fetch("/api/chat/mailbox", {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-CSRF-Token": session.csrf }
    })
      .then(function (response) { return response.ok ? response.json() : { messages: [] }; })
      .then(function (data) {
        (Array.isArray(data.messages) ? data.messages : []).forEach(function (m) {
          addBubble("bot", m, Date.now(), true);
        });
      })
      .catch(function () {});
  }

  function pollMailbox() {
    queue = queue.then(collectMailbox);  // after any reply being awaited: messages stay in order
    setTimeout(pollMailbox, MAILBOX_EVERY_MS);
  }

  // --- start: replay the local history, or greet with the persona's intro ---

  function start(hasSession) {
    title.textContent = persona.name;
    document.title = persona.name + (persona.brand ? " · " + persona.brand : "");
    history = loadHistory();
    history.forEach(function (entry) { addBubble(entry.side, entry.message || {}, entry.ts || 0, false); });
    if (!hasSession) {
      (session.refused || [apology()]).forEach(function (m) { addBubble("bot", m, Date.now(), false); });
    } else if (!history.length && persona.self_intro) {
      addBubble("bot", { text: persona.self_intro }, Date.now(), true);
    }
    app.classList.add("ready");
    if (hasSession) setTimeout(pollMailbox, MAILBOX_EVERY_MS);
  }

  var profile = fetch("/api/persona")
    .then(function (response) { return response.ok ? response.json() : {}; })
    .catch(function () { return {}; })
    .then(function (data) {
      ["name", "avatar", "brand", "self_intro"].forEach(function (key) {
        if (typeof data[key] === "string" && data[key]) persona[key] = data[key];
      });
    });
  Promise.all([profile, openSession()]).then(function (results) { start(results[1]); });
})();
