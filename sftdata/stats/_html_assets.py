"""The HTML report's inline style sheet and script (no network: everything is in the page)."""

CSS = """
:root { color-scheme: light dark; --bg: #ffffff; --fg: #1b1f24; --muted: #59636e; --line: #d1d9e0;
  --card: #f6f8fa; --err: #b42318; --warn: #8a5a00; --info: #0b5cad; --ok: #1a7f37;
  --train-bg: #dafbe1; --train-fg: #0f5323; --mark: #fff1a8; --bar: #3a6fb0; --bar2: #c2410c; --focus: #0b5cad; }
@media (prefers-color-scheme: dark) {
  :root { --bg: #0d1117; --fg: #e6edf3; --muted: #9198a1; --line: #3d444d; --card: #151b23;
    --err: #ff7b72; --warn: #e3b341; --info: #79c0ff; --ok: #56d364;
    --train-bg: #12361f; --train-fg: #aff5b4; --mark: #5c4a00; --bar: #6ca4e8; --bar2: #f0883e; --focus: #79c0ff; }
}
* { box-sizing: border-box; }
body { margin: 0; background: var(--bg); color: var(--fg); font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.5rem 4rem; }
h1 { font-size: 1.5rem; margin: .5rem 0; word-break: break-all; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid var(--line); padding-bottom: .25rem; }
h3 { font-size: 1rem; margin: 1rem 0 .25rem; }
a { color: var(--info); }
code, pre, .mono { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: .85rem; }
.skip { position: absolute; left: -999px; } .skip:focus { left: 1rem; top: 1rem; background: var(--card); padding: .5rem; z-index: 9; }
:focus-visible { outline: 3px solid var(--focus); outline-offset: 2px; }
.verdict { padding: .75rem 1rem; border-radius: 6px; border: 2px solid; font-weight: 600; }
.verdict.error { border-color: var(--err); color: var(--err); }
.verdict.warning { border-color: var(--warn); color: var(--warn); }
.verdict.ok { border-color: var(--ok); color: var(--ok); }
dl.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: .5rem; margin: 1rem 0; }
dl.figures div { background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; }
dl.figures dt { color: var(--muted); font-size: .8rem; } dl.figures dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
ol.findings { list-style: none; padding: 0; }
ol.findings li { border: 1px solid var(--line); border-left-width: 6px; border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; background: var(--card); }
ol.findings li.error { border-left-color: var(--err); } ol.findings li.warning { border-left-color: var(--warn); } ol.findings li.info { border-left-color: var(--info); }
.sev { font-weight: 700; text-transform: uppercase; font-size: .75rem; letter-spacing: .05em; }
.sev.error { color: var(--err); } .sev.warning { color: var(--warn); } .sev.info { color: var(--info); }
.fix { display: block; margin-top: .25rem; padding: .25rem .5rem; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; overflow-x: auto; white-space: pre; }
button { font: inherit; font-size: .85rem; padding: .2rem .6rem; border-radius: 4px; border: 1px solid var(--line); background: var(--bg); color: var(--fg); cursor: pointer; }
button[aria-pressed="true"] { background: var(--info); color: var(--bg); border-color: var(--info); }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(340px, 1fr)); gap: 1rem; }
figure { margin: 0; background: var(--card); border: 1px solid var(--line); border-radius: 6px; padding: .5rem; }
figcaption { font-weight: 600; margin-bottom: .25rem; }
svg text { fill: var(--fg); font-size: 10px; } svg .axis { stroke: var(--muted); } svg .bar { fill: var(--bar); } svg .bar2 { fill: var(--bar2); }
svg .over { fill: var(--err); } svg .line1 { stroke: var(--bar); fill: none; stroke-width: 2; } svg .line2 { stroke: var(--bar2); fill: none; stroke-width: 2; stroke-dasharray: 5 3; }
svg .cut { stroke: var(--err); stroke-dasharray: 4 3; }
table { border-collapse: collapse; margin: .5rem 0; font-size: .85rem; }
th, td { border: 1px solid var(--line); padding: .2rem .5rem; text-align: right; } th:first-child, td:first-child { text-align: left; }
details summary { cursor: pointer; color: var(--muted); }
.side { display: grid; grid-auto-flow: column; grid-auto-columns: minmax(260px, 1fr); gap: .5rem; overflow-x: auto; }
.side pre, .row pre { white-space: pre-wrap; word-break: break-word; margin: .25rem 0; padding: .5rem; background: var(--bg); border: 1px solid var(--line); border-radius: 4px; max-height: 28rem; overflow-y: auto; }
mark { background: var(--mark); color: inherit; }
.cluster { margin: .75rem 0; padding: .5rem; border: 1px solid var(--line); border-radius: 6px; background: var(--card); }
.where { font-family: ui-monospace, monospace; font-size: .8rem; color: var(--muted); }
.row { border: 1px solid var(--line); border-radius: 6px; padding: .5rem .75rem; margin: .5rem 0; background: var(--card); }
.row[hidden] { display: none; }
.row header { display: flex; flex-wrap: wrap; gap: .75rem; align-items: baseline; }
.tag { font-size: .75rem; border: 1px solid var(--line); border-radius: 999px; padding: 0 .5rem; }
.t { background: var(--train-bg); color: var(--train-fg); text-decoration: underline; text-decoration-thickness: 1px; }
.tpl { color: var(--muted); }
.legend { font-size: .85rem; color: var(--muted); }
.sr { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
.filter { display: flex; gap: .5rem; align-items: center; flex-wrap: wrap; margin: .5rem 0; }
.balance { display: flex; height: 1.25rem; border-radius: 4px; overflow: hidden; border: 1px solid var(--line); max-width: 420px; }
.balance span { display: block; } .balance .a { background: var(--bar); } .balance .b { background: var(--bar2); }
footer { margin-top: 3rem; color: var(--muted); font-size: .8rem; }
"""

JS = """
(function () {
  var rows = Array.prototype.slice.call(document.querySelectorAll('#rows .row'));
  var select = document.getElementById('row-filter');
  var status = document.getElementById('row-status');
  var heading = document.getElementById('rows-title');
  var buttons = Array.prototype.slice.call(document.querySelectorAll('button[data-finding]'));
  function show(code, focus) {
    var n = 0;
    rows.forEach(function (r) {
      var on = !code || (' ' + r.getAttribute('data-findings') + ' ').indexOf(' ' + code + ' ') >= 0;
      r.hidden = !on; if (on) n++;
    });
    if (select) select.value = code || '';
    buttons.forEach(function (b) { b.setAttribute('aria-pressed', String(b.getAttribute('data-finding') === code)); });
    if (status) status.textContent = code ? ('Showing ' + n + ' row' + (n === 1 ? '' : 's') + ' for ' + code + '.') : ('Showing all ' + n + ' rows.');
    if (focus && heading) { heading.focus(); heading.scrollIntoView({block: 'start'}); }
  }
  buttons.forEach(function (b) {
    b.addEventListener('click', function () {
      var code = b.getAttribute('data-finding');
      show(b.getAttribute('aria-pressed') === 'true' ? '' : code, true);
    });
  });
  if (select) select.addEventListener('change', function () { show(select.value, false); });
  window.sftdataShow = show;
})();
"""
