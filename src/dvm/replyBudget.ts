/**
 * One budget for every refusal the provider sends (malformed, denied, rate limited, busy): each is a
 * signed event we publish for a stranger, so a flood of requests from many keys must not become a
 * flood of replies. A token bucket: `perMinute` replies a minute, bursts up to the same number.
 * Past it, requests are dropped unanswered and counted.
 */
export const REPLIES_PER_MINUTE = 120

export class ReplyBudget {
  private tokens: number
  private last: number | undefined
  /** Requests dropped unanswered because the budget was spent. */
  dropped = 0

  constructor(private readonly perMinute = REPLIES_PER_MINUTE) {
    this.tokens = perMinute
  }

  /** Takes one reply from the budget; false (and counted) when none is left. */
  take(nowMs: number): boolean {
    if (this.last !== undefined && nowMs > this.last) {
      this.tokens = Math.min(this.perMinute, this.tokens + ((nowMs - this.last) * this.perMinute) / 60_000)
    }
    this.last = Math.max(this.last ?? nowMs, nowMs)
    if (this.tokens >= 1) {
      this.tokens -= 1
      return true
    }
    this.dropped++
    return false
  }
}
