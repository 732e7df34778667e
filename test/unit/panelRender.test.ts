// The panel's page script renders hostile text as text. The real page (the HTML the
// panel renders (panelHtml.ts), the bundled media/panel.js it loads; `npm run build` makes it) runs in
// jsdom with scripts enabled, so markup the panel wrongly parsed would run its handlers there. The
// host then sends states whose every shown string is markup: nothing may become an element, every
// string must read back verbatim, and no handler may run.
import assert from "node:assert/strict"
import * as fs from "node:fs"
import * as path from "node:path"
import { JSDOM, ResourceLoader, VirtualConsole } from "jsdom"
import type { HostMessage, PanelJob, PanelJobDetail, PanelPage, PanelState, PanelWebviewState, WebviewMessage } from "../../src/views/messages"
import { panelHtml } from "../../src/views/panelHtml"

const root = path.resolve(__dirname, "../..")
const bundle = path.join(root, "media/panel.js")
const ORIGIN = "https://webview.test"

/** The bundle must be built from the page script as it is now, or this test proves nothing. */
const freshBundle = (): string => {
  assert.ok(fs.existsSync(bundle), "media/panel.js is missing: run `npm run build` (npm test does)")
  const built = fs.statSync(bundle).mtimeMs
  for (const source of ["src/webview/panel.ts", "src/webview/chart.ts", "src/views/messages.ts"]) {
    assert.ok(fs.statSync(path.join(root, source)).mtimeMs <= built, `media/panel.js is older than ${source}: run \`npm run build\``)
  }
  return fs.readFileSync(bundle, "utf8")
}

/** Every string is markup that runs `__p(<field>)` if it ever becomes elements (jsdom fires svg, iframe and details handlers). */
const hostile = (field: string) => {
  const run = `__p('${field}')`
  return `<img src=x onerror="${run}"><script>${run}</script>"><svg onload="${run}"></svg>'><iframe onload="${run}"></iframe><details open ontoggle="${run}"></details>${field}`
}
/** A customer npub short enough (≤ 20) to be shown whole. */
const shortHostile = "<svg onload=__p(9)>"

interface Expected {
  /** Strings that must read back verbatim in the page's text. */
  readonly text: ReadonlyArray<string>
  /** [selector, attribute, value]: strings that must read back verbatim in an attribute. */
  readonly attributes: ReadonlyArray<readonly [string, string, string]>
}

const job = (n: number, customerNpub: string, status: PanelJob["status"]): PanelJob => ({
  id: hostile(`job${n}.id`),
  receivedAt: Date.UTC(2025, 0, 1, 12, 0, n),
  customerNpub,
  kind: 5050,
  status,
  model: hostile(`job${n}.model`),
  promptPreview: hostile(`job${n}.prompt`),
  tokens: 42,
  durationMs: 1500,
  priceSats: 3,
  payment: "unpaid" as const,
  error: hostile(`job${n}.error`)
})

/** A page of the history whose every string is markup. */
const hostilePage: PanelPage = {
  filter: {},
  offset: 0,
  limit: 50,
  total: 2,
  models: [hostile("models0")],
  rows: [job(0, shortHostile, "error"), job(1, hostile("job1.customerNpub"), "success")]
}

/** One job in full, every string markup. */
const hostileDetail: PanelJobDetail = {
  ...job(2, hostile("job2.customerNpub"), "error"),
  requestNevent: hostile("job2.requestNevent"),
  resultNevent: hostile("job2.resultNevent"),
  bolt11: hostile("job2.bolt11"),
  timeline: { received: 1, processing: 2, result: 3 }
}

/** Everything checked and ready: versions, models, wallet address, relays, jobs. */
const readyState: PanelState = {
  provider: { state: "online", error: hostile("provider.error"), onlineSince: 1, activeJobs: 2 },
  identity: { npub: hostile("identity.npub") },
  ollama: {
    checked: true,
    name: "Ollama",
    backend: "ollama",
    host: hostile("ollama.host"),
    reachable: true,
    version: hostile("ollama.version"),
    models: [hostile("ollama.models0"), hostile("ollama.models1")]
  },
  wallet: { checked: true, needed: true, backend: hostile("wallet.backend"), ready: true, balanceSats: 7, address: hostile("wallet.address") },
  relays: [
    { url: hostile("relay0.url"), status: "disconnected", lastError: hostile("relay0.lastError") },
    { url: hostile("relay1.url"), status: "connected" }
  ],
  earnings: { jobsToday: 1, satsEarnedToday: 3, satsEarnedTotal: 9 },
  model: hostile("model"),
  paymentMode: hostile("paymentMode"),
  prices: { minPriceSats: 1, pricePer1kTokens: 2 },
  selfTest: {
    running: false,
    finishedAt: 1,
    relays: [
      { url: hostile("selfTest0.url"), ok: true, text: hostile("selfTest0.text") },
      { url: hostile("selfTest1.url"), ok: false, text: hostile("selfTest1.text") }
    ]
  },
  checking: false
}

const short = (npub: string) => `${npub.slice(0, 10)}…${npub.slice(-4)}`

const readyExpected: Expected = {
  text: [
    hostile("provider.error"),
    hostile("identity.npub"),
    hostile("ollama.version"),
    `${hostile("ollama.models0")}, ${hostile("ollama.models1")}`,
    hostile("wallet.backend"),
    hostile("wallet.address"),
    hostile("relay0.url"),
    hostile("relay1.url"),
    hostile("model"),
    hostile("paymentMode"),
    hostile("selfTest0.url"),
    hostile("selfTest0.text"),
    hostile("selfTest1.url"),
    hostile("selfTest1.text")
  ],
  attributes: [
    ["#npub", "title", hostile("identity.npub")],
    ["#relay-list li:nth-child(1)", "data-url", hostile("relay0.url")],
    ["#relay-list li:nth-child(1)", "title", hostile("relay0.lastError")],
    ["#relay-list li:nth-child(2)", "data-url", hostile("relay1.url")]
  ]
}

const pageExpected: Expected = {
  text: [
    shortHostile,
    short(hostile("job1.customerNpub")),
    hostile("job0.model"),
    hostile("job0.prompt"),
    hostile("job0.error"),
    hostile("job1.model"),
    hostile("job1.prompt"),
    hostile("job1.error"),
    hostile("models0")
  ],
  attributes: [
    ["#job-list tbody tr:nth-child(1)", "data-job-id", hostile("job0.id")],
    ["#job-list tbody tr:nth-child(1)", "title", hostile("job0.error")],
    ["#job-list tbody tr:nth-child(1) td:nth-child(2)", "title", shortHostile],
    ["#job-list tbody tr:nth-child(1) td:nth-child(2) button", "data-copy", shortHostile],
    ["#job-list tbody tr:nth-child(1) td:nth-child(1) button", "data-open", hostile("job0.id")],
    ["#job-list tbody tr:nth-child(2)", "data-job-id", hostile("job1.id")],
    ["#job-list tbody tr:nth-child(2)", "title", hostile("job1.error")],
    ["#job-list tbody tr:nth-child(2) td:nth-child(2)", "title", hostile("job1.customerNpub")]
  ]
}

const detailExpected: Expected = {
  text: [
    hostile("job2.requestNevent"),
    hostile("job2.resultNevent"),
    hostile("job2.customerNpub"),
    hostile("job2.model"),
    hostile("job2.prompt"),
    hostile("job2.bolt11"),
    hostile("job2.error")
  ],
  attributes: [
    ['#job-detail dd[data-field="request"] button', "data-copy", hostile("job2.requestNevent")],
    ["#job-detail", "data-job-id", hostile("job2.id")]
  ]
}

/** Checked and failing: the errors are shown instead. */
const failingState: PanelState = {
  ...readyState,
  provider: { state: "offline", error: hostile("provider.error2"), activeJobs: 0 },
  identity: { error: hostile("identity.error") },
  ollama: { checked: true, name: "Ollama", backend: "ollama", host: hostile("ollama.host"), reachable: false, models: [], error: hostile("ollama.error") },
  wallet: { checked: true, needed: true, backend: hostile("wallet.backend"), ready: false, error: hostile("wallet.error") }
}
const failingExpected: Expected = {
  text: [hostile("provider.error2"), hostile("identity.error"), hostile("ollama.error"), hostile("wallet.error")],
  attributes: []
}

/** Not checked yet (and Ollama unreachable without a reason): the host and backend are shown. */
const uncheckedState: PanelState = {
  ...readyState,
  ollama: { checked: false, name: "OpenAI-compatible server", backend: "openai", host: hostile("ollama.host.unchecked"), models: [] },
  wallet: { checked: false, needed: true, backend: hostile("wallet.backend.unchecked") }
}
const unreachableState: PanelState = {
  ...readyState,
  ollama: { checked: true, name: "Ollama", backend: "ollama", host: hostile("ollama.host.unreachable"), reachable: false, models: [] }
}

/** Elements the page script itself makes; anything else new came from parsed text. */
const CREATED_TAGS = new Set(["li", "span", "tr", "td", "button", "option", "dt", "dd", "code"])

interface Page {
  readonly dom: JSDOM
  readonly fromPage: Array<WebviewMessage>
  /** What the page stored with setState. */
  readonly saved: Array<PanelWebviewState>
  readonly pageErrors: Array<string>
  /** Elements of the page before any state arrived. */
  readonly skeleton: ReadonlySet<Element>
  readonly send: (message: HostMessage) => Promise<void>
  readonly close: () => void
}

/** The page exactly as the panel renders it (panelHtml.ts), with the webview's addresses of this test. */
const pageHtml = (): string => {
  const html = panelHtml({ cspSource: ORIGIN, media: (file) => `${ORIGIN}/media/${file}`, nonce: "test-nonce" })
  assert.match(html, /<script nonce="[^"]+" src="https:\/\/webview\.test\/media\/panel\.js"><\/script>/)
  return html
}

/** Loads the page as VS Code would: its HTML, then media/panel.js by its URL (nothing else is served). */
const openPage = async (html: string, script: string, restored?: PanelState): Promise<Page> => {
  const fromPage: Array<WebviewMessage> = []
  const saved: Array<PanelWebviewState> = []
  const pageErrors: Array<string> = []
  const virtualConsole = new VirtualConsole()
  virtualConsole.on("jsdomError", (error) => pageErrors.push(String(error.stack ?? error)))
  virtualConsole.on("error", (...args) => pageErrors.push(args.map(String).join(" ")))
  let ready!: () => void
  const isReady = new Promise<void>((resolve) => (ready = resolve))
  class OnlyThePanelScript extends ResourceLoader {
    override fetch(url: string): ReturnType<ResourceLoader["fetch"]> {
      if (url !== `${ORIGIN}/media/panel.js`) return null
      return Object.assign(Promise.resolve(Buffer.from(script)), { abort() {} })
    }
  }
  const dom = new JSDOM(html, {
    url: `${ORIGIN}/index.html`,
    runScripts: "dangerously",
    resources: new OnlyThePanelScript(),
    virtualConsole,
    beforeParse(window) {
      const page = window as unknown as Record<string, unknown>
      // jsdom has neither matchMedia (uPlot reads the pixel ratio through it) nor the
      // ElementInternals form API the @vscode-elements buttons use: here the buttons stay plain
      // elements carrying our text; they render in real VS Code (test/vscode/ui/dashboard.test.mjs).
      page.matchMedia = () => ({ matches: false, addEventListener() {}, removeEventListener() {}, addListener() {}, removeListener() {} })
      window.customElements.define = () => {}
      page.__pwned = []
      page.__p = (field: unknown) => (page.__pwned as Array<unknown>).push(field)
      page.acquireVsCodeApi = () => ({
        postMessage: (message: WebviewMessage) => {
          fromPage.push(message)
          if (message.type === "ready") ready()
        },
        getState: (): PanelWebviewState | undefined => (restored ? { state: restored } : undefined),
        setState: (state: PanelWebviewState) => void saved.push(state)
      })
    }
  })
  // The script is fetched after parsing: what is in the document now is the host's HTML alone.
  assert.deepEqual(fromPage, [], "the page script has not run yet")
  const skeleton = new Set(dom.window.document.querySelectorAll("*"))
  await isReady
  return {
    dom,
    fromPage,
    saved,
    pageErrors,
    skeleton,
    send: async (message) => {
      // How VS Code delivers a host message: a message event on the page's window.
      dom.window.dispatchEvent(new dom.window.MessageEvent("message", { data: message }))
      await settle()
    },
    close: () => dom.window.close()
  }
}

/** Lets load and toggle events of anything the render made fire. */
const settle = () => new Promise((resolve) => setTimeout(resolve, 50))

const assertInert = (page: Page, expected: Expected, label: string) => {
  const { document } = page.dom.window
  const made: Array<string> = []
  for (const element of document.querySelectorAll("*")) {
    if (!page.skeleton.has(element) && !CREATED_TAGS.has(element.localName)) made.push(element.outerHTML)
    for (const attribute of element.getAttributeNames()) {
      if (attribute.toLowerCase().startsWith("on")) made.push(`${element.localName}[${attribute}]`)
    }
  }
  assert.deepEqual(made, [], `${label}: text became elements or handlers`)
  assert.equal(document.querySelectorAll("script").length, 1, `${label}: only the panel's own script`)
  const fromText = [...document.querySelectorAll("img, svg, iframe, details, object, embed")].filter((element) => !page.skeleton.has(element))
  assert.equal(fromText.length, 0, `${label}: no element from the text`)
  assert.deepEqual((page.dom.window as unknown as { __pwned: Array<unknown> }).__pwned, [], `${label}: a handler from the text ran`)
  assert.deepEqual(page.pageErrors, [], `${label}: errors in the page`)

  const text = document.body.textContent ?? ""
  for (const value of expected.text) assert.ok(text.includes(value), `${label}: shown verbatim as text: ${value}`)
  for (const [selector, attribute, value] of expected.attributes) {
    const element = document.querySelector(selector)
    assert.ok(element, `${label}: ${selector} is rendered`)
    assert.equal(element.getAttribute(attribute), value, `${label}: ${selector} ${attribute}`)
  }
}

describe("panel page script: hostile strings render as text", function () {
  this.timeout(20_000)
  let html: string
  let script: string
  const pages: Array<Page> = []

  before(() => {
    script = freshBundle()
    html = pageHtml()
  })
  after(() => {
    for (const page of pages) page.close()
  })

  it("loads the host's page and its bundle, posts ready and answers a state (the harness works)", async () => {
    const page = await openPage(html, script)
    pages.push(page)
    assert.deepEqual(page.fromPage.map((message) => message.type), ["ready", "query"])
    await page.send({ type: "state", state: { ...readyState, provider: { state: "online", activeJobs: 2 }, model: "llama3.2" } })
    const { document } = page.dom.window
    assert.equal(document.getElementById("provider-state")?.textContent, "Online · 2 running")
    assert.equal(document.getElementById("model")?.textContent, "llama3.2")
    assert.equal(page.saved.length, 1)
    // The self-test's report: a line per relay, passed or failed, and how many passed.
    assert.match(document.getElementById("self-test-summary")?.textContent ?? "", /^1 of 2 relays passed/)
    assert.deepEqual([...document.querySelectorAll("#self-test-list li")].map((li) => (li as HTMLElement).dataset.result), ["pass", "fail"])
    await page.send({ type: "state", state: { ...readyState, selfTest: { running: true, relays: [{ url: "wss://a", text: "waiting" }] } } })
    assert.equal(document.getElementById("self-test-summary")?.textContent, "Testing through 1 relay…")
    assert.equal((document.getElementById("test-provider") as HTMLElement & { disabled: boolean }).disabled, true, "no second test while one runs")
    await page.send({ type: "page", page: hostilePage })
    assert.equal(document.querySelectorAll("#job-list tbody tr").length, 2)
    // The harness would see markup that became elements: the same text set as HTML runs its handler.
    const probe = document.createElement("div")
    document.body.append(probe)
    probe.innerHTML = hostile("probe")
    await settle()
    assert.ok((page.dom.window as unknown as { __pwned: Array<unknown> }).__pwned.includes("probe"), "jsdom runs handlers of parsed markup")
    probe.remove()
  })

  it("every string of a ready state, delivered by the host, stays text", async () => {
    const page = await openPage(html, script)
    pages.push(page)
    await page.send({ type: "state", state: readyState })
    assertInert(page, readyExpected, "ready")
    // setOnlineDone redraws the current state.
    await page.send({ type: "setOnlineDone" })
    assertInert(page, readyExpected, "ready, redrawn")
  })

  it("every string of a history page and of one job in full stays text", async () => {
    const page = await openPage(html, script)
    pages.push(page)
    await page.send({ type: "state", state: readyState })
    await page.send({ type: "page", page: hostilePage })
    assertInert(page, pageExpected, "page")
    await page.send({ type: "job", id: hostile("job2.id"), job: hostileDetail })
    assertInert(page, { text: [...pageExpected.text, ...detailExpected.text], attributes: [...pageExpected.attributes, ...detailExpected.attributes] }, "detail")
  })

  it("the errors of a failing state stay text", async () => {
    const page = await openPage(html, script)
    pages.push(page)
    await page.send({ type: "state", state: failingState })
    assertInert(page, failingExpected, "failing")
  })

  it("the Ollama host and wallet backend, shown before a check or without a reason, stay text", async () => {
    const page = await openPage(html, script)
    pages.push(page)
    await page.send({ type: "state", state: uncheckedState })
    assertInert(page, { text: [hostile("ollama.host.unchecked"), hostile("wallet.backend.unchecked")], attributes: [] }, "unchecked")
    await page.send({ type: "state", state: unreachableState })
    assertInert(page, { text: [hostile("ollama.host.unreachable")], attributes: [] }, "unreachable")
  })

  it("a hostile state restored from getState (the page shown again) stays text", async () => {
    const page = await openPage(html, script, readyState)
    pages.push(page)
    await settle()
    assertInert(page, readyExpected, "restored")
  })
})
