/**
 * The dashboard's page: a strict Content-Security-Policy (our stylesheets and fonts from the
 * extension's media/, the one script with this render's nonce, no inline style or script, no eval)
 * and the empty skeleton media/panel.js fills. Free of `vscode`, so tests load the very same page
 * into a DOM. The codicon stylesheet carries the id `vscode-codicon-stylesheet`, which is how
 * @vscode-elements components find the icon font.
 */
export interface PanelPage {
  /** The webview's `cspSource`. */
  readonly cspSource: string
  /** The webview URI of a file under media/. */
  readonly media: (file: string) => string
  /** Fresh for every render. */
  readonly nonce: string
}

const PERIODS = [["today", "Today"], ["last7Days", "7 days"], ["last30Days", "30 days"], ["allTime", "All time"]] as const
const METRICS = [
  ["satsPaid", "Sats paid"],
  ["satsAwaiting", "Awaiting payment"],
  ["freeJobs", "Free jobs"],
  ["jobs", "Jobs"],
  ["successRate", "Success rate"]
] as const

const earningsRows = METRICS.map(([metric, label]) =>
  `<tr data-metric="${metric}"><th scope="row">${label}</th>${PERIODS.map(([period]) => `<td data-period="${period}">–</td>`).join("")}</tr>`
).join("\n        ")

export const panelHtml = (page: PanelPage): string => `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${page.cspSource}; font-src ${page.cspSource}; script-src 'nonce-${page.nonce}';">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${page.media("vendor/codicon.css")}" id="vscode-codicon-stylesheet">
  <link rel="stylesheet" href="${page.media("vendor/uPlot.min.css")}">
  <link rel="stylesheet" href="${page.media("panel.css")}">
  <title>Sell Compute</title>
</head>
<body>
  <header class="toolbar">
    <h1>Sell Compute</h1>
    <span id="provider-state" class="state" data-state="offline" role="status"><span class="codicon codicon-debug-disconnect" aria-hidden="true"></span><span class="state-text">Offline</span></span>
    <span class="spacer"></span>
    <vscode-button id="online-button" data-state="offline" disabled>Go Online</vscode-button>
    <vscode-button id="free-mode-button" secondary hidden>Use Free Mode</vscode-button>
    <vscode-toolbar-button id="refresh-button" icon="refresh" label="Refresh status" title="Refresh status"></vscode-toolbar-button>
    <vscode-toolbar-button id="guide-button" icon="book" label="Open the setup guide" title="Open the setup guide"></vscode-toolbar-button>
    <vscode-toolbar-button id="settings-button" icon="settings-gear" label="Open Settings" title="Open Settings"></vscode-toolbar-button>
  </header>
  <p id="provider-error" class="notice" role="alert" hidden></p>
  <p id="blocker" class="notice" hidden><span class="codicon codicon-info" aria-hidden="true"></span><span id="blocker-reason"></span></p>

  <section id="earnings" aria-labelledby="earnings-title">
    <h2 id="earnings-title">Earnings</h2>
    <p id="history-problem" class="notice" hidden></p>
    <div class="scroll">
      <table id="earnings-table">
        <thead><tr><td></td>${PERIODS.map(([period, label]) => `<th scope="col" data-period="${period}">${label}</th>`).join("")}</tr></thead>
        <tbody>
        ${earningsRows}
        </tbody>
      </table>
    </div>
    <p class="facts">
      <span><span class="codicon codicon-clock" aria-hidden="true"></span> <span id="online-for">Offline</span></span>
      <span><span class="codicon codicon-tag" aria-hidden="true"></span> Prices: <span id="prices">…</span></span>
      <span><span class="codicon codicon-hubot" aria-hidden="true"></span> Model: <span id="model">…</span></span>
      <span><span class="codicon codicon-credit-card" aria-hidden="true"></span> Payment: <span id="payment-mode">…</span></span>
      <span><span class="codicon codicon-history" aria-hidden="true"></span> <span id="history-since">No jobs yet</span></span>
    </p>
  </section>

  <section id="activity" aria-labelledby="activity-title">
    <div class="section-head">
      <h2 id="activity-title">Activity</h2>
      <span class="spacer"></span>
      <div class="segmented" role="group" aria-label="Chart range">
        <vscode-button id="chart-days" secondary aria-pressed="true">30 days</vscode-button>
        <vscode-button id="chart-hours" secondary aria-pressed="false">Today by hour</vscode-button>
      </div>
    </div>
    <div id="chart" role="img" aria-label="Sats paid and jobs per day"></div>
    <details id="chart-data-details">
      <summary>Chart data as a table</summary>
      <table id="chart-data">
        <thead><tr><th scope="col">Period</th><th scope="col">Jobs</th><th scope="col">Sats paid</th></tr></thead>
        <tbody></tbody>
      </table>
    </details>
  </section>

  <section id="history" aria-labelledby="history-title">
    <div class="section-head">
      <h2 id="history-title">Jobs</h2>
      <span class="spacer"></span>
      <vscode-button id="export-csv" secondary icon="desktop-download">Export CSV</vscode-button>
    </div>
    <form id="filters" class="filters">
      <label>Status
        <select id="filter-status">
          <option value="">All</option><option value="success">Succeeded</option><option value="error">Failed</option>
          <option value="processing">Processing</option><option value="received">Received</option>
        </select>
      </label>
      <label>Payment
        <select id="filter-payment">
          <option value="">All</option><option value="paid">Paid</option><option value="unpaid">Awaiting payment</option>
          <option value="expired">Expired</option><option value="free">Free</option><option value="none">None</option>
        </select>
      </label>
      <label>Model
        <select id="filter-model"><option value="">All</option></select>
      </label>
      <label>Customer <input id="filter-customer" type="search" placeholder="npub1… or hex" spellcheck="false" autocomplete="off"></label>
      <label>Job id <input id="filter-id" type="search" placeholder="hex, nevent1… or note1…" spellcheck="false" autocomplete="off"></label>
    </form>
    <p id="page-summary" class="muted" role="status">Loading…</p>
    <div class="scroll">
      <table id="job-list">
        <thead>
          <tr><th scope="col">Received</th><th scope="col">Customer</th><th scope="col">Status</th><th scope="col">Payment</th><th scope="col">Price</th><th scope="col">Model</th><th scope="col">Tokens</th><th scope="col">Duration</th><th scope="col">Kind</th><th scope="col">Prompt</th></tr>
        </thead>
        <tbody></tbody>
      </table>
    </div>
    <p id="no-jobs" class="muted">No jobs yet.</p>
    <nav class="pager" aria-label="Pages of jobs">
      <vscode-button id="page-prev" secondary icon="chevron-left" disabled>Newer</vscode-button>
      <vscode-button id="page-next" secondary icon-after="chevron-right" disabled>Older</vscode-button>
    </nav>
  </section>

  <section id="job-detail" aria-labelledby="job-detail-title" hidden>
    <div class="section-head">
      <h2 id="job-detail-title">Job</h2>
      <span class="spacer"></span>
      <vscode-button id="job-detail-close" secondary icon="close">Close</vscode-button>
    </div>
    <dl id="job-detail-fields"></dl>
    <ol id="job-timeline" class="timeline" aria-label="Timeline"></ol>
  </section>

  <section id="setup" aria-labelledby="setup-title">
    <h2 id="setup-title">Provider</h2>
    <div class="cards">
      <section id="ollama-status" class="card" data-ready="unknown" aria-labelledby="ollama-title">
        <h3 id="ollama-title"><span class="codicon codicon-circle-outline" aria-hidden="true"></span> Ollama</h3>
        <p class="summary">Not checked yet</p>
        <p class="detail"></p>
      </section>
      <section id="wallet-status" class="card" data-ready="unknown" aria-labelledby="wallet-title">
        <h3 id="wallet-title"><span class="codicon codicon-circle-outline" aria-hidden="true"></span> Wallet</h3>
        <p class="summary">Not checked yet</p>
        <p class="detail"></p>
        <vscode-button id="set-up-wallet" secondary hidden>Set Up Wallet</vscode-button>
      </section>
      <section id="identity" class="card" aria-labelledby="identity-title">
        <h3 id="identity-title"><span class="codicon codicon-account" aria-hidden="true"></span> Nostr identity</h3>
        <p><code id="npub">…</code></p>
        <vscode-button id="copy-npub" secondary icon="copy" disabled>Copy</vscode-button>
      </section>
    </div>
    <h3 id="relays-title">Relays</h3>
    <ul id="relay-list" aria-labelledby="relays-title"></ul>
    <div class="section-head">
      <h3 id="self-test-title">Self-test</h3>
      <vscode-button id="test-provider" secondary icon="beaker">Test My Provider</vscode-button>
    </div>
    <p id="self-test-summary" class="muted" role="status">Not run yet. It asks your own provider for a small job through each relay, as a customer would (served free: no sats move).</p>
    <ul id="self-test-list" class="relay-lines" aria-labelledby="self-test-title"></ul>
  </section>

  <script nonce="${page.nonce}" src="${page.media("panel.js")}"></script>
</body>
</html>`
