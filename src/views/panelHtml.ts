/**
 * The panel's page: a strict Content-Security-Policy (nothing but our stylesheet and the one
 * script with this render's nonce) and the empty skeleton media/panel.js fills. Free of `vscode`,
 * so tests load the very same page into a DOM.
 */
export interface PanelPage {
  /** The webview's `cspSource`. */
  readonly cspSource: string
  /** The webview URI of a file under media/. */
  readonly media: (file: string) => string
  /** Fresh for every render. */
  readonly nonce: string
}

export const panelHtml = (page: PanelPage): string => `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="UTF-8">
  <meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src ${page.cspSource}; script-src 'nonce-${page.nonce}';">
  <meta name="viewport" content="width=device-width, initial-scale=1.0">
  <link rel="stylesheet" href="${page.media("panel.css")}">
  <title>Sell Compute</title>
</head>
<body>
  <header class="toolbar">
    <h1>Sell Compute</h1>
    <span id="provider-state" class="badge" data-state="offline" role="status">Offline</span>
    <span class="spacer"></span>
    <button id="online-button" type="button" data-state="offline" disabled>Go Online</button>
    <button id="refresh-button" type="button" class="icon-button" title="Refresh status" aria-label="Refresh status">&#x21bb;</button>
    <button id="settings-button" type="button" class="icon-button" title="Open Settings" aria-label="Open Settings">&#x2699;</button>
  </header>
  <p id="provider-error" class="error" role="alert" hidden></p>

  <section class="cards">
    <section id="ollama-status" class="card" data-ready="unknown" aria-labelledby="ollama-title">
      <h2 id="ollama-title">Ollama</h2>
      <p class="summary">Not checked yet</p>
      <p class="detail"></p>
    </section>
    <section id="wallet-status" class="card" data-ready="unknown" aria-labelledby="wallet-title">
      <h2 id="wallet-title">Wallet</h2>
      <p class="summary">Not checked yet</p>
      <p class="detail"></p>
      <button id="set-up-wallet" type="button" class="secondary" hidden>Set Up Wallet</button>
    </section>
    <section id="identity" class="card" aria-labelledby="identity-title">
      <h2 id="identity-title">Nostr identity</h2>
      <p><code id="npub">…</code></p>
      <button id="copy-npub" type="button" class="secondary" disabled>Copy</button>
    </section>
    <section id="earnings" class="card" aria-labelledby="earnings-title">
      <h2 id="earnings-title">Today</h2>
      <p class="summary"><span id="jobs-today">0 jobs</span>, <span id="sats-today">0 sats</span> earned</p>
      <p class="detail">Model: <span id="model">…</span> · Payment: <span id="payment-mode">…</span></p>
    </section>
  </section>

  <section aria-labelledby="relays-title">
    <h2 id="relays-title">Relays</h2>
    <ul id="relay-list"></ul>
  </section>

  <section aria-labelledby="jobs-title">
    <h2 id="jobs-title">Recent jobs</h2>
    <table id="job-list">
      <thead>
        <tr><th scope="col">Time</th><th scope="col">Customer</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Tokens</th><th scope="col">Price</th><th scope="col">Paid</th></tr>
      </thead>
      <tbody></tbody>
    </table>
    <p id="no-jobs" class="muted">No jobs yet.</p>
  </section>

  <script nonce="${page.nonce}" src="${page.media("panel.js")}"></script>
</body>
</html>`
