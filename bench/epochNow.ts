/**
 * The clock the pipeline bench's processes share: epoch milliseconds at sub-millisecond resolution,
 * so a time stamped by the customer and one stamped by the provider can be subtracted.
 */
export const epochNow = () => performance.timeOrigin + performance.now()
