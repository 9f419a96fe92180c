// Guide console: sign in, see waiting / own / (ops) all conversations live, take one,
// read the customer's profile and the whole conversation, reply, transfer, end.
// All text goes in with textContent: nothing a customer types can become markup.
(function () {
  "use strict";

  var REASONS = { asked: "要求转人工", complaint: "投诉", bot_failed_twice: "机器人两次没答上" };
  var state = { me: null, view: "waiting", current: null, events: null, guides: [] };

  function $(id) { return document.getElementById(id); }

  function show(section) {
    ["login", "lists", "conversation"].forEach(function (name) { $(name).hidden = name !== section; });
  }

  function api(method, path, body) {
    var headers = {};
    if (method !== "GET") {
      headers["X-CSRF-Token"] = state.me ? state.me.csrf_token : "";
      headers["Content-Type"] = "application/json";
    }
    return fetch(path, {
      method: method, credentials: "same-origin", cache: "no-store", headers: headers,
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (response.status === 401) { signedOut(); }
        return { ok: response.ok, status: response.status, data: data };
      });
    });
  }

  function make(tag, className, text) {
    var element = document.createElement(tag);
    if (className) element.className = className;
    if (text !== undefined) element.textContent = text;
    return element;
  }

  function clock(iso) {
    if (!iso) return "";
    var d = new Date(iso);
    return (d.getHours() < 10 ? "0" : "") + d.getHours() + ":" + (d.getMinutes() < 10 ? "0" : "") + d.getMinutes();
  }

  // --- signing in ---

  function signedOut() {
    state.me = null;
    if (state.events) { state.events.close(); state.events = null; }
    show("login");
  }

  function signedIn(me) {
    state.me = me;
    $("me").textContent = (me.display || me.username) + (me.role === "guide" ? "" : "（" + me.role + "）");
    Array.prototype.forEach.call(document.querySelectorAll(".ops-only"), function (el) {
      el.hidden = me.role === "guide";
    });
    listen();
    loadQuickReplies();
    loadTagCatalogue();
    openView(state.view);
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault();
    $("login-error").textContent = "";
    api("POST", "/api/staff/login", { username: $("username").value, password: $("password").value })
      .then(function (answer) {
        if (answer.ok) { $("password").value = ""; signedIn(answer.data); }
        else { $("login-error").textContent = answer.status === 429 ? "尝试太多次了，请稍后再试" : "账号或密码不对"; }
      });
  });

  $("logout").addEventListener("click", function () {
    api("POST", "/api/staff/logout").then(signedOut);
  });

  // --- lists ---

  function openView(view) {
    state.view = view;
    state.current = null;
    Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (tab) {
      tab.classList.toggle("active", tab.getAttribute("data-view") === view);
    });
    show("lists");
    var levels = view === "levels";
    $("levels").hidden = $("levels-summary").hidden = !levels;
    $("conversations").hidden = levels;
    if (levels) { $("empty").hidden = true; refreshLevels(); } else { refreshList(); }
  }

  function seconds(s) { return s === null || s === undefined ? "—" : (s < 60 ? Math.round(s) + " 秒" : Math.round(s / 6) / 10 + " 分钟"); }

  function refreshLevels() {
    return api("GET", "/api/guide/service-levels?hours=24").then(function (answer) {
      if (!answer.ok) return;
      var d = answer.data;
      $("levels-summary").textContent = "近 24 小时：" + d.requests + " 次转人工，正在等待 " + d.waiting_now +
        " 位，接待中 " + d.held_now + " 位，首次回复中位 " + seconds(d.median_first_reply_s) + "，P90 " +
        seconds(d.p90_first_reply_s) + "，未回复就结束 " + d.abandoned + " 次";
      var body = $("levels").querySelector("tbody");
      body.textContent = "";
      Object.keys(d.per_guide).forEach(function (userid) {
        var g = d.per_guide[userid], row = make("tr");
        [g.name, g.requests + "（接待中 " + g.holding_now + "）", seconds(g.median_first_reply_s),
          seconds(g.p90_first_reply_s), String(g.abandoned)].forEach(function (v) { row.appendChild(make("td", "", v)); });
        body.appendChild(row);
      });
    });
  }

  function refreshCounts() {
    ["waiting", "mine"].forEach(function (view) {
      api("GET", "/api/guide/conversations?view=" + view).then(function (answer) {
        if (answer.ok) $("count-" + view).textContent = answer.data.conversations.length || "";
      });
    });
  }

  function refreshList() {
    refreshCounts();
    return api("GET", "/api/guide/conversations?view=" + state.view).then(function (answer) {
      var list = $("conversations");
      list.textContent = "";
      var items = answer.ok ? answer.data.conversations : [];
      $("empty").hidden = items.length > 0;
      items.forEach(function (c) { list.appendChild(listItem(c)); });
    });
  }

  function listItem(c) {
    var li = make("li");
    li.setAttribute("data-id", c.id);
    var who = make("div", "who", c.customer_name + (c.level ? "（" + c.level + "）" : ""));
    who.appendChild(make("small", "", "#" + c.id + " · " + (REASONS[c.reason] || c.reason) + " · " +
      (c.status === "queued" ? "等待自 " + clock(c.requested_at) : (c.guide_name || c.guide) + " 接待中")));
    li.appendChild(who);
    if (c.status === "queued" && state.me.role === "guide") {
      var take = make("button", "take", "接入");
      take.addEventListener("click", function () { takeConversation(c.id); });
      li.appendChild(take);
    } else if (c.status === "assigned") {
      who.addEventListener("click", function () { openConversation(c.id); });
    }
    return li;
  }

  function takeConversation(id) {
    api("POST", "/api/guide/conversations/" + id + "/take").then(function (answer) {
      if (answer.ok) openConversation(id);
      else { refreshList(); $("live").textContent = "没接到：" + (answer.data.error || answer.status); }
    });
  }

  Array.prototype.forEach.call(document.querySelectorAll(".tab"), function (tab) {
    tab.addEventListener("click", function () { openView(tab.getAttribute("data-view")); });
  });

  // --- one conversation ---

  function line(who, text, from) {
    var li = make("li", who);
    li.appendChild(make("span", "from", from));
    li.appendChild(document.createTextNode(text));
    return li;
  }

  function openConversation(id) {
    state.current = String(id);
    $("notice").textContent = "";
    return api("GET", "/api/guide/conversations/" + id).then(function (answer) {
      // A live refresh can still be in flight when the guide has left the
      // conversation (transfer, end, back): its answer must not reopen it.
      if (state.current !== String(id)) return;
      if (!answer.ok) {
        show("conversation");
        $("transcript").textContent = "";
        $("held-actions").hidden = true;
        $("notice").textContent = answer.status === 403 ? "这不是你接待的对话" : "打不开这个对话";
        return;
      }
      renderConversation(answer.data);
    });
  }

  function renderConversation(c) {
    show("conversation");
    $("customer").textContent = c.customer_name + " · #" + c.id;
    var facts = [];
    if (c.level) facts.push(c.level + "会员");
    if (c.profile && c.profile.points) facts.push("积分 " + c.profile.points);
    if (c.coupons) facts.push("优惠券 " + c.coupons + " 张");
    facts.push("原因：" + (REASONS[c.reason] || c.reason));
    if (c.transfer_note) facts.push("转接备注：" + c.transfer_note);
    $("profile").textContent = facts.join(" · ");
    var transcript = $("transcript");
    transcript.textContent = "";
    (c.before || []).forEach(function (m) {
      transcript.appendChild(line(m.who, m.text, m.who === "bot" ? "助手" : "顾客"));
    });
    (c.messages || []).forEach(function (m) {
      transcript.appendChild(line(m.who, m.text, (m.who === "guide" ? "导购" : "顾客") + " " + clock(m.at)));
    });
    var mine = c.status === "assigned" && state.me.guide_userid && c.guide === state.me.guide_userid;
    $("held-actions").hidden = !mine;
    renderTags(c.tags || [], mine);
    var past = $("past-list");
    past.textContent = "";
    (c.past || []).forEach(function (p) {
      past.appendChild(make("li", "", clock(p.requested_at) + " " + p.requested_at.slice(0, 10) + " · " +
        (REASONS[p.reason] || p.reason) + " · " + (p.guide_name || "未接入") + (p.status === "ended" ? " · 已结束" : "")));
    });
    $("past").hidden = !(c.past && c.past.length);
    fillTransferTargets(c.guide);
    transcript.lastElementChild && transcript.lastElementChild.scrollIntoView({ block: "end" });
  }

  function renderTags(tags, mine) {
    var list = $("tag-list");
    list.textContent = "";
    tags.forEach(function (t) {
      var chip = make("span", "chip", t.name);
      if (mine) {
        var remove = make("button", "", "×");
        remove.setAttribute("aria-label", "去掉 " + t.name);
        remove.addEventListener("click", function () { changeTags([], [t.id]); });
        chip.appendChild(remove);
      }
      list.appendChild(chip);
    });
    $("tag-form").hidden = !mine;
  }

  function changeTags(add, remove) {
    api("POST", "/api/guide/conversations/" + state.current + "/tags", { add: add, remove: remove })
      .then(function (answer) {
        if (answer.ok) openConversation(state.current);
        else { $("notice").textContent = "标签没改成：" + (answer.data.error || answer.status); }
      });
  }

  $("tag-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if ($("tag-add").value) changeTags([$("tag-add").value], []);
  });

  function loadTagCatalogue() {
    api("GET", "/api/guide/tags").then(function (answer) {
      var select = $("tag-add");
      (answer.ok ? answer.data.tags : []).forEach(function (t) {
        var option = make("option", "", t.name);
        option.value = t.id;
        select.appendChild(option);
      });
    });
  }

  function fillTransferTargets(holder) {
    api("GET", "/api/guide/guides").then(function (answer) {
      var select = $("transfer-to");
      var chosen = select.value;  // a live refresh must not undo what the guide picked
      select.textContent = "";
      (answer.ok ? answer.data.guides : []).forEach(function (g) {
        if (g.userid === holder) return;
        var option = make("option", "", g.name + (g.on_duty ? "（" + g.load + "/" + g.capacity + "）" : "（休息）"));
        option.value = g.userid;
        option.disabled = !g.on_duty || g.load >= g.capacity;
        select.appendChild(option);
      });
      if (chosen) select.value = chosen;
    });
  }

  function loadQuickReplies() {
    api("GET", "/api/guide/quick-replies").then(function (answer) {
      var select = $("quick");
      (answer.ok ? answer.data.quick_replies : []).forEach(function (q) {
        var option = make("option", "", q.title);
        option.value = q.text;
        select.appendChild(option);
      });
    });
  }

  $("quick").addEventListener("change", function () {
    if ($("quick").value) $("reply").value = $("quick").value;
    $("quick").value = "";
    $("reply").focus();
  });

  $("reply-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("reply").value.trim();
    if (!text || !state.current) return;
    api("POST", "/api/guide/conversations/" + state.current + "/reply", { text: text }).then(function (answer) {
      if (answer.ok) { $("reply").value = ""; openConversation(state.current); }
      else { $("notice").textContent = "没发出去：" + (answer.data.error || answer.status); }
    });
  });

  $("transfer-form").addEventListener("submit", function (event) {
    event.preventDefault();
    if (!state.current || !$("transfer-to").value) return;
    api("POST", "/api/guide/conversations/" + state.current + "/transfer",
      { to: $("transfer-to").value, note: $("transfer-note").value }).then(function (answer) {
      if (answer.ok) { $("transfer-note").value = ""; openView("mine"); }
      else { $("notice").textContent = "转接失败：" + (answer.data.error || answer.status); }
    });
  });

  $("end").addEventListener("click", function () {
    if (!state.current) return;
    api("POST", "/api/guide/conversations/" + state.current + "/end").then(function (answer) {
      if (answer.ok) openView("mine");
      else { $("notice").textContent = "结束失败：" + (answer.data.error || answer.status); }
    });
  });

  $("back").addEventListener("click", function () { openView(state.view); });

  // --- live: the server says what changed, the page re-reads what it shows ---

  function listen() {
    if (state.events || !window.EventSource) return;
    state.events = new EventSource("/api/guide/events");
    state.events.onopen = function () { $("live").textContent = "实时更新中"; };
    state.events.onerror = function () { $("live").textContent = "连接中断，正在重连…"; };
    state.events.onmessage = function (event) {
      var change = {};
      try { change = JSON.parse(event.data); } catch (e) { return; }
      if (!$("lists").hidden) { if (state.view === "levels") refreshLevels(); else refreshList(); }
      else { refreshCounts(); if (state.current && change.id === state.current) openConversation(state.current); }
    };
  }

  api("GET", "/api/staff/me").then(function (answer) {
    if (answer.ok) signedIn(answer.data); else show("login");
  });
})();
