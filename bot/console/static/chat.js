// Demo web chat: a WeChat-like conversation with the persona through /api/chat.
// All text is inserted with textContent (never innerHTML), so it cannot inject markup.
(function () {
  "use strict";

  var SENDER_KEY = "qinghe.webchat.sender";
  var STATE_KEY = "qinghe.webchat.state.";  // + sender: history and last options
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
  var sender = senderId();
  var state = loadState();
  var lastTime = 0;
  var pending = 0;
  var queue = Promise.resolve();
  var typingRow = null;

  // --- identity and local history (a reload continues the conversation) ---

  function randomId() {
    var bytes = new Uint8Array(12);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  function senderId() {
    var id = null;
    try { id = window.localStorage.getItem(SENDER_KEY); } catch (e) { /* storage disabled */ }
    if (!id || !/^[A-Za-z0-9_-]{8,64}$/.test(id)) {
      id = randomId();
      try { window.localStorage.setItem(SENDER_KEY, id); } catch (e) { /* keep it for this page only */ }
    }
    return id;
  }

  function loadState() {
    try {
      var raw = JSON.parse(window.localStorage.getItem(STATE_KEY + sender) || "null");
      if (raw && Array.isArray(raw.history)) {
        return { history: raw.history, options: Array.isArray(raw.options) ? raw.options : [] };
      }
    } catch (e) { /* corrupt or disabled: start fresh */ }
    return { history: [], options: [] };
  }

  function saveState() {
    state.history = state.history.slice(-HISTORY_MAX);
    try { window.localStorage.setItem(STATE_KEY + sender, JSON.stringify(state)); } catch (e) { /* full */ }
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
      state.history.push({ side: side, message: message, ts: ts });
      saveState();
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

  function exchange(message) {
    setTyping(1);
    return fetch("/api/chat", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: sender, message: message })
    })
      .then(function (response) { return response.ok ? response.json() : null; })
      .catch(function () { return null; })
      .then(function (data) {
        var messages = data && Array.isArray(data.messages) ? data.messages : [apology()];
        var options = [];
        messages.forEach(function (m) {
          addBubble("bot", m, Date.now(), true);
          if (Array.isArray(m.buttons) && m.buttons.length) options = m.buttons;
        });
        state.options = options;  // a number typed next selects one of these
        saveState();
      })
      .then(function () { setTyping(-1); }, function () { setTyping(-1); });
  }

  function post(message) {
    queue = queue.then(function () { return exchange(message); });  // keep the order
  }

  function choose(button) {
    addBubble("user", { text: button.title }, Date.now(), true);
    post(button.payload);
  }

  // "1" or an option's title selects that option, as in the WeChat channels.
  function payloadFor(text) {
    var typed = text.trim();
    var options = state.options || [];
    if (/^\d{1,2}$/.test(typed)) {
      var picked = options[parseInt(typed, 10) - 1];
      if (picked) return picked.payload;
    }
    for (var i = 0; i < options.length; i++) {
      if (options[i].title === typed) return options[i].payload;
    }
    return text;
  }

  function submitInput() {
    var text = input.value;
    if (!text.trim()) return;
    input.value = "";
    resize();
    addBubble("user", { text: text }, Date.now(), true);
    post(payloadFor(text));
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

  // --- start: replay the local history, or greet with the persona's intro ---

  function start() {
    title.textContent = persona.name;
    document.title = persona.name + (persona.brand ? " · " + persona.brand : "");
    state.history.forEach(function (entry) { addBubble(entry.side, entry.message || {}, entry.ts || 0, false); });
    if (!state.history.length && persona.self_intro) {
      addBubble("bot", { text: persona.self_intro }, Date.now(), true);
    }
    app.classList.add("ready");
  }

  fetch("/api/persona")
    .then(function (response) { return response.ok ? response.json() : {}; })
    .catch(function () { return {}; })
    .then(function (profile) {
      ["name", "avatar", "brand", "self_intro"].forEach(function (key) {
        if (typeof profile[key] === "string" && profile[key]) persona[key] = profile[key];
      });
      start();
    });
})();
