/**
 * The dashboard's chart: sats paid (bars) and jobs (a line, its own axis) per day or per hour,
 * drawn by uPlot on a canvas (see DESIGN.md for why uPlot). Colours are read from the theme's
 * variables each time it is drawn, so a theme change redraws it in the new theme.
 */
import uPlot from "uplot"
import type { ChartPoint } from "../dvm/services/History"

const HEIGHT = 220
let chart: uPlot | undefined
let observer: ResizeObserver | undefined

const themeColour = (name: string, fallback: string) =>
  getComputedStyle(document.body).getPropertyValue(name).trim() || fallback

const sizeOf = (container: HTMLElement) => ({ width: Math.max(240, container.clientWidth), height: HEIGHT })

export const drawChart = (container: HTMLElement, points: ReadonlyArray<ChartPoint>, range: "days" | "hours"): void => {
  chart?.destroy()
  chart = undefined
  const foreground = themeColour("--vscode-foreground", "#cccccc")
  const grid = themeColour("--vscode-editorWidget-border", "#454545")
  const sats = themeColour("--vscode-charts-yellow", "#cca700")
  const jobs = themeColour("--vscode-charts-blue", "#3794ff")
  const font = `${themeColour("--vscode-font-size", "13px")} ${themeColour("--vscode-font-family", "sans-serif")}`
  const axis = (scale: string, side?: 1 | 3): uPlot.Axis => ({
    scale,
    ...(side !== undefined ? { side } : {}),
    stroke: foreground,
    font,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1 }
  })
  const options: uPlot.Options = {
    ...sizeOf(container),
    // Time in seconds, shown in the webview's local time (the host counts days by local midnight too).
    scales: { x: { time: true }, sats: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] }, jobs: { auto: true, range: (_u, _min, max) => [0, Math.max(1, max)] } },
    axes: [
      { ...axis("x"), values: range === "days" ? "{M}/{D}" : "{HH}:00" },
      { ...axis("sats"), label: "sats", labelFont: font, size: 64, labelSize: 18 },
      { ...axis("jobs", 1), label: "jobs", labelFont: font, size: 56, labelSize: 18, grid: { show: false } }
    ],
    series: [
      {},
      { label: "Sats paid", scale: "sats", stroke: sats, fill: /^#[0-9a-f]{6}$/i.test(sats) ? `${sats}99` : sats, width: 1, paths: uPlot.paths.bars?.({ size: [0.6, 40] }) },
      { label: "Jobs", scale: "jobs", stroke: jobs, width: 2, points: { show: true, size: 4, fill: jobs } }
    ],
    legend: { show: true },
    cursor: { drag: { x: false, y: false } }
  }
  const data: uPlot.AlignedData = [
    points.map((p) => p.start / 1000),
    points.map((p) => p.satsPaid),
    points.map((p) => p.jobs)
  ]
  try {
    chart = new uPlot(options, data, container)
  } catch {
    // No canvas (a DOM without one, as in unit tests): the table beside it still has every point.
    container.replaceChildren()
    return
  }
  if (!observer && typeof ResizeObserver !== "undefined") {
    observer = new ResizeObserver(() => chart?.setSize(sizeOf(container)))
    observer.observe(container)
  }
}
