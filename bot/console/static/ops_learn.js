/* 待学习 (issue 13): the unanswered-questions inbox and the conversation review, where ops
 * turn what customers really wrote into training data.
 *
 *   GET  /api/ops/learn/intents, /api/ops/learn/groups, /api/ops/learn/groups/<id>
 *   POST /api/ops/learn/groups/<id>/examples | faq | dismiss, /api/ops/learn/messages/examples
 *   GET  /api/ops/review, /api/ops/review/conversation/<sender>   (bot/console/dashboard_api.py)
 *
 * Plain DOM, no framework, no inline code or style (CSP script-src 'self'; style-src 'self'):
 * every text goes in through textContent. Uses the helpers of ops.js (window.Ops).
 */
(function () {
  "use strict";
  var Ops = window.Ops = window.Ops || {};
  Ops.views = Ops.views || {};

  var BASE = "/api/ops/learn";
  var CHANNELS = { wechat_mp: "公众号", wecom_kf: "微信客服", wecom: "企业微信", web: "网页聊天", rest: "接口调用" };
  var HOW = { examples: "加为例句", faq: "新建问答", dismiss: "忽略" };
  var FALLBACK_INTENTS = ["nlu_fallback", "out_of_scope"];
  var PAGE = 50;
  var state = { root: null, intents: [], status: "open", offset: 0, next: null, selected: {}, nodes: {} };

  // --- small helpers -------------------------------------------------------------------

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function button(text, onClick, cls) {
    var b = el("button", text, cls);
    b.type = "button";
    b.addEventListener("click", onClick);
    return b;
  }

  function input(type, placeholder, cls) {
    var i = document.createElement("input");
    i.type = type;
    if (placeholder) i.placeholder = placeholder;
    if (cls) i.className = cls;
    return i;
  }

  function labelled(text, control) {
    var l = el("label", text ? text + " " : "");
    l.appendChild(control);
    return l;
  }

  function when(stamp) {
    if (!stamp) return "";
    var d = new Date(stamp);
    return isNaN(d.getTime()) ? String(stamp) : d.toLocaleString("zh-CN", { hour12: false });
  }

  function clear(node) { node.textContent = ""; return node; }
  function short(sha) { return sha ? String(sha).slice(0, 8) : ""; }

  function intentLabel(name) {
    var found = state.intents.filter(function (i) { return i.name === name; })[0];
    return found && found.title ? found.title + "（" + name + "）" : name;
  }

  function isFallback(turn) {
    return FALLBACK_INTENTS.indexOf(turn.intent) >= 0 ||
      (turn.actions || []).indexOf("action_default_fallback") >= 0;
  }

  // --- the notice: what changed, and that training is needed ----------------------------

  function describe(result, what) {
    if (what === "dismiss") return "已忽略这组问题，它不会再出现在待学习里。";
    var parts = [];
    var added = result.added || [], skipped = result.skipped || [];
    if (result.created) parts.push("已新建问答「" + intentLabel(result.intent) + "」，" + added.length + " 条问法");
    else if (added.length) parts.push("已把 " + added.length + " 条消息加为「" + intentLabel(result.intent) + "」的例句");
    if (skipped.length) parts.push("跳过 " + skipped.length + " 条（" + skipped.map(function (s) { return s.text; }).join("、") + "：已经有了）");
    if (!added.length && !result.created) parts.push("没有新的例句");
    if (result.commit) parts.push("已记录为修改 " + short(result.commit));
    if ((result.warnings || []).length) parts.push("有几条和别的意图很像，训练后请留意效果");
    if (result.group) parts.push("这组问题已标记为已处理");
    return parts.join("；") + "。";
  }

  function notify(text, training, isError) {
    var box = clear(state.nodes.notice);
    box.hidden = false;
    box.className = "learn-notice" + (isError ? " learn-notice-error" : "");
    box.appendChild(el("span", text, "learn-notice-text"));
    if (training) {
      box.appendChild(el("span", " 要让机器人学会，请到「训练与上线」训练并上线新模型。"));
      box.appendChild(button("去训练与上线", function () { Ops.open("models"); }, "learn-train"));
    }
    box.appendChild(button("知道了", function () { box.hidden = true; }, "link"));
  }

  // --- the intent picker ----------------------------------------------------------------

  function loadIntents() {
    return Ops.api("GET", BASE + "/intents").then(function (a) {
      if (a.ok) state.intents = a.data.intents || [];
      else notify(a.data.error || "读取意图列表失败", false, true);
    });
  }

  function intentPicker(preselect) {
    var wrap = el("span", null, "learn-picker");
    var filter = input("search", "筛选意图或问题", "learn-intent-filter");
    var select = document.createElement("select");
    select.className = "learn-intent";
    var none = el("option", "请选择意图…"); none.value = ""; select.appendChild(none);
    var groups = [["faq", "问答（FAQ）"], ["chitchat", "闲聊"], ["intent", "其他意图"]];
    groups.forEach(function (g) {
      var group = document.createElement("optgroup");
      group.label = g[1];
      state.intents.filter(function (i) { return i.kind === g[0]; }).forEach(function (i) {
        var option = el("option", i.title ? i.title + "（" + i.name + "）" : i.name);
        option.value = i.name;
        group.appendChild(option);
      });
      if (group.children.length) select.appendChild(group);
    });
    if (preselect) select.value = preselect;
    filter.addEventListener("input", function () {
      var q = filter.value.trim().toLowerCase();
      Array.prototype.forEach.call(select.querySelectorAll("option"), function (o) {
        if (o.value) o.hidden = q !== "" && o.textContent.toLowerCase().indexOf(q) < 0;
      });
    });
    wrap.appendChild(filter);
    wrap.appendChild(select);
    wrap.select = select;
    return wrap;
  }

  // --- conflicts: show them, offer to add anyway ------------------------------------------

  function showConflicts(box, data, retry) {
    clear(box);
    box.appendChild(el("p", data.error || "和别的意图的例句重复了", "error"));
    var list = el("ul", null, "learn-conflicts");
    (data.conflicts || []).forEach(function (c) {
      list.appendChild(el("li", "「" + (c.text || "") + "」已经是 " + intentLabel(c.intent) + " 的例句" +
        (c.example && c.example !== c.text ? "（" + c.example + "）" : "")));
    });
    box.appendChild(list);
    box.appendChild(button("仍然添加", retry, "learn-force"));
  }

  function handleAnswer(a, box, what, retry) {
    if (a.ok) {
      notify(describe(a.data, what), !!a.data.needs_training);
      return true;
    }
    if (a.status === 409 && a.data.conflicts && retry) { showConflicts(box, a.data, retry); return false; }
    if (a.data.already_handled) { notify(a.data.error, false, true); loadGroups(); return false; }
    clear(box).appendChild(el("p", a.data.error || "操作失败（" + a.status + "）", "error"));
    return false;
  }

  // --- the inbox ------------------------------------------------------------------------

  function loadGroups(more) {
    if (!more) state.offset = 0;
    var query = "?status=" + state.status + "&limit=" + PAGE + "&offset=" + state.offset;
    return Ops.api("GET", BASE + "/groups" + query).then(function (a) {
      var list = state.nodes.groups;
      if (!more) clear(list);
      if (!a.ok) { list.appendChild(el("li", a.data.error || "读取待学习的问题失败", "error")); return; }
      state.offset += a.data.groups.length;
      state.nodes.total.textContent = (state.status === "open" ? "未处理 " : "已处理 ") + a.data.total + " 组";
      if (!a.data.total) list.appendChild(el("li", state.status === "open" ? "暂时没有待学习的问题。" : "还没有处理过的问题。", "learn-empty"));
      a.data.groups.forEach(function (g) { list.appendChild(groupItem(g)); });
      state.nodes.moreGroups.hidden = state.offset >= a.data.total;
    });
  }

  function groupItem(g) {
    var li = el("li", null, "learn-group");
    li.dataset.gid = g.id;
    var head = el("div", null, "learn-group-head");
    head.appendChild(el("b", g.label, "learn-label"));
    head.appendChild(el("span", "×" + g.count, "learn-count"));
    head.appendChild(el("span", "最近 " + when(g.last_ts) + "（最早 " + when(g.first_ts) + "）", "learn-when"));
    if (g.suggested_intent) head.appendChild(el("span", "猜测：" + intentLabel(g.suggested_intent), "learn-guess"));
    li.appendChild(head);
    var samples = el("ul", null, "learn-samples");
    (g.samples || []).forEach(function (s) { samples.appendChild(el("li", s.text)); });
    li.appendChild(samples);
    if (g.status !== "open") {
      li.appendChild(el("p", (g.handled_by || "") + " " + (HOW[g.how] || "处理") + " · " + when(g.handled_at) +
        (g.note ? " · " + g.note : ""), "learn-handled"));
      return li;
    }
    var panel = el("div", null, "learn-panel");
    panel.hidden = true;
    var actions = el("div", null, "learn-actions");
    actions.appendChild(button("加为例句", function () { openPanel(panel, g, "examples"); }, "learn-add"));
    actions.appendChild(button("新建问答", function () { openPanel(panel, g, "faq"); }, "learn-faq"));
    actions.appendChild(button("忽略", function () { openPanel(panel, g, "dismiss"); }, "learn-dismiss"));
    li.appendChild(actions);
    li.appendChild(panel);
    return li;
  }

  function openPanel(panel, g, what) {
    clear(panel);
    panel.hidden = false;
    panel.dataset.kind = what;
    if (what === "dismiss") { dismissForm(panel, g); return; }
    panel.appendChild(el("p", "读取这组消息…", "learn-loading"));
    Ops.api("GET", BASE + "/groups/" + g.id).then(function (a) {
      clear(panel);
      if (!a.ok) { panel.appendChild(el("p", a.data.error || "读取失败", "error")); return; }
      var picks = messagePicks(a.data.messages || []);
      panel.appendChild(picks.node);
      if (what === "examples") examplesForm(panel, g, picks);
      else faqForm(panel, g, picks);
    });
  }

  function messagePicks(messages) {
    var node = el("fieldset", null, "learn-messages");
    node.appendChild(el("legend", "选择要学习的消息"));
    var boxes = messages.map(function (m) {
      var box = input("checkbox", "", "learn-message");
      box.checked = true;
      box.value = m.text;
      var label = el("label", null, "learn-message-row");
      label.appendChild(box);
      label.appendChild(el("span", " " + m.text));
      if (m.count > 1) label.appendChild(el("span", " ×" + m.count, "learn-count"));
      node.appendChild(label);
      return box;
    });
    return { node: node, chosen: function () { return boxes.filter(function (b) { return b.checked; }).map(function (b) { return b.value; }); } };
  }

  function formButtons(panel, label, submit, cancel) {
    var row = el("div", null, "learn-form-buttons");
    var go = button(label, submit, "learn-submit");
    row.appendChild(go);
    row.appendChild(button("取消", cancel || function () { panel.hidden = true; clear(panel); }, "link"));
    panel.appendChild(row);
    var box = el("div", null, "learn-feedback");
    panel.appendChild(box);
    return { go: go, box: box };
  }

  function send(path, body, form, what, retry) {
    form.go.disabled = true;  // a double click sends once; the server answers a retry without a second effect
    clear(form.box);
    return Ops.api("POST", path, body).then(function (a) {
      form.go.disabled = false;
      if (handleAnswer(a, form.box, what, retry)) { loadGroups(); loadIntents().then(refreshPickers); }
      return a;
    });
  }

  function examplesForm(panel, g, picks) {
    var picker = intentPicker(g.suggested_intent);
    panel.appendChild(labelled("加为哪个意图的例句：", picker));
    var form = formButtons(panel, "确认添加", function () { submit(false); });
    function submit(force) {
      var texts = picks.chosen();
      if (!texts.length) { clear(form.box).appendChild(el("p", "请至少选一条消息", "error")); return; }
      if (!picker.select.value) { clear(form.box).appendChild(el("p", "请选择意图", "error")); return; }
      send(BASE + "/groups/" + g.id + "/examples", { intent: picker.select.value, messages: texts, force: force },
        form, "examples", function () { submit(true); });
    }
  }

  function faqForm(panel, g, picks) {
    var key = input("text", "例如 gift_wrap（小写字母、数字、下划线）", "learn-faq-key");
    var title = input("text", "顾客会怎么问，例如：可以包装成礼盒吗？", "learn-faq-title");
    var answer = el("textarea", null, "learn-faq-answer");
    answer.placeholder = "回答（可以用 {persona}、{brand}、{fact:KEY} 等占位符）";
    var more = el("textarea", null, "learn-faq-more");
    more.placeholder = "更多问法，每行一句（可不填；新问答至少要 2 条问法）";
    panel.appendChild(labelled("问答键：", key));
    panel.appendChild(labelled("标题：", title));
    panel.appendChild(labelled("回答：", answer));
    panel.appendChild(labelled("更多问法：", more));
    var form = formButtons(panel, "创建问答", function () { submit(false); });
    function submit(force) {
      var extra = more.value.split("\n").map(function (s) { return s.trim(); }).filter(Boolean);
      var body = { key: key.value.trim(), title: title.value, answers: [answer.value], messages: picks.chosen(), force: force };
      if (extra.length) body.more = extra;
      if (!body.messages.length) { clear(form.box).appendChild(el("p", "请至少选一条消息", "error")); return; }
      send(BASE + "/groups/" + g.id + "/faq", body, form, "faq", function () { submit(true); });
    }
  }

  function dismissForm(panel, g) {
    var note = input("text", "原因（可不填），例如：广告、和品牌无关", "learn-dismiss-note");
    panel.appendChild(labelled("忽略这组问题：", note));
    var form = formButtons(panel, "确认忽略", function () {
      send(BASE + "/groups/" + g.id + "/dismiss", { note: note.value }, form, "dismiss", null);
    });
  }

  // --- the conversation review -------------------------------------------------------------

  function reviewQuery(before) {
    var n = state.nodes, params = [];
    [["q", n.q.value], ["intent", n.intent.value], ["channel", n.channel.value], ["from", n.from.value], ["to", n.to.value]]
      .forEach(function (p) { if (p[1].trim()) params.push(p[0] + "=" + encodeURIComponent(p[1].trim())); });
    if (n.low.checked) params.push("low=1");
    if (before) params.push("before=" + encodeURIComponent(before));
    params.push("limit=" + PAGE);
    return "/api/ops/review?" + params.join("&");
  }

  function search(more) {
    var body = state.nodes.turns;
    if (!more) { clear(body); state.selected = {}; updateSelection(); }
    Ops.api("GET", reviewQuery(more ? state.next : null)).then(function (a) {
      if (!a.ok) { body.appendChild(Ops.row(["", "", "", a.data.error || "搜索失败", ""])); return; }
      a.data.turns.forEach(function (t) { body.appendChild(turnRow(t)); });
      if (!more && !a.data.turns.length) body.appendChild(Ops.row(["", "", "", "没有找到符合条件的消息", ""]));
      state.next = a.data.next_before;
      state.nodes.moreTurns.hidden = !state.next;
      state.nodes.found.textContent = "读了 " + a.data.scanned + " 条记录";
    });
  }

  function flag(turn) {
    if (!turn.low) return null;
    return el("span", isFallback(turn) ? "兜底" : "低置信度", "learn-flag");
  }

  function recognised(turn) {
    var span = el("span", turn.intent || "—");
    if (turn.confidence !== null && turn.confidence !== undefined) span.textContent += " " + Number(turn.confidence).toFixed(2);
    if (turn.key) span.textContent += " → " + turn.key;
    var f = flag(turn);
    if (f) { var wrap = el("span"); wrap.appendChild(span); wrap.appendChild(f); return wrap; }
    return span;
  }

  function turnRow(turn) {
    var pick = input("checkbox", "", "learn-pick");
    pick.addEventListener("change", function () {
      if (pick.checked) state.selected[turn.id] = turn.text; else delete state.selected[turn.id];
      updateSelection();
    });
    var text = button(turn.text, function () { conversation(turn); }, "learn-turn-text link");
    var tr = Ops.row([pick, when(turn.time), CHANNELS[turn.channel] || turn.channel, text, recognised(turn)]);
    tr.className = "learn-turn" + (turn.low ? " low" : "") + (isFallback(turn) ? " fallback" : "");
    tr.dataset.id = turn.id;
    return tr;
  }

  function updateSelection() {
    var count = Object.keys(state.selected).length;
    state.nodes.selCount.textContent = "已选 " + count + " 条";
    state.nodes.selection.hidden = count === 0;
  }

  function addSelected(force) {
    var texts = Object.keys(state.selected).map(function (id) { return state.selected[id]; });
    var form = state.nodes.selForm, picker = state.nodes.selPicker;
    if (!picker.select.value) { clear(form.box).appendChild(el("p", "请选择意图", "error")); return; }
    send(BASE + "/messages/examples", { intent: picker.select.value, texts: texts, force: force }, form, "examples",
      function () { addSelected(true); }).then(function (a) { if (a.ok) unselectAll(); });
  }

  function unselectAll() {
    state.selected = {};
    Array.prototype.forEach.call(state.nodes.turns.querySelectorAll(".learn-pick"), function (b) { b.checked = false; });
    clear(state.nodes.selForm.box);
    updateSelection();
  }

  function conversation(turn) {
    var box = state.nodes.conversation;
    box.hidden = false;
    clear(state.nodes.convTurns);
    state.nodes.convTitle.textContent = "对话：" + turn.sender + "（" + (CHANNELS[turn.channel] || turn.channel) + "）";
    Ops.api("GET", "/api/ops/review/conversation/" + encodeURIComponent(turn.sender)).then(function (a) {
      if (!a.ok) { state.nodes.convTurns.appendChild(el("li", a.data.error || "读取对话失败", "error")); return; }
      a.data.turns.forEach(function (t) {
        var li = el("li", null, "learn-conv-turn" + (t.low ? " low" : "") + (t.id === turn.id ? " current" : ""));
        li.appendChild(el("span", when(t.time), "learn-when"));
        li.appendChild(el("span", t.text, "learn-conv-text"));
        li.appendChild(recognised(t));
        if ((t.actions || []).length) li.appendChild(el("span", "机器人：" + t.actions.join("、"), "learn-actions-done"));
        state.nodes.convTurns.appendChild(li);
      });
      box.scrollIntoView({ block: "nearest" });
    });
  }

  // --- building the tab ---------------------------------------------------------------------

  function buildInbox(root) {
    var section = el("section", null, "learn-inbox");
    var head = el("div", null, "learn-head");
    head.appendChild(el("h2", "待学习的问题"));
    var total = el("span", "", "learn-total");
    var open = button("未处理", function () { switchStatus("open"); }, "learn-status active");
    var handled = button("已处理", function () { switchStatus("handled"); }, "learn-status");
    open.dataset.status = "open"; handled.dataset.status = "handled";
    [total, open, handled, button("刷新", function () { loadGroups(); }, "learn-refresh")].forEach(function (n) { head.appendChild(n); });
    section.appendChild(head);
    section.appendChild(el("p", "机器人没答上来或没把握的消息，相似的归成一组。把它们加为例句或新建问答，训练上线后机器人就会了。", "learn-hint"));
    var groups = el("ul", null, "learn-groups");
    section.appendChild(groups);
    var more = button("更多", function () { loadGroups(true); }, "learn-more");
    more.hidden = true;
    section.appendChild(more);
    root.appendChild(section);
    state.nodes.groups = groups; state.nodes.total = total; state.nodes.moreGroups = more;
  }

  function switchStatus(status) {
    state.status = status;
    Array.prototype.forEach.call(state.root.querySelectorAll(".learn-status"), function (b) {
      b.classList.toggle("active", b.dataset.status === status);
    });
    loadGroups();
  }

  function buildSearch(section) {
    var n = state.nodes;
    var form = el("form", null, "learn-search");
    n.q = input("search", "消息里的文字", "learn-q");
    n.intent = input("text", "意图，如 faq/shipping_fee", "learn-intent-q");
    n.intent.setAttribute("list", "learn-intent-names");
    n.intentNames = el("datalist"); n.intentNames.id = "learn-intent-names";
    n.channel = document.createElement("select"); n.channel.className = "learn-channel";
    var any = el("option", "全部渠道"); any.value = ""; n.channel.appendChild(any);
    Object.keys(CHANNELS).forEach(function (c) { var o = el("option", CHANNELS[c]); o.value = c; n.channel.appendChild(o); });
    n.from = input("date", "", "learn-from"); n.to = input("date", "", "learn-to");
    n.low = input("checkbox", "", "learn-low");
    [n.q, n.intent, n.intentNames, n.channel, labelled("从", n.from), labelled("到", n.to), labelled("只看低置信度和兜底", n.low)]
      .forEach(function (c) { form.appendChild(c); });
    var go = el("button", "搜索", "learn-search-go"); go.type = "submit";
    form.appendChild(go);
    form.addEventListener("submit", function (event) { event.preventDefault(); search(false); });
    section.appendChild(form);
  }

  function buildReview(root) {
    var n = state.nodes;
    var section = el("section", null, "learn-review");
    section.appendChild(el("h2", "对话回看"));
    buildSearch(section);
    n.found = el("p", "", "learn-found");
    section.appendChild(n.found);

    n.selection = el("div", null, "learn-selection");
    n.selection.hidden = true;
    n.selCount = el("span", "", "learn-sel-count");
    n.selection.appendChild(n.selCount);
    n.selPickerSlot = el("span");
    n.selection.appendChild(n.selPickerSlot);
    n.selForm = formButtons(n.selection, "加为例句", function () { addSelected(false); }, unselectAll);
    section.appendChild(n.selection);

    var table = el("table", null, "learn-turns");
    var head = el("thead"); head.appendChild(Ops.row(["选", "时间", "渠道", "消息（点开看整段对话）", "识别结果"]));
    table.appendChild(head);
    n.turns = el("tbody");
    table.appendChild(n.turns);
    section.appendChild(table);
    n.moreTurns = button("加载更多", function () { search(true); }, "learn-more");
    n.moreTurns.hidden = true;
    section.appendChild(n.moreTurns);

    n.conversation = el("div", null, "learn-conversation");
    n.conversation.hidden = true;
    var convHead = el("div", null, "learn-head");
    n.convTitle = el("h3", "");
    convHead.appendChild(n.convTitle);
    convHead.appendChild(button("关闭", function () { n.conversation.hidden = true; }, "link"));
    n.conversation.appendChild(convHead);
    n.convTurns = el("ol", null, "learn-conv");
    n.conversation.appendChild(n.convTurns);
    section.appendChild(n.conversation);
    root.appendChild(section);
  }

  function refreshPickers() {
    var n = state.nodes;
    var picker = intentPicker(n.selPicker ? n.selPicker.select.value : "");
    clear(n.selPickerSlot).appendChild(labelled("加为哪个意图的例句：", picker));
    n.selPicker = picker;
    clear(n.intentNames);
    state.intents.forEach(function (i) { var o = el("option"); o.value = i.name; if (i.title) o.label = i.title; n.intentNames.appendChild(o); });
  }

  function build(container) {
    clear(container);
    state.nodes = {};
    state.root = el("div", null, "learn");
    state.nodes.notice = el("div", null, "learn-notice");
    state.nodes.notice.setAttribute("role", "status");
    state.nodes.notice.hidden = true;
    state.root.appendChild(state.nodes.notice);
    buildInbox(state.root);
    buildReview(state.root);
    container.appendChild(state.root);
  }

  Ops.views.learn = function (container) {
    if (!state.root || state.root.parentNode !== container) build(container);
    loadIntents().then(function () { refreshPickers(); loadGroups(); });
  };
})();
