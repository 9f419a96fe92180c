// The ops console's 意图与问答 tab (issue 13): intents and FAQ keys, their examples,
// entity marking by selecting text, live conflict warnings and jieba words while typing,
// FAQ answers with a live preview in each persona's voice, and a 新建问答 form.
// API: bot/console/nlu_api.py. DOM built with textContent only (CSP script-src 'self').
(function () {
  "use strict";
  var Ops = window.Ops = window.Ops || {};
  Ops.views = Ops.views || {};
  var API = "/api/ops/nlu";
  var DEBOUNCE_MS = 300;
  var state = { root: null, intents: [], entities: [], personas: [], current: null, spans: [], sel: null };

  // h("div", {className: "x", id: "y"}, [child, "text"]): properties only, never HTML.
  function h(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (k) {
      if (k === "data") Object.keys(props.data).forEach(function (d) { node.dataset[d] = props.data[d]; });
      else node[k] = props[k];
    });
    (children || []).forEach(function (c) {
      if (c !== null && c !== undefined) node.appendChild(c instanceof Node ? c : document.createTextNode(String(c)));
    });
    return node;
  }
  function clear(node) { while (node.firstChild) node.removeChild(node.firstChild); return node; }
  function $(id) { return document.getElementById(id); }
  function debounce(fn, ms) {
    var timer = null;
    return function () { var args = arguments; clearTimeout(timer); timer = setTimeout(function () { fn.apply(null, args); }, ms); };
  }
  function api(method, path, body) { return Ops.api(method, API + path, body); }
  function say(text) { if (Ops.say) Ops.say(text); }
  function errorOf(a, fallback) { return (a.data && a.data.error) || fallback + "（" + a.status + "）"; }
  function savedText(a, what) {
    var d = a.data, text = what + (d.commit ? "，已记录为提交 " + d.commit.slice(0, 8) : "");
    if (d.warnings && d.warnings.length) text += "；提醒：和 " + d.warnings.map(function (w) { return w.intent + " 的「" + w.text + "」"; }).join("、") + " 很像";
    return text;
  }
  // Enter that confirms an IME candidate (拼音输入法) is not a submit.
  function isEnter(e) { return e.key === "Enter" && !e.isComposing && e.keyCode !== 229; }
  function intentLabel(name, title) { return title ? name + "（" + title + "）" : name; }

  // ------------------------------------------------------------------ conflicts and refusals

  function conflictList(conflicts) {
    return h("ul", { className: "nlu-conflict-list" }, conflicts.map(function (c) {
      var how = c.kind === "duplicate" ? "一样" : "很像（" + Math.round(c.score * 100) + "%）";
      var lead = c["for"] ? "「" + c["for"] + "」" : "";
      return h("li", {}, [lead + "和 ", h("b", { textContent: intentLabel(c.intent, c.title) }), " 的「" + c.text + "」" + how]);
    }));
  }

  // A refused save: the message, the conflicts, and 仍然保存 when force may override them.
  function showRefusal(box, a, retry) {
    clear(box).hidden = false;
    box.appendChild(h("p", { className: "error", textContent: errorOf(a, "保存失败") }));
    if (a.data.conflicts && a.data.conflicts.length) box.appendChild(conflictList(a.data.conflicts));
    if (a.status === 409 && a.data.force_allowed) {
      var force = h("button", { type: "button", className: "nlu-force", textContent: "仍然保存" });
      force.addEventListener("click", function () { force.disabled = true; retry(true); });
      box.appendChild(force);
    }
  }
  function hideBox(box) { clear(box).hidden = true; }

  // ------------------------------------------------------------------ intents

  Ops.views.nlu = function (container) {
    if (state.root !== container) build(container);
    loadIntents();
  };

  function build(container) {
    state.root = container;
    clear(container);
    var filter = h("input", { id: "nlu-filter", type: "search", placeholder: "筛选意图或问题" });
    filter.addEventListener("input", renderIntents);
    var newFaq = h("button", { id: "nlu-new-faq", type: "button", textContent: "新建问答" });
    newFaq.addEventListener("click", openFaqForm);
    container.appendChild(h("div", { className: "nlu" }, [
      h("aside", { className: "nlu-list" }, [h("div", { className: "nlu-list-bar" }, [filter, newFaq]), h("ul", { id: "nlu-intents" })]),
      h("section", { id: "nlu-detail", className: "nlu-detail" }, [h("p", { className: "nlu-hint", textContent: "选择左边的意图或问答，查看和修改例句。" })])
    ]));
  }

  function loadIntents() {
    return api("GET", "/intents").then(function (a) {
      if (!a.ok) { say(errorOf(a, "读取意图失败")); return; }
      state.intents = a.data.intents; state.entities = a.data.entities; state.personas = a.data.personas;
      renderIntents();
    });
  }

  function renderIntents() {
    var list = clear($("nlu-intents")), q = ($("nlu-filter").value || "").trim().toLowerCase();
    state.intents.forEach(function (i) {
      if (q && (i.name + " " + (i.title || "")).toLowerCase().indexOf(q) < 0) return;
      var b = h("button", { type: "button", className: "nlu-intent" + (state.current === i.name ? " active" : ""), data: { intent: i.name } },
        [h("span", { className: "nlu-name", textContent: i.name }), h("span", { className: "nlu-count", textContent: String(i.count) }),
         i.title ? h("span", { className: "nlu-title", textContent: i.title }) : null]);
      b.addEventListener("click", function () { openIntent(i.name); });
      list.appendChild(h("li", {}, [b]));
    });
  }

  // ------------------------------------------------------------------ one intent

  function openIntent(name) {
    // Another intent: drop the old form at once, so nothing is typed into it meanwhile.
    if (state.current !== name) clear($("nlu-detail")).appendChild(h("p", { className: "nlu-hint", textContent: "正在读取 " + name + " …" }));
    state.current = name; state.spans = []; state.sel = null;
    renderIntents();
    return api("GET", "/intents/" + name.split("/").map(encodeURIComponent).join("/") + "/examples").then(function (a) {
      if (!a.ok) { say(errorOf(a, "读取例句失败")); return; }
      if (state.current === name) renderIntent(a.data);
    });
  }

  function reloadIntent() { loadIntents(); return openIntent(state.current); }

  function renderIntent(d) {
    var detail = clear($("nlu-detail"));
    detail.appendChild(h("h2", {}, [d.intent, d.title ? h("span", { className: "nlu-title", textContent: " " + d.title }) : null]));
    detail.appendChild(addForm(d));
    if (d.answers !== null) detail.appendChild(answersSection(d));
    var body = h("tbody");
    d.examples.forEach(function (ex) { body.appendChild(exampleRow(d, ex)); });
    detail.appendChild(h("h3", { textContent: "例句（" + d.examples.length + " 条）" }));
    detail.appendChild(h("table", { id: "nlu-examples" }, [h("thead", {}, [h("tr", {}, [h("th", { textContent: "例句" }), h("th", { textContent: "文件" }), h("th")])]), body]));
  }

  // An example as text with its entities marked.
  function exampleText(ex) {
    var out = h("span", { className: "nlu-example" }), pos = 0;
    ex.entities.slice().sort(function (x, y) { return x.start - y.start; }).forEach(function (e) {
      if (e.start < pos) return;
      out.appendChild(document.createTextNode(ex.plain.slice(pos, e.start)));
      var words = ex.plain.slice(e.start, e.end);
      out.appendChild(h("mark", { className: "nlu-entity", title: e.entity + (e.value !== words ? " = " + e.value : ""), textContent: words }));
      out.appendChild(h("sub", { textContent: e.entity + (e.value !== words ? "=" + e.value : "") }));
      pos = e.end;
    });
    out.appendChild(document.createTextNode(ex.plain.slice(pos)));
    return out;
  }

  function exampleRow(d, ex) {
    var tr = h("tr", { data: { text: ex.text } }), actions = h("td", { className: "nlu-actions" });
    tr.appendChild(h("td", {}, [exampleText(ex)]));
    tr.appendChild(h("td", { className: "nlu-file", textContent: ex.file.replace(/^data\/nlu\//, "") }));
    tr.appendChild(actions);
    if (!ex.editable) { actions.appendChild(h("span", { className: "nlu-hint", textContent: "自动生成，不能改" })); return tr; }
    var edit = h("button", { type: "button", textContent: "编辑" }), del = h("button", { type: "button", className: "nlu-delete", textContent: "删除" });
    edit.addEventListener("click", function () { editRow(d, ex, tr); });
    del.addEventListener("click", function () {
      if (!del.dataset.armed) { del.dataset.armed = "1"; del.textContent = "确定删除？"; return; }
      del.disabled = true;
      api("DELETE", "/examples", { intent: d.intent, text: ex.text, file: ex.file }).then(function (a) {
        if (a.ok) { say(savedText(a, "已删除例句「" + ex.plain + "」")); reloadIntent(); }
        else { say(errorOf(a, "删除失败")); del.disabled = false; }
      });
    });
    actions.appendChild(edit); actions.appendChild(del);
    return tr;
  }

  // Editing works on the text as written: entity markup such as [油皮](skin_type) stays visible.
  function editRow(d, ex, tr) {
    var input = h("input", { type: "text", className: "nlu-edit", value: ex.text });
    var save = h("button", { type: "button", textContent: "保存" }), cancel = h("button", { type: "button", textContent: "取消" });
    var box = h("div", { className: "nlu-refusal", hidden: true });
    var cell = tr.firstChild, actions = tr.lastChild;
    clear(cell).appendChild(input); cell.appendChild(box);
    clear(actions).appendChild(save); actions.appendChild(cancel);
    input.focus();
    function send(force) {
      save.disabled = true;
      api("PUT", "/examples", { intent: d.intent, old: ex.text, text: input.value, file: ex.file, force: force === true }).then(function (a) {
        save.disabled = false;
        if (a.ok) { say(savedText(a, "已修改例句")); reloadIntent(); }
        else showRefusal(box, a, send);
      });
    }
    save.addEventListener("click", function () { send(false); });
    input.addEventListener("keydown", function (e) { if (isEnter(e)) send(false); if (e.key === "Escape") openIntent(d.intent); });
    cancel.addEventListener("click", function () { openIntent(d.intent); });
  }

  // ------------------------------------------------------------------ adding an example

  function addForm(d) {
    var input = h("input", { id: "nlu-text", type: "text", maxLength: 200, placeholder: "输入顾客会怎么说，例如：我是油皮用什么好" });
    var entity = h("select", { id: "nlu-entity" }, state.entities.map(function (e) { return h("option", { value: e, textContent: e }); }));
    var common = commonEntity(d);
    if (common) entity.value = common;
    var values = h("datalist", { id: "nlu-values" }, knownValues(d).map(function (v) { return h("option", { value: v }); }));
    var value = h("input", { id: "nlu-value", type: "text", placeholder: "标准值（可不填）" });
    value.setAttribute("list", "nlu-values");
    var mark = h("button", { id: "nlu-mark", type: "button", textContent: "把选中的字标为实体" });
    var add = h("button", { id: "nlu-add", type: "button", textContent: "添加例句" });
    var spans = h("div", { id: "nlu-spans", className: "nlu-chips" });
    var tokens = h("div", { id: "nlu-tokens", className: "nlu-tokens" });
    var warn = h("div", { id: "nlu-conflicts", className: "warning", hidden: true });
    var box = h("div", { id: "nlu-refusal", className: "nlu-refusal", hidden: true });
    var seq = 0;

    function remember() { if (input.selectionEnd > input.selectionStart) state.sel = [input.selectionStart, input.selectionEnd]; }
    ["select", "keyup", "mouseup"].forEach(function (ev) { input.addEventListener(ev, remember); });

    var live = debounce(function () {
      var text = input.value, mine = ++seq;
      if (!text.trim()) { hideBox(warn); clear(tokens); return; }
      api("POST", "/check", { intent: d.intent, text: text }).then(function (a) {
        if (mine !== seq || !a.ok) return;
        if (!a.data.conflicts.length) { hideBox(warn); return; }
        clear(warn).hidden = false;
        warn.appendChild(h("p", { textContent: "注意：这句话和其他意图的例句重复或很像，模型会分不清：" }));
        warn.appendChild(conflictList(a.data.conflicts));
      });
      api("POST", "/segment", { text: text }).then(function (a) {
        if (mine !== seq || !a.ok) return;
        clear(tokens).appendChild(h("span", { className: "nlu-hint", textContent: "分词：" }));
        a.data.tokens.forEach(function (t) { tokens.appendChild(h("span", { className: "nlu-token", textContent: t })); });
      });
    }, DEBOUNCE_MS);
    input.addEventListener("input", function () { keepSpans(input.value); renderSpans(spans, input); hideBox(box); live(); });
    input.addEventListener("keydown", function (e) { if (isEnter(e)) send(false); });

    mark.addEventListener("click", function () {
      var sel = input.selectionEnd > input.selectionStart ? [input.selectionStart, input.selectionEnd] : state.sel;
      if (!sel || !entity.value) { say("先在输入框里选中要标的字，再选实体类型"); return; }
      var span = { start: sel[0], end: sel[1], entity: entity.value, word: input.value.slice(sel[0], sel[1]) };
      if (value.value.trim()) span.value = value.value.trim();
      if (state.spans.some(function (s) { return s.start < span.end && span.start < s.end; })) { say("这段文字和已标的实体重叠了"); return; }
      state.spans.push(span); state.sel = null; value.value = "";
      renderSpans(spans, input); input.focus();
    });

    function send(force) {
      add.disabled = true;
      var body = { intent: d.intent, text: input.value, force: force === true,
                   spans: state.spans.map(function (s) { var o = { start: s.start, end: s.end, entity: s.entity }; if (s.value) o.value = s.value; return o; }) };
      api("POST", "/examples", body).then(function (a) {
        add.disabled = false;
        if (a.ok) { say(savedText(a, "已添加例句「" + input.value.trim() + "」")); reloadIntent(); }
        else { hideBox(warn); showRefusal(box, a, send); }
      });
    }
    add.addEventListener("click", function () { send(false); });

    return h("div", { className: "nlu-add" }, [
      h("label", {}, ["新例句 ", input]),
      h("div", { className: "nlu-mark-row" }, [h("span", { className: "nlu-hint", textContent: "实体：" }), entity, value, values, mark]),
      spans, tokens, warn, h("div", {}, [add]), box
    ]);
  }

  // The entity this intent's examples mark most: the likely choice for a new one.
  function commonEntity(d) {
    var counts = {}, best = null;
    d.examples.forEach(function (ex) { ex.entities.forEach(function (e) { counts[e.entity] = (counts[e.entity] || 0) + 1; }); });
    Object.keys(counts).forEach(function (k) { if (best === null || counts[k] > counts[best]) best = k; });
    return best;
  }

  function knownValues(d) {
    var seen = {};
    d.examples.forEach(function (ex) { ex.entities.forEach(function (e) { seen[e.value] = true; }); });
    return Object.keys(seen).sort();
  }

  // After an edit of the text, a marked span follows its words or is dropped.
  function keepSpans(text) {
    state.spans = state.spans.filter(function (s) {
      if (text.slice(s.start, s.end) === s.word) return true;
      var at = text.indexOf(s.word);
      if (at < 0) return false;
      s.start = at; s.end = at + s.word.length; return true;
    });
  }

  function renderSpans(box, input) {
    clear(box);
    state.spans.forEach(function (s, n) {
      var remove = h("button", { type: "button", className: "link", title: "去掉这个标注", textContent: "×" });
      remove.addEventListener("click", function () { state.spans.splice(n, 1); renderSpans(box, input); });
      box.appendChild(h("span", { className: "nlu-chip" }, ["「" + s.word + "」" + s.entity + (s.value ? " = " + s.value : ""), remove]));
    });
  }

  // ------------------------------------------------------------------ answers

  // A list of answer boxes, each with its rendering in every persona's voice.
  function answersEditor(texts) {
    var list = h("div", { className: "nlu-answers" });
    function addBox(text) {
      var area = h("textarea", { className: "nlu-answer", rows: 2, value: text || "", placeholder: "回答，可以用 {persona} {you} {brand} {emoji_happy} {fact:KEY}" });
      var preview = h("div", { className: "nlu-preview" });
      var remove = h("button", { type: "button", className: "link", textContent: "删掉这条" });
      var item = h("div", { className: "nlu-answer-item" }, [area, remove, preview]), seq = 0;
      var show = debounce(function () {
        var mine = ++seq;
        if (!area.value.trim()) { clear(preview); return; }
        api("POST", "/preview", { text: area.value }).then(function (a) {
          if (mine !== seq) return;
          clear(preview);
          if (!a.ok) { preview.appendChild(h("p", { className: "error", textContent: errorOf(a, "预览失败") })); return; }
          a.data.previews.forEach(function (p) {
            preview.appendChild(h("p", { className: "nlu-preview-line", data: { persona: p.persona } }, [h("b", { textContent: p.name + "：" }), p.text]));
          });
        });
      }, DEBOUNCE_MS);
      area.addEventListener("input", show);
      remove.addEventListener("click", function () { list.removeChild(item); });
      list.appendChild(item);
      if (text) show();
    }
    (texts.length ? texts : [""]).forEach(addBox);
    var more = h("button", { type: "button", className: "nlu-more", textContent: "再加一条回答" });
    more.addEventListener("click", function () { addBox(""); });
    return {
      node: h("div", {}, [list, more]),
      values: function () { return Array.prototype.map.call(list.querySelectorAll("textarea"), function (t) { return t.value; }).filter(function (v) { return v.trim(); }); }
    };
  }

  function answersSection(d) {
    var editor = answersEditor(d.answers);
    var save = h("button", { id: "nlu-save-answers", type: "button", textContent: "保存回答" });
    var box = h("div", { className: "nlu-refusal", hidden: true });
    save.addEventListener("click", function () {
      save.disabled = true;
      api("PUT", "/answers/" + d.intent.split("/").map(encodeURIComponent).join("/"), { answers: editor.values() }).then(function (a) {
        save.disabled = false;
        if (a.ok) { hideBox(box); say(savedText(a, a.data.files.length ? "已保存回答" : "回答没有变化")); }
        else showRefusal(box, a, function () {});
      });
    });
    return h("div", { className: "nlu-answers-section" }, [h("h3", { textContent: "回答（" + d.response + "）" }), editor.node, save, box]);
  }

  // ------------------------------------------------------------------ new FAQ

  function openFaqForm() {
    state.current = null; renderIntents();
    var detail = clear($("nlu-detail"));
    var key = h("input", { id: "nlu-faq-key", type: "text", placeholder: "例如 gift_wrap（小写字母、数字、下划线）" });
    var title = h("input", { id: "nlu-faq-title", type: "text", placeholder: "猜你想问里显示的问题，例如：能帮忙包装成礼物吗？" });
    var examples = h("textarea", { id: "nlu-faq-examples", rows: 5, placeholder: "顾客的问法，一行一句，至少两句" });
    var warn = h("div", { id: "nlu-faq-conflicts", className: "warning", hidden: true });
    var answers = answersEditor([]);
    var save = h("button", { id: "nlu-faq-save", type: "button", textContent: "创建问答" });
    var box = h("div", { id: "nlu-faq-refusal", className: "nlu-refusal", hidden: true });
    var seq = 0;

    function lines() { return examples.value.split("\n").map(function (l) { return l.trim(); }).filter(Boolean); }
    var live = debounce(function () {
      var mine = ++seq, intent = "faq/" + (key.value.trim() || "new");
      var texts = lines().slice(0, 20);
      Promise.all(texts.map(function (t) { return api("POST", "/check", { intent: intent, text: t }); })).then(function (all) {
        if (mine !== seq) return;
        var found = [];
        all.forEach(function (a, n) { if (a.ok) a.data.conflicts.forEach(function (c) { c["for"] = texts[n]; found.push(c); }); });
        if (!found.length) { hideBox(warn); return; }
        clear(warn).hidden = false;
        warn.appendChild(h("p", { textContent: "注意：这些问法和现有的例句重复或很像：" }));
        warn.appendChild(conflictList(found));
      });
    }, DEBOUNCE_MS);
    examples.addEventListener("input", live);
    key.addEventListener("input", live);

    function send(force) {
      save.disabled = true;
      var k = key.value.trim();
      api("POST", "/faq", { key: k, title: title.value, examples: lines(), answers: answers.values(), force: force === true }).then(function (a) {
        save.disabled = false;
        if (!a.ok) { hideBox(warn); showRefusal(box, a, send); return; }
        say(savedText(a, "已新建问答 faq/" + k));
        loadIntents().then(function () { openIntent("faq/" + k); });
      });
    }
    save.addEventListener("click", function () { send(false); });

    detail.appendChild(h("div", { className: "nlu-faq-form" }, [
      h("h2", { textContent: "新建问答" }),
      h("label", {}, ["键 ", key]), h("label", {}, ["标题 ", title]),
      h("label", {}, ["问法", examples]), warn,
      h("h3", { textContent: "回答（可以写几条，机器人轮流用）" }), answers.node,
      h("div", {}, [save]), box
    ]));
    key.focus();
  }
})();
