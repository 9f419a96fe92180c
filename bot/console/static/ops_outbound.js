/* 触达: segment pushes (千人千券) and prize shipping.
 *
 *   GET  /api/ops/coupon-types                       coupon types, tags, tag groups, time zone
 *   POST /api/ops/pushes/preview                     {segment} -> {customers}
 *   GET  /api/ops/pushes, POST /api/ops/pushes       the newest pushes with their reports; create one
 *   POST /api/ops/pushes/<id>/cancel
 *   GET  /api/ops/claims?status=..., POST /api/ops/claims/<id>/ship   (bot/console/outbound_api.py)
 *
 * Plain DOM, no framework, no inline code or style (CSP script-src 'self'; style-src 'self'):
 * every text goes in through textContent. Uses the helpers of ops.js (window.Ops).
 */
(function () {
  "use strict";
  var Ops = window.Ops = window.Ops || {};
  Ops.views = Ops.views || {};

  var REFRESH_MS = 4000;
  var PREVIEW_DELAY_MS = 400;
  var STATUS = { scheduled: "待发送", planned: "已圈定人群", sending: "发送中", done: "已完成", cancelled: "已取消" };
  var FINISHED = ["done", "cancelled"];
  var REASONS = {
    opted_out: "已退订", outside_window: "超过48小时", kf_quota: "客服消息条数已满", frequency_cap: "今日已达上限",
    handoff: "导购接待中", no_channel: "无可用渠道", quiet_hours: "免打扰时段"
  };
  var CLAIM_TABS = [["address_filled", "待发货"], ["shipped", "已发货"], ["awaiting_address", "待填地址"]];
  var CARRIERS = ["顺丰速运", "京东物流", "中通快递", "圆通速递", "韵达快递", "申通快递", "EMS", "极兔速递"];
  var TAG_MODES = [["any_tags", "包含任一标签"], ["all_tags", "必须全部包含"], ["none_tags", "排除这些标签"]];
  var state = { root: null, catalogue: null, nodes: {}, timer: null, previewTimer: null, previewSeq: 0,
                preview: null, claimStatus: "address_filled" };

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

  function input(type, cls, placeholder) {
    var i = document.createElement("input");
    i.type = type;
    if (cls) i.className = cls;
    if (placeholder) i.placeholder = placeholder;
    return i;
  }

  function labelled(text, control, cls) {
    var l = el("label", text + " ", cls);
    l.appendChild(control);
    return l;
  }

  function clear(node) { node.textContent = ""; return node; }
  function when(stamp) {
    if (!stamp) return "";
    var d = typeof stamp === "number" ? new Date(stamp * 1000) : new Date(stamp);
    if (isNaN(d.getTime())) return String(stamp);
    try { // the brand's clock, like the send time ops type in
      return d.toLocaleString("zh-CN", { hour12: false, timeZone: (state.catalogue || {}).timezone || undefined });
    } catch (e) { return d.toLocaleString("zh-CN", { hour12: false }); }
  }
  function total(counts) { return Object.keys(counts || {}).reduce(function (n, k) { return n + counts[k]; }, 0); }
  function visible() { return state.root && state.root.parentNode && !state.root.parentNode.hidden && !document.hidden; }

  function notify(text, isError) {
    var box = state.nodes.notice;
    box.hidden = !text;
    box.className = "outbound-notice" + (isError ? " outbound-notice-error" : "");
    box.textContent = text || "";
  }

  function tagName(id) {
    var tag = (state.catalogue.tags || []).filter(function (t) { return t.id === id; })[0];
    return tag ? tag.name : id;
  }

  function couponName(id) {
    var found = (state.catalogue.coupon_types || []).filter(function (c) { return c.id === id; })[0];
    return found ? found.name : id;
  }

  // --- the segment picker ----------------------------------------------------------------

  function groupsOf(exceptLevel) {
    var cat = state.catalogue;
    return cat.groups.filter(function (g) { return exceptLevel ? g.id !== "level" : g.id === "level"; }).map(function (g) {
      return { group: g, tags: cat.tags.filter(function (t) { return t.group === g.id; }) };
    }).filter(function (g) { return g.tags.length; });
  }

  function checkboxes(field, groups) {
    var box = el("div", null, "outbound-tags");
    box.dataset.field = field;
    groups.forEach(function (g) {
      var row = el("div", null, "outbound-tag-group");
      row.appendChild(el("span", g.group.name, "outbound-tag-group-name"));
      g.tags.forEach(function (t) {
        var check = input("checkbox", "outbound-tag");
        check.value = t.id;
        check.addEventListener("change", schedulePreview);
        var l = labelled("", check, "outbound-chip");
        l.appendChild(document.createTextNode(t.name));
        l.title = t.id;
        row.appendChild(l);
      });
      box.appendChild(row);
    });
    return box;
  }

  function checked(field) {
    var box = state.root.querySelector(".outbound-tags[data-field='" + field + "']");
    return Array.prototype.map.call(box.querySelectorAll("input:checked"), function (i) { return i.value; });
  }

  function segment() {
    var days = parseInt(state.nodes.days.value, 10);
    return { any_tags: checked("any_tags"), all_tags: checked("all_tags"), none_tags: checked("none_tags"),
             levels: checked("levels"), active_within_days: isNaN(days) || days < 0 ? 0 : days };
  }

  function describeSegment(s) {
    var parts = [];
    if ((s.levels || []).length) parts.push("等级：" + s.levels.map(function (l) { return tagName(l.indexOf("level:") === 0 ? l : "level:" + l); }).join("/"));
    if ((s.any_tags || []).length) parts.push("任一：" + s.any_tags.map(tagName).join("/"));
    if ((s.all_tags || []).length) parts.push("都有：" + s.all_tags.map(tagName).join("/"));
    if ((s.none_tags || []).length) parts.push("排除：" + s.none_tags.map(tagName).join("/"));
    if (s.active_within_days) parts.push(s.active_within_days + " 天内活跃");
    return parts.length ? parts.join("；") : "全部顾客";
  }

  function schedulePreview() {
    if (state.previewTimer) clearTimeout(state.previewTimer);
    state.nodes.preview.textContent = "正在计算预计触达人数…";
    state.previewTimer = setTimeout(runPreview, PREVIEW_DELAY_MS);
  }

  function runPreview() {
    var seq = ++state.previewSeq;
    Ops.api("POST", "/api/ops/pushes/preview", { segment: segment() }).then(function (a) {
      if (seq !== state.previewSeq) return; // a newer change is on its way
      var box = state.nodes.preview;
      if (!a.ok) { state.preview = null; box.textContent = a.data.error || "没能计算人数"; box.classList.add("error"); return; }
      state.preview = a.data.customers;
      box.classList.remove("error");
      clear(box).appendChild(document.createTextNode("预计触达 "));
      box.appendChild(el("b", a.data.customers, "outbound-preview-count"));
      box.appendChild(document.createTextNode(" 人（发送时还会按退订、48 小时窗口、免打扰和每日上限过滤）"));
    });
  }

  // --- the push form -----------------------------------------------------------------------

  function buildForm(section) {
    var cat = state.catalogue, n = state.nodes;
    var form = el("div", null, "outbound-form");
    n.name = input("text", "outbound-name", "例如：双十二金卡回馈");
    n.name.maxLength = 60;
    form.appendChild(labelled("推送名称", n.name, "outbound-field"));

    n.text = document.createElement("textarea");
    n.text.className = "outbound-text";
    n.text.maxLength = cat.text_limit || 600;
    n.text.placeholder = "{you}好呀～{persona}给你准备了一张专属券：{coupon_code}";
    var counter = el("span", "0/" + n.text.maxLength, "outbound-counter");
    n.text.addEventListener("input", function () { counter.textContent = n.text.value.length + "/" + n.text.maxLength; });
    form.appendChild(labelled("推送内容", n.text, "outbound-field"));
    var hint = el("p", null, "outbound-hint");
    hint.appendChild(document.createTextNode("可以用 {you}（按人设称呼顾客）、{persona}（人设的名字）、{coupon_code}（每位顾客自己的券码，需选优惠券）；" +
      "每条推送末尾会自动加上「回复 TD 退订」。"));
    hint.appendChild(counter);
    form.appendChild(hint);

    var who = el("fieldset", null, "outbound-segment");
    who.appendChild(el("legend", "发给谁"));
    who.appendChild(el("p", "每一项都不选即不限；都不选时发给全部顾客。", "outbound-hint"));
    who.appendChild(checkboxes("levels", groupsOf(false)));
    TAG_MODES.forEach(function (mode, index) {
      var details = el("details", null, "outbound-mode");
      details.open = index === 0;
      details.appendChild(el("summary", mode[1]));
      details.appendChild(checkboxes(mode[0], groupsOf(true)));
      who.appendChild(details);
    });
    n.days = input("number", "outbound-days");
    n.days.min = "0"; n.days.value = "0";
    n.days.addEventListener("input", schedulePreview);
    who.appendChild(labelled("最近活跃（天内，0 为不限）", n.days, "outbound-field-inline"));
    n.preview = el("p", "", "outbound-preview");
    n.preview.setAttribute("role", "status");
    who.appendChild(n.preview);
    form.appendChild(who);

    n.coupon = document.createElement("select");
    n.coupon.className = "outbound-coupon";
    var none = el("option", "不发券"); none.value = ""; n.coupon.appendChild(none);
    cat.coupon_types.forEach(function (c) {
      var o = el("option", c.name + (c.benefit ? "（" + c.benefit + "）" : "")); o.value = c.id; n.coupon.appendChild(o);
    });
    form.appendChild(labelled("随推送发券", n.coupon, "outbound-field-inline"));

    n.mass = input("checkbox", "outbound-mass");
    form.appendChild(labelled("48 小时外的顾客，由专属导购在企业微信确认后群发（不能带券）", n.mass, "outbound-field-inline"));

    n.at = input("datetime-local", "outbound-at");
    var zone = cat.timezone === "Asia/Shanghai" ? "北京时间" : cat.timezone;
    form.appendChild(labelled("发送时间（" + zone + "，不填为立即发送）", n.at, "outbound-field-inline"));

    n.problems = el("ul", null, "outbound-problems error");
    form.appendChild(n.problems);
    n.create = button("创建推送", createPush, "outbound-create");
    form.appendChild(n.create);
    section.appendChild(form);
  }

  function createPush() {
    var n = state.nodes;
    var body = { name: n.name.value, text: n.text.value, segment: segment(), coupon: n.coupon.value, at: n.at.value,
                 mass: n.mass.checked };
    var who = state.preview === null ? "这部分顾客" : "预计 " + state.preview + " 位顾客";
    if (!window.confirm("给" + who + "发送「" + (body.name || "未命名") + "」？" + (body.at ? "" : "将立即开始发送。"))) return;
    clear(n.problems);
    n.create.disabled = true;
    Ops.api("POST", "/api/ops/pushes", body).then(function (a) {
      n.create.disabled = false;
      if (!a.ok) {
        var problems = a.data.problems || [a.data.error || "创建失败（" + a.status + "）"];
        problems.forEach(function (p) { n.problems.appendChild(el("li", String(p).replace(/^[a-z_]+: /, ""))); });
        return;
      }
      notify("已创建推送「" + a.data.report.name + "」（" + a.data.push + "），" +
        (a.data.report.at * 1000 > Date.now() + 60000 ? "将于 " + when(a.data.report.at) + " 发送。" : "发送程序马上开始发送。"));
      n.name.value = ""; n.text.value = ""; n.at.value = "";
      loadPushes();
    });
  }

  // --- the pushes table ----------------------------------------------------------------------

  function counts(map, labels) {
    var keys = Object.keys(map || {}).filter(function (k) { return map[k]; });
    if (!keys.length) return "—";
    return keys.map(function (k) { return (labels ? labels[k] || k : "错误码 " + k) + " " + map[k]; }).join("，");
  }

  function pushRow(r) {
    var actions = el("span");
    if (FINISHED.indexOf(r.status) < 0) actions.appendChild(button("取消", function () { cancelPush(r); }, "outbound-cancel"));
    var status = el("span", STATUS[r.status] || r.status, "outbound-status outbound-status-" + r.status);
    var name = el("span");
    name.appendChild(el("b", r.name));
    name.appendChild(el("div", describeSegment(r.segment || {}) + (r.coupon ? " · 券：" + couponName(r.coupon) : ""), "outbound-sub"));
    var waiting = r.waiting && r.status !== "scheduled" ? "（待处理 " + r.waiting + "）" : "";
    var postponed = total(r.postponed) ? "；推迟：" + counts(r.postponed, REASONS) : "";
    var tr = Ops.row([name, when(r.at), status, r.status === "scheduled" ? "—" : String(r.targeted),
      r.sent + waiting, counts(r.refused, REASONS) + postponed, counts(r.undeliverable), String(r.in_doubt),
      String(r.replied_24h), String(r.coupons_issued), r.by || "", actions]);
    tr.className = "outbound-push";
    tr.dataset.push = r.id;
    tr.dataset.status = r.status;
    return tr;
  }

  function loadPushes() {
    return Ops.api("GET", "/api/ops/pushes").then(function (a) {
      var body = clear(state.nodes.pushes);
      if (!a.ok) { body.appendChild(Ops.row([a.data.error || "读取推送失败"])); return; }
      if (!a.data.pushes.length) { body.appendChild(Ops.row(["还没有推送。"])); return; }
      a.data.pushes.forEach(function (r) { body.appendChild(pushRow(r)); });
    });
  }

  function cancelPush(r) {
    if (!window.confirm("取消推送「" + r.name + "」？已经发出的消息不会撤回。")) return;
    Ops.api("POST", "/api/ops/pushes/" + encodeURIComponent(r.id) + "/cancel").then(function (a) {
      if (!a.ok) notify(a.data.error || "取消失败", true);
      else notify(a.data.cancelled ? "已取消推送「" + r.name + "」。" : "推送「" + r.name + "」已经结束，无需取消。");
      loadPushes();
    });
  }

  function buildPushes(section) {
    var table = el("table", null, "outbound-pushes");
    var head = el("thead"), tr = el("tr");
    ["推送", "发送时间", "状态", "目标人数", "已发送", "未发送（原因）", "无法送达", "结果未知", "24 小时内回复", "发券", "创建人", ""]
      .forEach(function (h) { tr.appendChild(el("th", h)); });
    head.appendChild(tr); table.appendChild(head);
    state.nodes.pushes = el("tbody");
    table.appendChild(state.nodes.pushes);
    section.appendChild(el("h3", "推送记录（每几秒自动刷新）"));
    section.appendChild(table);
  }

  // --- prize shipping ------------------------------------------------------------------------

  function shipForm(c) {
    var form = el("span", null, "outbound-ship");
    var carrier = input("text", "outbound-carrier", "快递公司");
    carrier.setAttribute("list", "outbound-carriers");
    var tracking = input("text", "outbound-tracking", "运单号");
    var go = button("发货", function () {
      go.disabled = true;
      Ops.api("POST", "/api/ops/claims/" + encodeURIComponent(c.id) + "/ship",
              { carrier: carrier.value, tracking: tracking.value }).then(function (a) {
        go.disabled = false;
        if (!a.ok) { notify(a.data.error || "发货失败（" + a.status + "）", true); return; }
        notify("#" + c.id + " " + c.prize + "：" + a.data.message);
        loadClaims();
      });
    }, "outbound-ship-button");
    form.appendChild(carrier); form.appendChild(tracking); form.appendChild(go);
    return form;
  }

  function claimRow(c) {
    var cells = ["#" + c.id, c.prize, c.campaign_name, when(c.won_at)];
    if (c.status !== "awaiting_address") cells.push(c.recipient_name, c.recipient_phone, c.address);
    else cells.push("—", "—", "（还没填地址）");
    if (c.status === "shipped") {
      var shipped = el("span");
      shipped.appendChild(el("span", c.carrier + " "));
      shipped.appendChild(el("code", c.tracking, "outbound-tracking-number"));
      shipped.appendChild(el("div", when(c.shipped_at) + (c.shipped_by ? " · " + c.shipped_by : ""), "outbound-sub"));
      cells.push(shipped);
    } else if (c.status === "address_filled") {
      cells.push(shipForm(c));
    } else {
      cells.push("");
    }
    var tr = Ops.row(cells);
    tr.className = "outbound-claim";
    tr.dataset.claim = c.id;
    return tr;
  }

  function loadClaims() {
    var status = state.claimStatus;
    Array.prototype.forEach.call(state.root.querySelectorAll(".outbound-claim-tab"), function (b) {
      b.classList.toggle("active", b.dataset.status === status);
    });
    return Ops.api("GET", "/api/ops/claims?status=" + status).then(function (a) {
      if (status !== state.claimStatus) return;
      var body = clear(state.nodes.claims);
      if (!a.ok) { body.appendChild(Ops.row([a.data.error || "读取中奖记录失败"])); return; }
      state.nodes.claimTotal.textContent = "共 " + a.data.total + " 条" + (a.data.total > a.data.claims.length ? "，显示前 " + a.data.claims.length + " 条" : "");
      if (!a.data.claims.length) body.appendChild(Ops.row([status === "address_filled" ? "没有等待发货的奖品。" : "没有记录。"]));
      a.data.claims.forEach(function (c) { body.appendChild(claimRow(c)); });
    });
  }

  function buildClaims(section) {
    var bar = el("div", null, "outbound-bar");
    CLAIM_TABS.forEach(function (t) {
      var b = button(t[1], function () { state.claimStatus = t[0]; loadClaims(); }, "outbound-claim-tab");
      b.dataset.status = t[0];
      bar.appendChild(b);
    });
    state.nodes.claimTotal = el("span", "", "outbound-sub");
    bar.appendChild(state.nodes.claimTotal);
    bar.appendChild(button("刷新", function () { loadClaims(); }, "link"));
    section.appendChild(bar);
    section.appendChild(el("p", "电话和地址已打码；完整收货信息请按发货流程导出。填写快递公司和运单号后点「发货」，中奖人会收到发货通知。", "outbound-hint"));
    var carriers = document.createElement("datalist");
    carriers.id = "outbound-carriers";
    CARRIERS.forEach(function (name) { var o = document.createElement("option"); o.value = name; carriers.appendChild(o); });
    section.appendChild(carriers);
    var table = el("table", null, "outbound-claims");
    var head = el("thead"), tr = el("tr");
    ["编号", "奖品", "活动", "中奖时间", "收件人", "电话", "地址", "发货"].forEach(function (h) { tr.appendChild(el("th", h)); });
    head.appendChild(tr); table.appendChild(head);
    state.nodes.claims = el("tbody");
    table.appendChild(state.nodes.claims);
    section.appendChild(table);
  }

  // --- the tab -------------------------------------------------------------------------------

  function build(container) {
    clear(container);
    state.root = el("div", null, "outbound");
    state.nodes.notice = el("p", "", "outbound-notice");
    state.nodes.notice.hidden = true;
    state.nodes.notice.setAttribute("role", "status");
    state.root.appendChild(state.nodes.notice);
    var pushes = el("section", null, "outbound-section outbound-push-section");
    pushes.appendChild(el("h2", "推送"));
    buildForm(pushes);
    buildPushes(pushes);
    var claims = el("section", null, "outbound-section outbound-claim-section");
    claims.appendChild(el("h2", "奖品发货"));
    buildClaims(claims);
    state.root.appendChild(pushes);
    state.root.appendChild(claims);
    container.appendChild(state.root);
  }

  function start(container) {
    if (!state.root || state.root.parentNode !== container) build(container);
    schedulePreview();
    loadPushes();
    loadClaims();
    // the reports follow the worker while the tab is open; claims reload on demand (ship forms keep their input)
    if (!state.timer) state.timer = setInterval(function () { if (visible()) loadPushes(); }, REFRESH_MS);
  }

  Ops.views.outbound = function (container) {
    if (state.catalogue) { start(container); return; }
    clear(container).appendChild(el("p", "正在读取优惠券和标签…"));
    Ops.api("GET", "/api/ops/coupon-types").then(function (a) {
      if (!a.ok) { clear(container).appendChild(el("p", a.data.error || "读取优惠券和标签失败", "error")); return; }
      state.catalogue = a.data;
      start(container);
    });
  };
})();
