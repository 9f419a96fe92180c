// The ops console (issue 13): sign-in, models and training, history.
// Plain DOM code, no framework; every state change sends the session's CSRF token.
(function () {
  "use strict";
  var state = { me: null, job: null, logOffset: 0, timer: null, modelsTimer: null };
  function $(id) { return document.getElementById(id); }
  function el(tag, text, cls) { var e = document.createElement(tag); if (text !== undefined) e.textContent = text; if (cls) e.className = cls; return e; }
  function row(cells) { var tr = el("tr"); cells.forEach(function (c) { var td = el("td"); if (c instanceof Node) td.appendChild(c); else td.textContent = c; tr.appendChild(td); }); return tr; }
  function say(text) { $("message").textContent = text || ""; }
  function when(ts) { return ts ? new Date(Number(ts) * 1000).toLocaleString("zh-CN") : ""; }
  function pct(x) { return (100 * x).toFixed(1) + "%"; }

  function api(method, path, body) {
    var headers = { "Content-Type": "application/json" };
    if (method !== "GET") headers["X-CSRF-Token"] = state.me ? state.me.csrf_token : "";
    return fetch(path, { method: method, headers: headers, credentials: "same-origin",
                         body: body === undefined ? undefined : JSON.stringify(body) })
      .then(function (r) { return r.json().catch(function () { return {}; }).then(function (data) { return { ok: r.ok, status: r.status, data: data }; }); });
  }

  function show(section) { ["login", "console"].forEach(function (n) { $(n).hidden = n !== section; }); }

  function signedIn(me) {
    state.me = me;
    $("me").textContent = (me.display || me.username) + "（" + me.role + "）";
    show("console");
    var ops = me.role === "ops" || me.role === "admin";
    $("refused").hidden = ops;
    document.querySelectorAll(".tabs, .view").forEach(function (n) { if (!ops) n.hidden = true; });
    document.querySelectorAll(".admin-only").forEach(function (n) { n.hidden = me.role !== "admin"; });
    if (ops) open("models");
  }

  function open(view) {
    document.querySelectorAll(".tab").forEach(function (t) { t.classList.toggle("active", t.dataset.view === view); });
    document.querySelectorAll(".view").forEach(function (v) { v.hidden = v.id !== "view-" + view; });
    // while 训练与上线 is open the page follows every worker switching models, live
    if (state.modelsTimer) { clearInterval(state.modelsTimer); state.modelsTimer = null; }
    if (view === "models") { loadModels(); state.modelsTimer = setInterval(function () { if (!document.hidden) loadModels(); }, 3000); }
    if (view === "history") loadHistory();
    if (Ops.views[view]) Ops.views[view]($("view-" + view));
  }

  // The other tabs live in their own files (ops_nlu.js, ops_brand.js, ops_learn.js,
  // ops_dashboard.js): each sets Ops.views[name] = function (container) {...}, called
  // whenever its tab opens, and uses these helpers.
  var Ops = window.Ops = window.Ops || {};
  Ops.views = Ops.views || {};
  Ops.api = api; Ops.el = el; Ops.row = row; Ops.say = say; Ops.when = when; Ops.pct = pct;
  Ops.me = function () { return state.me; };
  Ops.open = function (view) { open(view); };

  function loadModels() {
    return api("GET", "/api/ops/models").then(function (a) {
      if (!a.ok) { say(a.data.error || "读取模型失败"); return; }
      var d = a.data;
      $("production").textContent = d.production || "（还没有指定，Rasa 用启动时的模型）";
      var serving = $("serving").tBodies[0]; serving.textContent = "";
      d.serving.forEach(function (s) { serving.appendChild(row([s.process, s.model || "（没有模型）", s.loading ? "正在换上 " + s.loading : s.live ? "在线" : s.seen_s_ago + " 秒前"])); });
      var models = $("models").tBodies[0]; models.textContent = "";
      d.models.forEach(function (m) {
        var action = el("span");
        if (m.summary) { var b = el("button", "看对比"); b.addEventListener("click", function () { showComparison(m.name); }); action.appendChild(b); }
        if (state.me.role === "admin" && d.rollback.indexOf(m.name) >= 0) {
          var r = el("button", "回滚到这个"); r.addEventListener("click", function () { move("rollback", m.name); }); action.appendChild(r);
        }
        var label = m.name === d.production ? m.name + "（线上）" : m.name;
        models.appendChild(row([label, m.trained_by || "命令行", when(m.trained_at),
          m.summary ? pct(m.summary.candidate_accuracy) + " / 线上 " + pct(m.summary.active_accuracy) : "—", action]));
      });
      var acts = $("activations"); acts.textContent = "";
      d.activations.forEach(function (x) { acts.appendChild(el("li", when(x.at) + " " + x.by + (x.kind === "rollback" ? " 回滚到 " : " 上线 ") + x.model)); });
    });
  }

  function move(kind, model) {
    api("POST", "/api/ops/models/" + kind, { model: model }).then(function (a) {
      say(a.ok ? (kind === "rollback" ? "已回滚，" : "已上线，") + "各 Rasa 进程几秒内换上：" + model : (a.data.error || "操作失败"));
      loadModels();
    });
  }

  function showComparison(model) {
    api("GET", "/api/ops/models/" + encodeURIComponent(model) + "/comparison").then(function (a) {
      if (!a.ok) { say(a.data.error || "没有对比结果"); return; }
      var r = a.data, s = r.summary;
      $("comparison").hidden = false;
      $("cmp-model").textContent = model;
      $("cmp-summary").textContent = "测试消息 " + s.cases + " 条：新模型 " + pct(s.candidate_accuracy) + "，线上 " + pct(s.active_accuracy) +
        "；变好 " + s.better + " 条，变差 " + s.worse + " 条" + (s.ops_cases ? "；运营标注的 " + s.ops_cases + " 条里新模型对 " + s.ops_candidate_right + " 条（线上 " + s.ops_active_right + "）" : "");
      var labels = $("cmp-labels").tBodies[0]; labels.textContent = "";
      r.improved.concat(r.regressed).forEach(function (l) {
        var tr = row([l.label, l.total, l.active, l.candidate]); tr.className = l.delta > 0 ? "better" : "worse"; labels.appendChild(tr);
      });
      var changed = $("cmp-changed").tBodies[0]; changed.textContent = "";
      r.changed_predictions.forEach(function (c) {
        var tr = row([c.text, c.label, c.active, c.candidate, c.verdict === "better" ? "变好" : c.verdict === "worse" ? "变差" : "变了"]);
        tr.className = c.verdict; changed.appendChild(tr);
      });
      $("activate").onclick = function () { move("activate", model); };
    });
  }

  function train() {
    api("POST", "/api/ops/train", { finetune: $("finetune").checked }).then(function (a) {
      if (!a.ok) { say(a.data.error || "没能开始训练"); if (a.data.job) follow(a.data.job); return; }
      follow(a.data.id);
    });
  }

  function follow(jobId) {
    state.job = jobId; state.logOffset = 0; $("job-log").textContent = "";
    $("job").hidden = false; $("job-id").textContent = jobId;
    if (state.timer) clearInterval(state.timer);
    state.timer = setInterval(poll, 2000); poll();
  }

  var STAGES = { queued: "排队中", snapshot: "复制数据", validate: "校验数据", finetune: "增量训练", train: "训练", embeddings: "训练 FAQ 语义模型", compare: "和线上模型对比", done: "完成" };
  function poll() {
    var id = state.job;
    api("GET", "/api/ops/train/" + id).then(function (a) {
      if (!a.ok) return;
      var j = a.data;
      $("job-status").textContent = j.status === "done" ? "完成" : j.status === "failed" ? "失败" : "进行中";
      $("job-stage").textContent = (STAGES[j.stage] || j.stage) + (j.progress.component ? "：" + j.progress.component : "") +
        (j.train_kind === "unchanged" ? "（数据没有变化，沿用已训练的模型）" : "");
      $("job-progress").value = j.progress.percent; $("job-percent").textContent = j.progress.percent + "%";
      var errors = $("job-errors"); errors.textContent = "";
      if (j.error) errors.appendChild(el("li", j.error));
      (j.errors || []).forEach(function (e) { errors.appendChild(el("li", (e.file || "") + (e.line ? " 第 " + e.line + " 行" : "") + "：" + e.message)); });
      if (j.status === "done" || j.status === "failed") {
        clearInterval(state.timer); state.timer = null;
        loadModels();
        if (j.status === "done") showComparison(j.model);
      }
    });
    api("GET", "/api/ops/train/" + id + "/log?offset=" + state.logOffset).then(function (a) {
      if (!a.ok) return;
      state.logOffset = a.data.offset;
      var pre = $("job-log"); pre.textContent = (pre.textContent + a.data.text).slice(-200000);
    });
  }

  function loadHistory() {
    api("GET", "/api/ops/history").then(function (a) {
      if (!a.ok) { say(a.data.error || "读取历史失败"); return; }
      $("uncommitted").hidden = !a.data.warning;
      $("uncommitted").textContent = a.data.warning + "：" + a.data.uncommitted.join("，");
      var list = $("commits"); list.textContent = "";
      a.data.commits.forEach(function (c) {
        var li = el("li"); li.appendChild(el("code", c.short)); li.appendChild(el("span", " " + c.date.slice(0, 16) + " " + c.author + "：" + c.subject + " "));
        var view = el("button", "看改动"); view.addEventListener("click", function () { showDiff(c.sha); }); li.appendChild(view);
        var undo = el("button", "撤销这次修改"); undo.addEventListener("click", function () {
          api("POST", "/api/ops/history/" + c.sha + "/revert").then(function (r) { say(r.ok ? "已撤销（新提交 " + r.data.commit.slice(0, 8) + "）" : r.data.error); loadHistory(); });
        });
        li.appendChild(undo); list.appendChild(li);
      });
    });
  }

  function showDiff(sha) {
    api("GET", "/api/ops/history/" + sha).then(function (a) {
      var pre = $("diff"); pre.hidden = false; pre.textContent = "";
      (a.data.files || []).forEach(function (f) {
        pre.appendChild(el("div", "── " + f.file));
        f.hunks.forEach(function (h) { pre.appendChild(el("div", h.header)); h.lines.forEach(function (l) { pre.appendChild(el("div", l.kind + l.text, l.kind === "+" ? "add" : l.kind === "-" ? "del" : "")); }); });
      });
    });
  }

  $("login-form").addEventListener("submit", function (event) {
    event.preventDefault(); $("login-error").textContent = "";
    api("POST", "/api/staff/login", { username: $("username").value, password: $("password").value }).then(function (a) {
      if (a.ok) signedIn(a.data); else $("login-error").textContent = a.status === 429 ? "尝试太多次了，请稍后再试" : "账号或密码不对";
    });
  });
  $("logout").addEventListener("click", function () { api("POST", "/api/staff/logout").then(function () {
    state.me = null; show("login");
    if (state.modelsTimer) { clearInterval(state.modelsTimer); state.modelsTimer = null; }
  }); });
  document.querySelectorAll(".tab").forEach(function (t) { t.addEventListener("click", function () { open(t.dataset.view); }); });
  $("train").addEventListener("click", train);
  api("GET", "/api/staff/me").then(function (a) { if (a.ok) signedIn(a.data); else show("login"); });
})();
