/**
 * Public relays: which relay URLs a stranger (a customer's `relays` tag) may make us dial. Only
 * `wss://` to a public host: no IP literal or name that means this machine, its network or a
 * reserved range. Names are checked again when dialled: `publicOnlyLookup` refuses a name that
 * resolves to a non-public address, and it is the address the socket then connects to (no gap
 * for a DNS answer that changes between a check and the connection).
 */
import * as dns from "node:dns"
import * as net from "node:net"

/** Names that never mean a host on the public internet. */
const PRIVATE_SUFFIXES = [".localhost", ".local", ".internal", ".lan", ".home.arpa", ".localdomain", ".intranet", ".corp", ".home"]

/** Why the URL is not a public relay we may dial for a customer, or undefined when it is one. */
export const whyNotPublicRelay = (url: string): string | undefined => {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    return "not a URL"
  }
  if (parsed.protocol !== "wss:") return "not wss://"
  if (parsed.username !== "" || parsed.password !== "") return "carries credentials"
  const host = parsed.hostname // WHATWG parsing has normalised IPv4 forms (0x7f.1, 2130706433) to dotted quads
  if (host.startsWith("[")) {
    return isPublicAddress(host.slice(1, -1)) ? undefined : "a non-public IPv6 address"
  }
  if (net.isIPv4(host)) return isPublicAddress(host) ? undefined : "a non-public IPv4 address"
  const name = host.replace(/\.+$/, "")
  if (name === "") return "no host"
  if (!name.includes(".")) return "a single-label name"
  if (name === "localhost" || PRIVATE_SUFFIXES.some((suffix) => name.endsWith(suffix))) return "a local name"
  return undefined
}

export const isPublicRelayUrl = (url: string): boolean => whyNotPublicRelay(url) === undefined

/** IPv4 ranges that are not the public internet: [first address, prefix length]. */
const NON_PUBLIC_V4: ReadonlyArray<readonly [string, number]> = [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local (cloud metadata lives here)
  ["172.16.0.0", 12],
  ["192.0.0.0", 24], // IETF protocol assignments
  ["192.0.2.0", 24], // documentation
  ["192.88.99.0", 24], // 6to4 relay anycast
  ["192.168.0.0", 16],
  ["198.18.0.0", 15], // benchmarking
  ["198.51.100.0", 24], // documentation
  ["203.0.113.0", 24], // documentation
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4] // reserved, and broadcast
]

const v4Number = (address: string): number =>
  address.split(".").reduce((n, part) => n * 256 + Number(part), 0)

const inV4Range = (value: number, [first, bits]: readonly [string, number]) =>
  Math.floor(value / 2 ** (32 - bits)) === Math.floor(v4Number(first) / 2 ** (32 - bits))

const isPublicV4 = (value: number) => !NON_PUBLIC_V4.some((range) => inV4Range(value, range))

/** The eight 16-bit groups of an IPv6 address (a dotted IPv4 tail allowed), or undefined. */
const v6Groups = (address: string): Array<number> | undefined => {
  let text = address.toLowerCase().replace(/%.*$/, "") // a zone id names an interface, not an address
  const tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)
  if (tail) {
    if (!net.isIPv4(tail[1] as string)) return undefined
    const v4 = v4Number(tail[1] as string)
    text = `${text.slice(0, -(tail[1] as string).length)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`
  }
  const halves = text.split("::")
  if (halves.length > 2) return undefined
  const parse = (part: string) => (part === "" ? [] : part.split(":").map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN)))
  const head = parse(halves[0] as string)
  const rest = halves.length === 2 ? parse(halves[1] as string) : []
  const missing = 8 - head.length - rest.length
  if (halves.length === 1 ? missing !== 0 : missing < 1) return undefined
  const groups = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...rest]
  return groups.some((g) => Number.isNaN(g)) ? undefined : groups
}

const isPublicV6 = (g: ReadonlyArray<number>): boolean => {
  const [g0 = 0, g1 = 0, , , , g5 = 0, g6 = 0, g7 = 0] = g
  const embeddedV4 = g6 * 65536 + g7
  // IPv4-mapped (::ffff:0:0/96) and NAT64 (64:ff9b::/96) reach the IPv4 address inside.
  if (g.slice(0, 5).every((x) => x === 0) && g5 === 0xffff) return isPublicV4(embeddedV4)
  if (g0 === 0x64 && g1 === 0xff9b && g.slice(2, 6).every((x) => x === 0)) return isPublicV4(embeddedV4)
  // Only global unicast (2000::/3) is public; of it, not documentation, 6to4, Teredo or ORCHID.
  if ((g0 & 0xe000) !== 0x2000) return false
  if (g0 === 0x2001 && g1 === 0x0db8) return false
  if (g0 === 0x2002) return false
  if (g0 === 0x2001 && g1 < 0x0200) return false // 2001::/23 IETF protocol assignments (Teredo, ORCHID, …)
  if (g0 === 0x3fff && g1 < 0x1000) return false // 3fff::/20 documentation
  return true
}

/** True when the address (IPv4 or IPv6 text) is on the public internet. */
export const isPublicAddress = (address: string): boolean => {
  if (net.isIPv4(address)) return isPublicV4(v4Number(address))
  const groups = v6Groups(address)
  return groups !== undefined && isPublicV6(groups)
}

export interface ResolvedAddress {
  readonly address: string
  readonly family: number
}

/** A resolver in the shape `dns.lookup` has when asked for every address. */
export type Resolver = (
  hostname: string,
  options: dns.LookupAllOptions,
  callback: (error: NodeJS.ErrnoException | null, addresses: Array<ResolvedAddress>) => void
) => void

const systemResolver: Resolver = (hostname, options, callback) =>
  dns.lookup(hostname, options, (error, addresses) => callback(error, addresses ?? []))

/**
 * A `lookup` for net/tls (and so for `ws`) that fails when any address a name resolves to is not
 * public; otherwise the socket connects to exactly the address returned here.
 */
export const publicOnlyLookup = (resolve: Resolver = systemResolver): net.LookupFunction =>
  ((hostname: string, options: dns.LookupOptions | number, callback: (...args: Array<unknown>) => void) => {
    const asked: dns.LookupOptions = typeof options === "number" ? { family: options } : options ?? {}
    resolve(hostname, { ...asked, all: true }, (error, addresses) => {
      if (error) return callback(error)
      const blocked = addresses.find((a) => !isPublicAddress(a.address))
      const first = addresses[0]
      if (blocked !== undefined || first === undefined) {
        const refusal: NodeJS.ErrnoException = new Error(
          blocked ? `${hostname} resolves to a non-public address (${blocked.address})` : `${hostname} has no address`
        )
        refusal.code = "ENOTPUBLIC"
        return callback(refusal)
      }
      if (asked.all) return callback(null, addresses)
      return callback(null, first.address, first.family)
    })
  }) as unknown as net.LookupFunction
