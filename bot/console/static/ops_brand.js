// The ops console's 品牌与人设 tab (issue 13): brand facts, personas and a live preview.
// Facts are edited inline, a persona in a form; every unsaved edit re-renders a sample
// of real replies (POST /api/ops/brand/preview, debounced) before anything is saved.
// Each save is one git commit by the signed-in account (bot/console/brand_api.py).
// Plain DOM, textContent only, no inline code (the page's CSP is script-src 'self').
(function () {
  "use strict";
  var API = "/api/ops/brand";
  var PREVIEW_DELAY_MS = 350;
  var PREVIEW_SAMPLE = 10;
  var S = {
    built: false, facts: [], drafts: {},             // drafts: fact key -> unsaved text
    personas: [], fields: {}, active: "",
    pid: "", saved: null, draft: null,               // the persona being edited
    seq: 0, timer: null, ui: {}
  };

  var Ops = window.Ops = window.Ops || {};
  Ops.views = Ops.views || {};
  function el(tag, text, cls) { return Ops.el(tag, text, cls); }
  function clone(x) { return JSON.parse(JSON.stringify(x)); }
  function shortSha(sha) { return sha ? "（提交 " + sha.slice(0, 8) + "）" : "（内容没有变化）"; }
  // live: false when the console edits a copy the bot does not read (a data branch).
  function spoken(data) { return data.live === false ? "。这里改的是数据分支，合并后机器人才会这样说。" : "，机器人一秒内就按新的说。"; }
  function button(text, onClick, cls) {
    var b = el("button", text, cls); b.type = "button"; b.addEventListener("click", onClick); return b;
  }
  function clear(node) { node.textContent = ""; return node; }

  // ------------------------------------------------------------------ skeleton

  function build(container) {
    clear(container);
    var ui = S.ui;
    var layout = el("div", undefined, "brand-layout");
    var main = el("div", undefined, "brand-main");

    var facts = el("section", undefined, "brand-facts");
    facts.appendChild(el("h2", "品牌信息"));
    facts.appendChild(el("p", "回复里的 {fact:键名} 会换成这里的值。保存后机器人一秒内就按新的说，不用重新训练。", "brand-hint"));
    ui.filter = el("input", undefined, "brand-filter");
    ui.filter.type = "search"; ui.filter.placeholder = "筛选键名、值或说明";
    ui.filter.addEventListener("input", filterFacts);
    facts.appendChild(ui.filter);
    ui.table = el("table", undefined, "brand-facts-table"); ui.table.id = "brand-facts";
    var head = el("thead"), headRow = el("tr");
    ["键名", "值", "说明", "用到的地方", ""].forEach(function (t) { headRow.appendChild(el("th", t)); });
    head.appendChild(headRow);
    ui.table.appendChild(head); ui.tbody = el("tbody"); ui.table.appendChild(ui.tbody);
    var scroll = el("div", undefined, "brand-facts-scroll");  // the persona form stays in reach
    scroll.appendChild(ui.table); facts.appendChild(scroll);
    facts.appendChild(buildAddForm());
    main.appendChild(facts);

    var persona = el("section", undefined, "brand-persona");
    persona.appendChild(el("h2", "人设"));
    var pick = el("label", "人设 ", "brand-pick");
    ui.pick = el("select"); ui.pick.id = "brand-persona-pick";
    ui.pick.addEventListener("change", pickPersona);
    pick.appendChild(ui.pick); persona.appendChild(pick);
    ui.form = el("div", undefined, "brand-persona-form"); ui.form.id = "brand-persona-form";
    persona.appendChild(ui.form);
    ui.problems = el("ul", undefined, "error brand-problems"); ui.problems.id = "brand-persona-problems";
    persona.appendChild(ui.problems);
    var actions = el("p", undefined, "brand-persona-actions");
    ui.save = button("保存人设", savePersona); ui.save.id = "brand-persona-save"; ui.save.disabled = true;
    ui.reset = button("放弃修改", resetPersona); ui.reset.disabled = true;
    ui.dirty = el("span", "", "brand-dirty-note");
    actions.appendChild(ui.save); actions.appendChild(ui.reset); actions.appendChild(ui.dirty);
    persona.appendChild(actions);
    main.appendChild(persona);

    var aside = el("aside", undefined, "brand-preview"); aside.id = "brand-preview";
    aside.appendChild(el("h2", "预览"));
    ui.previewWho = el("p", "", "brand-hint");
    ui.previewStatus = el("p", "", "brand-preview-status"); ui.previewStatus.id = "brand-preview-status";
    ui.previewProblems = el("ul", undefined, "error");
    ui.preview = el("ul", undefined, "brand-preview-list"); ui.preview.id = "brand-preview-list";
    [ui.previewWho, ui.previewStatus, ui.previewProblems, ui.preview].forEach(function (n) { aside.appendChild(n); });

    layout.appendChild(main); layout.appendChild(aside);
    container.appendChild(layout);
    S.built = true;
  }

  function buildAddForm() {
    var ui = S.ui;
    var form = el("form", undefined, "brand-add"); form.id = "brand-fact-add";
    form.appendChild(el("b", "新增一条："));
    ui.addKey = el("input"); ui.addKey.placeholder = "键名（小写英文、数字、下划线）"; ui.addKey.required = true;
    ui.addValue = el("input"); ui.addValue.placeholder = "值"; ui.addValue.required = true;
    ui.addAfter = el("select");
    var submit = el("button", "新增"); submit.type = "submit";
    ui.addMsg = el("span", "", "error");
    [ui.addKey, ui.addValue, el("span", "放在"), ui.addAfter, submit, ui.addMsg].forEach(function (n) { form.appendChild(n); });
    form.addEventListener("submit", function (event) { event.preventDefault(); addFact(); });
    return form;
  }

  // ------------------------------------------------------------------ facts

  function loadFacts() {
    return Ops.api("GET", API + "/facts").then(function (a) {
      if (!a.ok) { Ops.say(a.data.error || "读取品牌信息失败"); return; }
      S.facts = a.data.facts;
      Object.keys(S.drafts).forEach(function (k) { if (!factByKey(k)) delete S.drafts[k]; });
      renderFacts();
    });
  }

  function factByKey(key) {
    for (var i = 0; i < S.facts.length; i++) if (S.facts[i].key === key) return S.facts[i];
    return null;
  }

  function renderFacts() {
    var tbody = clear(S.ui.tbody), section = null;
    S.facts.forEach(function (f) {
      if (f.section && f.section !== section) {
        section = f.section;
        var tr = el("tr", undefined, "brand-section"), th = el("th", section);
        th.colSpan = 5; tr.appendChild(th); tbody.appendChild(tr);
      }
      tbody.appendChild(factRow(f));
    });
    var after = clear(S.ui.addAfter);
    var last = el("option", "最后"); last.value = ""; after.appendChild(last);
    S.facts.forEach(function (f) { var o = el("option", "「" + f.key + "」之后"); o.value = f.key; after.appendChild(o); });
    filterFacts();
  }

  function factRow(f) {
    var tr = el("tr", undefined, "brand-fact"); tr.dataset.key = f.key;
    var keyCell = el("td"); keyCell.appendChild(el("code", f.key));
    var valueCell = el("td");
    var input = el("input", undefined, "brand-fact-value");
    input.value = S.drafts[f.key] !== undefined ? S.drafts[f.key] : String(f.value);
    input.setAttribute("aria-label", f.key + " 的值");
    var msg = el("div", "", "brand-row-msg");
    valueCell.appendChild(input); valueCell.appendChild(msg);

    var saveBtn = button("保存", function () { saveFact(f, input, msg, tr); }, "brand-fact-save");
    var undoBtn = button("还原", function () { input.value = String(f.value); factEdited(f, input, tr); }, "link");
    function sync() { var dirty = S.drafts[f.key] !== undefined; tr.classList.toggle("dirty", dirty); saveBtn.disabled = !dirty; undoBtn.hidden = !dirty; }
    input.addEventListener("input", function () { factEdited(f, input, tr); });
    input.addEventListener("keydown", function (event) { if (event.key === "Enter" && !saveBtn.disabled) saveFact(f, input, msg, tr); });
    tr.syncState = sync;

    var actions = el("td", undefined, "brand-fact-actions");
    actions.appendChild(saveBtn); actions.appendChild(undoBtn);
    actions.appendChild(button("改名", function () { startRename(f, keyCell, msg); }, "link"));
    actions.appendChild(button("删除", function () { deleteFact(f, msg); }, "link brand-fact-delete"));

    [keyCell, valueCell, el("td", f.comment || "", "brand-comment"), usageCell(f.usages), actions].forEach(function (c) { tr.appendChild(c); });
    sync();
    return tr;
  }

  function usageCell(usages) {
    var td = el("td", undefined, "brand-usages");
    if (!usages.length) { td.appendChild(el("span", "没有用到", "brand-muted")); return td; }
    var details = el("details");
    details.appendChild(el("summary", usages.length + " 处"));
    details.appendChild(usageList(usages));
    td.appendChild(details);
    return td;
  }

  function usageList(usages) {
    var ul = el("ul", undefined, "brand-usage-list");
    usages.forEach(function (u) { ul.appendChild(el("li", u.file + "：" + u.where)); });
    return ul;
  }

  function factEdited(f, input, tr) {
    if (input.value === String(f.value)) delete S.drafts[f.key]; else S.drafts[f.key] = input.value;
    if (tr.syncState) tr.syncState();
    schedulePreview();
  }

  function rowMessage(msg, text, usages) {
    clear(msg).appendChild(el("span", text));
    if (usages && usages.length) msg.appendChild(usageList(usages));
  }

  function saveFact(f, input, msg, tr) {
    var value = input.value;
    Ops.api("PUT", API + "/facts/" + encodeURIComponent(f.key), { value: value }).then(function (a) {
      if (!a.ok) { rowMessage(msg, a.data.error || "没有保存"); return; }
      f.value = a.data.fact.value; f.usages = a.data.fact.usages;
      if (input.value === value) { delete S.drafts[f.key]; input.value = String(f.value); }
      else factEdited(f, input, tr);
      clear(msg); tr.syncState();
      Ops.say("已保存「" + f.key + "」" + shortSha(a.data.commit) + spoken(a.data));
      schedulePreview();
    });
  }

  function deleteFact(f, msg) {
    if (!window.confirm("删除品牌信息「" + f.key + "」？")) return;
    Ops.api("DELETE", API + "/facts/" + encodeURIComponent(f.key)).then(function (a) {
      if (!a.ok) { rowMessage(msg, a.data.error || "没有删除", a.data.usages); return; }
      delete S.drafts[f.key];
      Ops.say("已删除「" + f.key + "」" + shortSha(a.data.commit));
      loadFacts().then(schedulePreview);
    });
  }

  function startRename(f, keyCell, msg) {
    var input = el("input", undefined, "brand-rename"); input.value = f.key;
    var form = el("span");
    form.appendChild(input);
    form.appendChild(button("确定", function () { renameFact(f, input.value.trim(), msg); }));
    form.appendChild(button("取消", function () { clear(keyCell).appendChild(el("code", f.key)); clear(msg); }, "link"));
    clear(keyCell).appendChild(form);
    input.focus();
  }

  function renameFact(f, to, msg) {
    Ops.api("POST", API + "/facts/" + encodeURIComponent(f.key) + "/rename", { to: to }).then(function (a) {
      if (!a.ok) { rowMessage(msg, a.data.error || "没有改名", a.data.usages); return; }
      if (S.drafts[f.key] !== undefined) { S.drafts[to] = S.drafts[f.key]; delete S.drafts[f.key]; }
      Ops.say("「" + f.key + "」已改名为「" + to + "」" + shortSha(a.data.commit));
      loadFacts();
    });
  }

  function addFact() {
    var ui = S.ui;
    clear(ui.addMsg);
    var body = { key: ui.addKey.value.trim(), value: ui.addValue.value };
    if (ui.addAfter.value) body.after = ui.addAfter.value;
    Ops.api("POST", API + "/facts", body).then(function (a) {
      if (!a.ok) { ui.addMsg.textContent = a.data.error || "没有新增"; return; }
      ui.addKey.value = ""; ui.addValue.value = "";
      Ops.say("已新增「" + a.data.fact.key + "」" + shortSha(a.data.commit) + "，回复里用 {fact:" + a.data.fact.key + "} 引用它。");
      loadFacts();
    });
  }

  function filterFacts() {
    var q = S.ui.filter.value.trim().toLowerCase();
    var rows = S.ui.tbody.querySelectorAll("tr");
    rows.forEach(function (tr) {
      if (tr.classList.contains("brand-section")) { tr.hidden = !!q; return; }
      var f = factByKey(tr.dataset.key) || {};
      var hay = [f.key, String(f.value), f.comment || "", S.drafts[f.key] || ""].join(" ").toLowerCase();
      tr.hidden = !!q && hay.indexOf(q) < 0;
    });
  }

  // ------------------------------------------------------------------ personas

  function loadPersonas() {
    return Ops.api("GET", API + "/personas").then(function (a) {
      if (!a.ok) { Ops.say(a.data.error || "读取人设失败"); return; }
      S.personas = a.data.personas; S.fields = a.data.fields; S.active = a.data.active;
      if (!S.pid || !S.personas.some(function (p) { return p.id === S.pid; })) {
        S.pid = S.personas.some(function (p) { return p.id === S.active; }) ? S.active : (S.personas[0] || {}).id || "";
      }
      renderPicker();
      return S.pid ? loadPersona(S.pid) : null;
    });
  }

  function renderPicker() {
    var pick = clear(S.ui.pick);
    S.personas.forEach(function (p) {
      var o = el("option", p.name + "（" + p.id + "）" + (p.id === S.active ? " · 正在使用" : ""));
      o.value = p.id; pick.appendChild(o);
    });
    pick.value = S.pid;
  }

  function loadPersona(id) {
    return Ops.api("GET", API + "/personas/" + encodeURIComponent(id)).then(function (a) {
      if (!a.ok) { Ops.say(a.data.error || "读取人设失败"); return; }
      S.pid = id; S.saved = a.data.persona; S.draft = clone(S.saved);
      renderPersona();
    });
  }

  function personaDirty() { return !!S.draft && JSON.stringify(S.draft) !== JSON.stringify(S.saved); }

  function pickPersona() {
    var next = S.ui.pick.value;
    if (personaDirty() && !window.confirm("放弃对「" + S.saved.name + "」还没保存的修改？")) { S.ui.pick.value = S.pid; return; }
    loadPersona(next).then(schedulePreview);
  }

  function label(path, fallback) { return S.fields[path] || fallback || path; }

  function field(text, control, cls) {
    var wrap = el("label", undefined, "brand-field" + (cls ? " " + cls : ""));
    wrap.appendChild(el("span", text));
    wrap.appendChild(control);
    return wrap;
  }

  // A text control bound to a value of the draft: get() reads it, set(v) writes it.
  function bound(tag, get, set, name) {
    var c = el(tag);
    if (name) c.name = name;
    var value = get();
    c.value = value === undefined || value === null ? "" : String(value);
    c.addEventListener("input", function () { set(c.value); personaEdited(); });
    return c;
  }

  function tone() { S.draft.tone = S.draft.tone || {}; return S.draft.tone; }

  function renderPersona() {
    var form = clear(S.ui.form), d = S.draft;
    clear(S.ui.problems);
    form.appendChild(field(label("name", "名字"), bound("input", function () { return d.name; }, function (v) { d.name = v; }, "name")));
    var avatar = bound("input", function () { return d.avatar; }, function (v) { d.avatar = v; showAvatar(img, v); }, "avatar");
    var img = el("img", undefined, "brand-avatar"); img.alt = "";
    var avatarField = field(label("avatar", "头像地址"), avatar); avatarField.appendChild(img);
    showAvatar(img, d.avatar || "");
    form.appendChild(avatarField);
    form.appendChild(field(label("self_intro", "自我介绍"), bound("textarea", function () { return d.self_intro; }, function (v) { d.self_intro = v; }, "self_intro"), "wide"));
    var t = d.tone || {};
    form.appendChild(field(label("tone.you", "对顾客的称呼"), bound("input", function () { return t.you; }, function (v) { tone().you = v; }, "tone.you")));
    form.appendChild(field(label("tone.exclaim", "句末感叹号换成"), bound("input", function () { return t.exclaim; }, function (v) { tone().exclaim = v; }, "tone.exclaim")));
    form.appendChild(emojiFields(t.emoji || {}));
    form.appendChild(field(label("signature_phrases", "口头禅") + "（一行一句）",
      bound("textarea", function () { return (d.signature_phrases || []).join("\n"); },
        function (v) { d.signature_phrases = v.split("\n").map(function (s) { return s.trim(); }).filter(Boolean); }, "signature_phrases"), "wide"));
    form.appendChild(responseFields());
    form.appendChild(systemTextFields());
    personaState();
  }

  function showAvatar(img, src) {
    // The page may show only its own images (CSP img-src 'self').
    var local = /^\/[^/]/.test(src || "");
    img.hidden = !local;
    if (local) img.src = src; else img.removeAttribute("src");
  }

  function emojiFields(emoji) {
    var box = el("fieldset", undefined, "brand-emoji");
    box.appendChild(el("legend", label("tone.emoji", "表情")));
    Object.keys(emoji).forEach(function (name) {
      var c = bound("input", function () { return emoji[name]; }, function (v) { tone().emoji[name] = v; }, "tone.emoji." + name);
      box.appendChild(field(name, c, "brand-emoji-one"));
    });
    return box;
  }

  function responseFields() {
    var d = S.draft;
    var box = el("fieldset", undefined, "brand-responses");
    box.appendChild(el("legend", label("responses", "专属回复")));
    var names = Object.keys(d.responses || {}).sort(function (a, b) {
      return (a === "utter_greet" ? -1 : 0) - (b === "utter_greet" ? -1 : 0) || (a < b ? -1 : a > b ? 1 : 0);
    });
    if (!names.length) box.appendChild(el("p", "这个人设没有专属回复：用的都是通用话术。", "brand-muted"));
    names.forEach(function (name) {
      var variants = d.responses[name];
      var group = el("div", undefined, "brand-response"); group.dataset.response = name;
      group.appendChild(el("h4", name === "utter_greet" ? name + "（打招呼）" : name));
      variants.forEach(function (variant, i) {
        var c = bound("textarea", function () { return variant.text; }, function (v) { variant.text = v; }, name + "[" + i + "]");
        var row = field("第 " + (i + 1) + " 条", c, "wide");
        if (variants.length > 1) row.appendChild(button("删掉这条", function () { variants.splice(i, 1); renderPersona(); personaEdited(); }, "link"));
        group.appendChild(row);
      });
      group.appendChild(button("加一条说法", function () { variants.push({ text: "" }); renderPersona(); personaEdited(); }, "link"));
      box.appendChild(group);
    });
    return box;
  }

  function systemTextFields() {
    var texts = S.draft.system_texts || {};
    var box = el("details", undefined, "brand-system-texts");
    box.appendChild(el("summary", label("system_texts", "系统话术") + "（" + Object.keys(texts).length + " 条）"));
    Object.keys(texts).forEach(function (key) {
      box.appendChild(field(key, bound("textarea", function () { return texts[key]; }, function (v) { texts[key] = v; }, "system_texts." + key), "wide"));
    });
    return box;
  }

  function personaState() {
    var dirty = personaDirty();
    S.ui.save.disabled = !dirty; S.ui.reset.disabled = !dirty;
    S.ui.dirty.textContent = dirty ? "有还没保存的修改" : "";
  }

  function personaEdited() { personaState(); schedulePreview(); }

  function resetPersona() { S.draft = clone(S.saved); renderPersona(); schedulePreview(); }

  function savePersona() {
    var id = S.pid;
    clear(S.ui.problems);
    Ops.api("PUT", API + "/personas/" + encodeURIComponent(id), { persona: S.draft }).then(function (a) {
      if (!a.ok) {
        var problems = a.data.problems && a.data.problems.length ? a.data.problems : [a.data.error || "没有保存"];
        problems.forEach(function (p) { S.ui.problems.appendChild(el("li", p)); });
        Ops.say("人设没有保存：请先改好下面列出的问题。");
        return;
      }
      S.saved = a.data.persona; S.draft = clone(S.saved);
      S.personas.forEach(function (p) { if (p.id === id) p.name = S.saved.name; });
      renderPicker(); renderPersona();
      Ops.say("已保存人设「" + S.saved.name + "」" + shortSha(a.data.commit) + spoken(a.data));
      schedulePreview();
    });
  }

  // ------------------------------------------------------------------ preview

  function hasDrafts() { return Object.keys(S.drafts).length > 0 || personaDirty(); }

  function schedulePreview() {
    if (S.timer) clearTimeout(S.timer);
    S.ui.previewStatus.textContent = "正在更新预览…";
    S.timer = setTimeout(runPreview, PREVIEW_DELAY_MS);
  }

  function runPreview() {
    S.timer = null;
    if (!S.pid) return;
    var seq = ++S.seq, drafted = hasDrafts();
    var body = { persona: S.pid, sample: PREVIEW_SAMPLE };
    if (Object.keys(S.drafts).length) body.facts = S.drafts;
    if (personaDirty()) body.persona_data = S.draft;
    S.ui.previewWho.textContent = "用「" + ((S.draft && S.draft.name) || S.pid) + "」的口吻，顾客会看到：";
    Ops.api("POST", API + "/preview", body).then(function (a) {
      if (seq !== S.seq) return;  // a newer edit is already being previewed
      renderPreview(a, drafted);
    });
  }

  function renderPreview(a, drafted) {
    var ui = S.ui;
    clear(ui.previewProblems);
    ui.previewStatus.classList.toggle("error", !a.ok);
    if (!a.ok) {
      clear(ui.preview);  // an old sample would pass for the draft's
      ui.previewStatus.textContent = "预览不了：" + ((a.data.error || "").split("\n")[0] || "出错了");
      (a.data.problems || []).forEach(function (p) { ui.previewProblems.appendChild(el("li", p)); });
      return;
    }
    ui.previewStatus.textContent = drafted ? "下面是还没保存的修改的效果（改动过的排在前面）。" : "没有还没保存的修改：下面是现在的说法。";
    var list = clear(ui.preview);
    a.data.items.forEach(function (item) {
      var li = el("li", undefined, item.changed ? "changed" : "");
      li.appendChild(el("code", item.response, "brand-preview-name"));
      li.appendChild(el("div", item.text, "brand-preview-text"));
      if (item.changed) li.appendChild(el("div", "原来：" + (item.before === null ? "（没有）" : item.before), "brand-preview-before"));
      list.appendChild(li);
    });
  }

  // ------------------------------------------------------------------ the tab

  Ops.views.brand = function (container) {
    if (!S.built) build(container);
    if (hasDrafts()) { schedulePreview(); return; }  // keep unsaved edits when the tab is reopened
    Promise.all([loadFacts(), loadPersonas()]).then(schedulePreview);
  };
})();
