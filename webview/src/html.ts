// The dashboard page, shared by the VS Code panel (client/src/dashboard.ts) and `citadel perf:report`
// (one self-contained file). No DOM here: it only builds the HTML text.
// CSP: nothing loads or runs but our own nonce-tagged script and style; no remote anything.

export interface DashboardPage {
  nonce: string;
  /** The webview's cspSource (fonts of the codicon set); absent in a standalone report. */
  cspSource?: string;
  /** URL of the bundled script, or the script itself for a standalone file. */
  scriptUri?: string;
  inlineScript?: string;
  /** Data embedded in the page (perf:report): read by the script instead of waiting for messages. */
  data?: unknown;
  /** More CSS, e.g. theme variables when no VS Code provides them. */
  extraStyle?: string;
  title?: string;
}

const escapeHtml = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** JSON inside <script type="application/json">: `<` escaped so no `</script>` or `<!--` can end it. */
export const embedJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');

export const DASHBOARD_CSS = `
/* Colours a theme may leave out (VS Code sets the theme's own on the root element's style, which wins
   over these): the button component's defaults are dark-theme greys, out of place on a light theme, and a
   high-contrast theme shows a button only by its border. */
:root {
  --vscode-button-secondaryBackground: color-mix(in srgb, var(--vscode-foreground) 12%, var(--vscode-editor-background));
  --vscode-button-secondaryHoverBackground: color-mix(in srgb, var(--vscode-foreground) 20%, var(--vscode-editor-background));
  --vscode-button-secondaryForeground: var(--vscode-foreground);
  --vscode-button-border: var(--vscode-contrastBorder, transparent);
}
body {
  --seg-queue: var(--vscode-charts-yellow, #cca700); --seg-ttfb: var(--vscode-charts-blue, #3794ff); --seg-download: var(--vscode-charts-green, #89d185);
  --seg-parse: var(--vscode-charts-purple, #b180d7); --seg-pick: var(--vscode-charts-red, #f14c4c);
  --seg-connect: var(--vscode-charts-orange, #d18616); --seg-decompress: var(--vscode-charts-foreground, #cccccc);
  padding: 0 1em 2em; color: var(--vscode-foreground); background: var(--vscode-editor-background); font-family: var(--vscode-font-family); font-size: var(--vscode-font-size, 13px); }
h2 { font-size: 1.1em; font-weight: 600; margin: 1.4em 0 .5em; }
.toolbar { display: flex; gap: .5em; flex-wrap: wrap; align-items: center; margin: 1em 0; }
.toolbar .state { margin-left: auto; opacity: .8; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(11em, 1fr)); gap: .5em; }
.figure { border: 1px solid var(--vscode-panel-border, var(--vscode-contrastBorder, #8884)); border-radius: 4px; padding: .5em .7em; }
.figure .label { font-size: .85em; opacity: .8; }
.figure .value { font-size: 1.4em; font-variant-numeric: tabular-nums; margin-top: .15em; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1em; }
.chart h3 { font-size: .95em; font-weight: 600; margin: .3em 0; }
.alerts:empty::before { content: 'No alerts.'; opacity: .7; }
.alert { border-left: 3px solid var(--vscode-editorWarning-foreground, #cca700); padding: .3em .7em; margin: .4em 0; background: var(--vscode-inputValidation-warningBackground, transparent); }
.alert.error { border-left-color: var(--vscode-editorError-foreground, #f14c4c); background: var(--vscode-inputValidation-errorBackground, transparent); }
.alert .hint { opacity: .85; font-size: .9em; margin-top: .2em; }
ul.recommendations:empty::before { content: 'Nothing to recommend.'; opacity: .7; }
.critical { font-family: var(--vscode-editor-font-family, monospace); padding: .4em 0; overflow-wrap: anywhere; }
.waterfall { position: relative; max-height: 420px; overflow: auto; border: 1px solid var(--vscode-panel-border, #8884); }
.wf-body { position: relative; }
.wf-row { position: absolute; left: 0; right: 0; display: flex; align-items: center; height: 14px; font-size: 11px; }
.wf-row.critical-row .wf-name { font-weight: 700; color: var(--vscode-charts-orange, #d18616); }
.wf-name { width: 14em; flex: none; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; padding: 0 .4em; }
.wf-track { position: relative; flex: 1; height: 10px; }
.wf-bar { position: absolute; top: 0; height: 10px; min-width: 1px; }
.legend { display: flex; gap: 1em; font-size: .85em; margin: .3em 0; }
.legend span::before { content: ''; display: inline-block; width: .8em; height: .8em; margin-right: .3em; vertical-align: middle; }
.legend .k-queue::before { background: var(--seg-queue); }
.legend .k-connect::before { background: var(--seg-connect); }
.legend .k-ttfb::before { background: var(--seg-ttfb); }
.legend .k-decompress::before { background: var(--seg-decompress); }
.legend .k-download::before { background: var(--seg-download); }
.legend .k-parse::before { background: var(--seg-parse); }
.legend .k-pick::before { background: var(--seg-pick); }
.columns { display: grid; grid-template-columns: repeat(auto-fit, minmax(22em, 1fr)); gap: 1em; }
/* A long registry URL scrolls inside its column instead of running under the next one. */
.columns > * { min-width: 0; overflow-x: auto; }
table.plain { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
table.plain td, table.plain th { text-align: left; padding: .15em .5em; border-bottom: 1px solid var(--vscode-panel-border, #8884); }
table.plain td.n, table.plain th.n { text-align: right; white-space: nowrap; }
.u-legend { color: var(--vscode-foreground); font-size: 11px; }
`;

/** Dark defaults for the standalone report, light when the viewer's system prefers it. */
export const STANDALONE_THEME = `
:root { --vscode-foreground: #cccccc; --vscode-editor-background: #1e1e1e; --vscode-font-family: system-ui, sans-serif; --vscode-panel-border: #444; }
@media (prefers-color-scheme: light) { :root { --vscode-foreground: #3b3b3b; --vscode-editor-background: #ffffff; --vscode-panel-border: #ddd; } }
`;

const BUTTONS: [string, string][] = [
  ['citadel.resolve', 'Resolve'],
  ['citadel.profileResolution', 'Profile Resolution'],
  ['citadel.exportTrace', 'Export Trace'],
  ['citadel.showOutput', 'Show Output'],
];

export function dashboardHtml(page: DashboardPage): string {
  const { nonce } = page;
  const csp = [
    "default-src 'none'",
    `script-src 'nonce-${nonce}'`,
    `style-src 'nonce-${nonce}'`,
    page.cspSource ? `font-src ${page.cspSource}` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
  const script = page.inlineScript !== undefined
    ? `<script nonce="${nonce}">${page.inlineScript.replace(/<\/script/gi, '<\\/script')}</script>`
    : `<script nonce="${nonce}" src="${escapeHtml(page.scriptUri ?? '')}"></script>`;
  const data = page.data === undefined ? '' : `<script type="application/json" id="citadel-data">${embedJson(page.data)}</script>`;
  const buttons = page.inlineScript !== undefined
    ? '' // a standalone report has no palette to run commands in
    : BUTTONS.map(([command, label], i) => `<vscode-button data-command="${command}"${i ? ' secondary' : ''}>${label}</vscode-button>`).join('');
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<title>${escapeHtml(page.title ?? 'Citadel Dashboard')}</title>
<style nonce="${nonce}">${DASHBOARD_CSS}${page.extraStyle ?? ''}</style>
</head>
<body>
<div class="toolbar">${buttons}<span class="state" data-figure="state">no resolution yet</span></div>
<section><h2>Alerts</h2><div class="alerts" id="alerts"></div></section>
<section><h2>Overview</h2><div class="figures" id="figures"></div></section>
<section><h2>Last resolution</h2>
<div class="critical" id="critical-path">–</div>
<div class="legend"><span class="k-queue">queue</span><span class="k-connect">connect</span><span class="k-ttfb">time to first byte</span><span class="k-download">download</span><span class="k-decompress">decompress</span><span class="k-parse">parse</span><span class="k-pick">pick</span></div>
<div class="waterfall" id="waterfall"></div>
<div class="columns">
<div><h2>Time by phase</h2><table class="plain" id="phases"></table></div>
<div><h2>Slowest packuments</h2><table class="plain" id="slowest"></table></div>
<div><h2>Largest packuments</h2><table class="plain" id="largest"></table></div>
</div>
<h2>Recommendations</h2><ul class="recommendations" id="recommendations"></ul>
</section>
<section><h2>Over time</h2><div class="charts" id="charts"></div></section>
<div class="columns">
<section><h2>Network</h2><table class="plain" id="network"></table></section>
<section><h2>Cache</h2><table class="plain" id="cache"></table></section>
<section><h2>Recent resolutions</h2><table class="plain" id="runs"></table></section>
</div>
${data}
${script}
</body>
</html>`;
}
