/* 运营看板 (issue 13): charts of GET /api/ops/dashboard with Apache ECharts.
 *
 * A plain script, no framework, no inline code (the ops page's CSP is script-src 'self';
 * ECharts needs neither eval nor inline styles: tooltips render as rich text on the canvas).
 * Load order on the page:
 *   <link rel="stylesheet" href="/static/ops_dashboard.css">
 *   <script src="/vendor/echarts.min.js"></script>
 *   <script src="/static/ops_dashboard.js"></script>
 * then
 *   OpsDashboard.render(container, data)          // data: the JSON of /api/ops/dashboard
 *   OpsDashboard.load(container, {days: 30})      // fetch (same-origin cookie) and render
 * Both return a handle {charts, dispose()}; rendering again into a container disposes the
 * charts it held.
 */
(function () {
  'use strict';

  var CHANNELS = {
    wechat_mp: '公众号', wecom_kf: '微信客服', wecom: '企业微信', web: '网页聊天', rest: '接口调用'
  };
  var REASONS = { asked: '顾客要求', complaint: '投诉', bot_failed_twice: '机器人两次未答' };
  var COLORS = ['#2f7d5b', '#5470c6', '#fac858', '#ee6666', '#73c0de', '#9a60b4', '#fc8452', '#91cc75'];
  var handles = typeof WeakMap === 'function' ? new WeakMap() : null;

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function channelName(id) { return CHANNELS[id] || id; }
  function shortDay(day) { return String(day).slice(5); } // 05-01
  function pct(rate) { return rate === null || rate === undefined ? '—' : (rate * 100).toFixed(1) + '%'; }
  function num(value) { return value === null || value === undefined ? '—' : String(value); }
  function cut(text, n) { text = String(text || ''); return text.length > n ? text.slice(0, n) + '…' : text; }
  function sum(list) { return (list || []).reduce(function (a, b) { return a + (b || 0); }, 0); }
  function seconds(s) {
    if (s === null || s === undefined) return '—';
    if (s < 60) return Math.round(s) + ' 秒';
    if (s < 3600) return (s / 60).toFixed(1) + ' 分钟';
    return (s / 3600).toFixed(1) + ' 小时';
  }

  function base() {
    return {
      color: COLORS,
      animation: false,
      textStyle: { fontFamily: 'system-ui, "PingFang SC", "Microsoft YaHei", "WenQuanYi Micro Hei", sans-serif' },
      // richText: the tooltip is drawn on the canvas, no HTML with style attributes (CSP style-src 'self')
      tooltip: { trigger: 'axis', renderMode: 'richText', confine: true },
      grid: { left: 48, right: 24, top: 40, bottom: 36, containLabel: true }
    };
  }

  function merge(target, extra) {
    Object.keys(extra).forEach(function (key) { target[key] = extra[key]; });
    return target;
  }

  function barList(items, label, color) {
    var shown = (items || []).slice().reverse(); // largest on top
    return merge(base(), {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, renderMode: 'richText', confine: true },
      grid: { left: 8, right: 32, top: 16, bottom: 16, containLabel: true },
      xAxis: { type: 'value', minInterval: 1 },
      yAxis: { type: 'category', data: shown.map(function (i) { return cut(label(i), 18); }) },
      series: [{ type: 'bar', name: '次数', data: shown.map(function (i) { return i.count; }),
                 itemStyle: { color: color }, label: { show: true, position: 'right' } }]
    });
  }

  function Dashboard(container) {
    this.container = container;
    this.charts = [];
    this.onResize = this.resize.bind(this);
    window.addEventListener('resize', this.onResize);
  }

  Dashboard.prototype.resize = function () {
    this.charts.forEach(function (c) { c.resize(); });
  };

  Dashboard.prototype.dispose = function () {
    window.removeEventListener('resize', this.onResize);
    this.charts.forEach(function (c) { c.dispose(); });
    this.charts = [];
  };

  Dashboard.prototype.card = function (grid, title, note, wide) {
    var card = el('section', 'ops-dash-card' + (wide ? ' ops-dash-wide' : ''));
    card.appendChild(el('h3', 'ops-dash-title', title));
    if (note) card.appendChild(el('p', 'ops-dash-note', note));
    grid.appendChild(card);
    return card;
  };

  Dashboard.prototype.chart = function (grid, title, note, option, wide, empty) {
    var card = this.card(grid, title, note, wide);
    if (empty) {
      card.appendChild(el('p', 'ops-dash-empty', empty));
      return null;
    }
    var box = el('div', 'ops-dash-chart');
    card.appendChild(box);
    var chart = window.echarts.init(box, null, { renderer: 'canvas' });
    chart.setOption(option);
    this.charts.push(chart);
    return chart;
  };

  function tiles(grid, data) {
    var handoffs = data.handoffs || {};
    var coupons = data.coupons || {};
    var list = [
      ['消息数', num((data.messages || {}).period_total)],
      ['每日独立用户（峰值）', num(Math.max.apply(null, [0].concat((data.messages || {}).senders || [])))],
      ['兜底 / 低置信率', pct((data.fallback || {}).period_rate)],
      ['待处理未答问题组', num((data.unanswered || {}).open_groups)],
      ['排队等待人工', num(handoffs.waiting_now)],
      ['首次回复中位数', seconds((handoffs.period || {}).median_wait_s)],
      ['签到人次', num((data.checkin || {}).period_total)],
      ['优惠券已发放', num(coupons.issued_total)]
    ];
    var row = el('div', 'ops-dash-tiles');
    list.forEach(function (item) {
      var tile = el('div', 'ops-dash-tile');
      tile.appendChild(el('div', 'ops-dash-tile-value', item[1]));
      tile.appendChild(el('div', 'ops-dash-tile-label', item[0]));
      row.appendChild(tile);
    });
    grid.appendChild(row);
  }

  Dashboard.prototype.render = function (data) {
    var days = (data.days || []).map(shortDay);
    var grid = el('div', 'ops-dash');
    this.container.textContent = '';
    this.container.appendChild(grid);
    tiles(grid, data);

    // 1. messages per day by channel (stacked)
    var messages = data.messages || {};
    var byChannel = messages.by_channel || {};
    var channelIds = Object.keys(byChannel);
    this.chart(grid, '每日消息量（按渠道）', '顾客发给机器人的消息；按中国时间自然日', merge(base(), {
      legend: { top: 0, data: channelIds.map(channelName) },
      xAxis: { type: 'category', data: days },
      yAxis: { type: 'value', minInterval: 1, name: '条' },
      series: channelIds.map(function (id) {
        return { type: 'bar', stack: 'messages', name: channelName(id), data: byChannel[id] };
      })
    }), true, channelIds.length ? null : '这段时间还没有消息记录');

    // 2. fallback rate per day
    var fallback = data.fallback || {};
    this.chart(grid, '兜底率（每日）', '意图为 nlu_fallback / out_of_scope、置信度低于 ' +
      num(fallback.threshold) + ' 或核心兜底的消息占比', merge(base(), {
        xAxis: { type: 'category', data: days },
        yAxis: { type: 'value', min: 0, axisLabel: { formatter: function (v) { return Math.round(v * 100) + '%'; } } },
        series: [{ type: 'line', name: '兜底率', connectNulls: false,
                   data: (fallback.rate || []).map(function (r) { return r === null ? null : Number(r.toFixed(4)); }),
                   areaStyle: { opacity: 0.15 }, itemStyle: { color: '#ee6666' } }],
        tooltip: { trigger: 'axis', renderMode: 'richText', confine: true,
                   valueFormatter: function (v) { return pct(v); } }
      }), false, null);

    // 3. top FAQ keys
    var faq = data.top_faq || [];
    this.chart(grid, '热门 FAQ', '机器人按 FAQ 答案键回答的次数', barList(faq, function (i) {
      return String(i.key).replace(/^faq\//, '');
    }, '#2f7d5b'), false, faq.length ? null : '这段时间没有 FAQ 问答');

    // 4. top unanswered groups (inbox)
    var unanswered = data.unanswered || {};
    var groups = (unanswered.groups || []).map(function (g) { return { label: g.label, count: g.count }; });
    this.chart(grid, '未解答问题（按分组）', '待处理 ' + num(unanswered.open_groups) + ' 组，按消息数排序',
      barList(groups, function (g) { return g.label; }, '#fc8452'), false,
      groups.length ? null : '没有待处理的未答问题');

    // 5. handoffs: requests per day and waiting times
    var handoffs = data.handoffs || {};
    var perDay = handoffs.per_day || {};
    this.chart(grid, '人工转接与等待时间', '排队中 ' + num(handoffs.waiting_now) + ' 位，服务中 ' +
      num(handoffs.held_now) + ' 位，最久已等 ' + seconds(handoffs.oldest_waiting_s) +
      (handoffs.complete === false ? '（只统计了最近的请求）' : ''), merge(base(), {
        legend: { top: 0, data: ['转人工请求', '未获回复', '首次回复中位数（秒）', '首次回复 P90（秒）'] },
        xAxis: { type: 'category', data: days },
        yAxis: [{ type: 'value', name: '次', minInterval: 1 }, { type: 'value', name: '秒' }],
        series: [
          { type: 'bar', name: '转人工请求', data: perDay.requests || [] },
          { type: 'bar', name: '未获回复', data: perDay.abandoned || [], itemStyle: { color: '#ee6666' } },
          { type: 'line', name: '首次回复中位数（秒）', yAxisIndex: 1, data: perDay.median_wait_s || [],
            connectNulls: true },
          { type: 'line', name: '首次回复 P90（秒）', yAxisIndex: 1, data: perDay.p90_wait_s || [],
            connectNulls: true, lineStyle: { type: 'dashed' } }
        ]
      }), true, null);
    var reasons = (handoffs.period || {}).by_reason || {};
    var reasonText = Object.keys(reasons).map(function (r) { return (REASONS[r] || r) + ' ' + reasons[r]; }).join('，');
    if (reasonText) grid.lastChild.appendChild(el('p', 'ops-dash-note', '原因：' + reasonText));

    // 6. check-in and lottery participation per day
    var checkin = data.checkin || {};
    var lotteries = data.lotteries || [];
    var participation = [{ type: 'line', name: checkin.name || '签到', data: checkin.per_day || [], smooth: true }];
    lotteries.forEach(function (lot) {
      participation.push({ type: 'bar', name: lot.name + '（抽奖）', data: lot.draws || [] });
    });
    this.chart(grid, '签到与抽奖参与（每日）', '签到人次与抽奖次数', merge(base(), {
      legend: { top: 0, data: participation.map(function (s) { return s.name; }) },
      xAxis: { type: 'category', data: days },
      yAxis: { type: 'value', minInterval: 1, name: '次' },
      series: participation
    }), true, null);

    // 7. lottery stock: share of each prize's stock given out and left (stocks differ by 10,000x)
    var prizes = [];
    lotteries.forEach(function (lot) {
      (lot.stock || []).forEach(function (p) {
        var initial = Math.max(p.initial || 0, p.left || 0);
        var left = Math.max(0, p.left || 0);
        prizes.push({ label: cut(lot.name, 6) + '·' + cut(p.name, 10), left: left, given: initial - left,
                      share: initial ? Math.round((left / initial) * 1000) / 10 : 0 });
      });
    });
    this.chart(grid, '奖品库存', '每个奖品剩余 / 初始库存（初始库存取自活动配置）', merge(base(), {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, renderMode: 'richText', confine: true,
                 valueFormatter: function (v) { return v + '%'; } },
      legend: { top: 0, data: ['已送出', '剩余'] },
      grid: { left: 8, right: 140, top: 32, bottom: 16, containLabel: true },
      xAxis: { type: 'value', max: 100, axisLabel: { formatter: '{value}%' } },
      yAxis: { type: 'category', data: prizes.map(function (p) { return p.label; }) },
      series: [
        { type: 'bar', stack: 'stock', name: '剩余', data: prizes.map(function (p) { return p.share; }),
          itemStyle: { color: '#91cc75' } },
        { type: 'bar', stack: 'stock', name: '已送出',
          data: prizes.map(function (p) { return Math.round((100 - p.share) * 10) / 10; }),
          itemStyle: { color: '#fac858' },
          label: { show: true, position: 'right', color: '#5b6b63',
                   formatter: function (item) { var p = prizes[item.dataIndex]; return '剩 ' + p.left + ' / ' + (p.left + p.given); } } }
      ]
    }), false, prizes.length ? null : '没有抽奖活动');

    // 8. coupons issued and used
    var coupons = ((data.coupons || {}).types || []);
    var usedKnown = coupons.some(function (c) { return c.used !== null && c.used !== undefined; });
    var couponSeries = [{ type: 'bar', name: '已发放', data: coupons.map(function (c) { return c.issued; }) }];
    if (usedKnown) couponSeries.push({ type: 'bar', name: '已核销', data: coupons.map(function (c) { return c.used; }) });
    this.chart(grid, '优惠券发放与核销', usedKnown ? '' : '核销数暂无数据来源（在商城核销，本系统未记录）', merge(base(), {
      tooltip: { trigger: 'axis', axisPointer: { type: 'shadow' }, renderMode: 'richText', confine: true },
      legend: { top: 0, data: couponSeries.map(function (s) { return s.name; }) },
      xAxis: { type: 'category', data: coupons.map(function (c) { return cut(c.name, 8); }),
               axisLabel: { interval: 0, rotate: coupons.length > 4 ? 20 : 0 } },
      yAxis: { type: 'value', minInterval: 1, name: '张' },
      series: couponSeries
    }), false, coupons.length ? null : '没有优惠券类型');

    return this;
  };

  function render(container, data) {
    var previous = handles && handles.get(container);
    if (previous) previous.dispose();
    if (!window.echarts) {
      container.textContent = '';
      container.appendChild(el('p', 'ops-dash-error', '图表库未加载（/vendor/echarts.min.js）：请运行 make setup 后重启控制台。'));
      return { charts: [], dispose: function () {} };
    }
    var dashboard = new Dashboard(container).render(data || {});
    if (handles) handles.set(container, dashboard);
    return dashboard;
  }

  function load(container, options) {
    options = options || {};
    var url = (options.url || '/api/ops/dashboard') + '?days=' + encodeURIComponent(options.days || 30);
    container.textContent = '';
    container.appendChild(el('p', 'ops-dash-loading', '加载中…'));
    return fetch(url, { credentials: 'same-origin', headers: { Accept: 'application/json' } })
      .then(function (answer) {
        if (answer.status === 401) throw new Error('请先登录');
        if (answer.status === 403) throw new Error('只有运营和管理员可以查看看板');
        if (!answer.ok) throw new Error('看板数据加载失败（' + answer.status + '）');
        return answer.json();
      })
      .then(function (data) { return render(container, data); })
      .catch(function (error) {
        container.textContent = '';
        container.appendChild(el('p', 'ops-dash-error', error.message || String(error)));
        return { charts: [], dispose: function () {} };
      });
  }

  window.OpsDashboard = { render: render, load: load, channelName: channelName };
}());

// The ops console's 数据看板 tab (ops.js calls it whenever the tab opens).
if (window.Ops) window.Ops.views.dashboard = function (container) { window.OpsDashboard.load(container, { days: 30 }); };
