// Which relay URLs a customer may make us dial, and the connect-time lookup that refuses names
// resolving to this machine or its network.
import assert from "node:assert/strict"
import type * as dns from "node:dns"
import { isPublicAddress, isPublicRelayUrl, publicOnlyLookup, type ResolvedAddress, whyNotPublicRelay } from "../../src/dvm/publicRelay"

describe("public relays", () => {
  const allowed = [
    "wss://relay.damus.io",
    "wss://nos.lol/",
    "wss://relay.example.com:4443/path?x=1",
    "wss://RELAY.Primal.NET",
    "wss://8.8.8.8",
    "wss://1.1.1.1:443",
    "wss://[2606:4700:4700::1111]",
    "wss://[2001:4860:4860::8888]:7000",
    "wss://[::ffff:8.8.8.8]", // IPv4-mapped public
    "wss://[64:ff9b::808:808]", // NAT64 of 8.8.8.8
    "wss://100.63.255.255", // just below CGNAT
    "wss://100.128.0.1", // just above CGNAT
    "wss://172.15.255.255",
    "wss://172.32.0.1",
    "wss://192.169.0.1",
    "wss://169.253.255.255",
    "wss://11.0.0.1",
    "wss://223.255.255.255",
    "wss://relay.localhost.example.com" // "localhost" only as a whole label at the end
  ]
  for (const url of allowed) {
    it(`allows ${url}`, () => {
      assert.equal(whyNotPublicRelay(url), undefined)
      assert.equal(isPublicRelayUrl(url), true)
    })
  }

  const refused: ReadonlyArray<readonly [string, RegExp]> = [
    ["ws://relay.damus.io", /wss/],
    ["https://relay.damus.io", /wss/],
    ["relay.damus.io", /URL/],
    ["", /URL/],
    ["wss://", /URL/],
    ["wss://user:pw@relay.damus.io", /credentials/],
    ["wss://localhost", /single-label|local/],
    ["wss://localhost:7000", /single-label|local/],
    ["wss://LOCALHOST.", /single-label|local/],
    ["wss://relay.localhost", /local/],
    ["wss://printer.local", /local/],
    ["wss://db.internal", /local/],
    ["wss://nas.lan", /local/],
    ["wss://router.home.arpa", /local/],
    ["wss://box.localdomain", /local/],
    ["wss://intranet", /single-label/],
    ["wss://relay", /single-label/],
    ["wss://127.0.0.1", /IPv4/],
    ["wss://127.0.0.1:7447", /IPv4/],
    ["wss://127.1", /IPv4/], // shorthand
    ["wss://0x7f.1", /IPv4/], // hex
    ["wss://0x7f000001", /IPv4/],
    ["wss://2130706433", /IPv4/], // decimal
    ["wss://017700000001", /IPv4/], // octal
    ["wss://0177.0.0.1", /IPv4/],
    ["wss://127.0.0.1.", /IPv4/], // trailing dot
    ["wss://%31%32%37.0.0.1", /IPv4/], // percent-encoded
    ["wss://0.0.0.0", /IPv4/],
    ["wss://0", /IPv4/],
    ["wss://10.1.2.3", /IPv4/],
    ["wss://172.16.0.1", /IPv4/],
    ["wss://172.31.255.255", /IPv4/],
    ["wss://192.168.1.1", /IPv4/],
    ["wss://169.254.169.254", /IPv4/], // cloud metadata
    ["wss://100.64.0.1", /IPv4/],
    ["wss://100.127.255.255", /IPv4/],
    ["wss://192.0.2.1", /IPv4/],
    ["wss://198.18.0.1", /IPv4/],
    ["wss://224.0.0.1", /IPv4/],
    ["wss://239.255.255.250", /IPv4/],
    ["wss://240.0.0.1", /IPv4/],
    ["wss://255.255.255.255", /IPv4/],
    ["wss://[::1]", /IPv6/],
    ["wss://[::]", /IPv6/],
    ["wss://[0:0:0:0:0:0:0:1]", /IPv6/],
    ["wss://[::ffff:127.0.0.1]", /IPv6/], // IPv4-mapped loopback (URL writes it ::ffff:7f00:1)
    ["wss://[::ffff:7f00:1]", /IPv6/],
    ["wss://[::ffff:10.0.0.1]", /IPv6/],
    ["wss://[::ffff:169.254.169.254]", /IPv6/],
    ["wss://[::127.0.0.1]", /IPv6/], // IPv4-compatible (deprecated)
    ["wss://[64:ff9b::7f00:1]", /IPv6/], // NAT64 of loopback
    ["wss://[fe80::1]", /IPv6/],
    ["wss://[febf::1]", /IPv6/],
    ["wss://[fc00::1]", /IPv6/],
    ["wss://[fd12:3456:789a::1]", /IPv6/],
    ["wss://[ff02::1]", /IPv6/],
    ["wss://[fec0::1]", /IPv6/],
    ["wss://[2001:db8::1]", /IPv6/],
    ["wss://[2002:7f00:1::1]", /IPv6/], // 6to4 wrapping 127.0.0.1
    ["wss://[2001::1]", /IPv6/] // Teredo
  ]
  for (const [url, why] of refused) {
    it(`refuses ${JSON.stringify(url)}`, () => {
      const reason = whyNotPublicRelay(url)
      assert.ok(reason !== undefined, "refused")
      assert.match(reason, why)
      assert.equal(isPublicRelayUrl(url), false)
    })
  }

  it("reads addresses as resolvers write them, IPv4-mapped in either notation", () => {
    for (const address of ["127.0.0.1", "::1", "::ffff:127.0.0.1", "::ffff:7f00:1", "::FFFF:192.168.0.1", "fe80::1%eth0", "10.0.0.1", "0.1.2.3"]) {
      assert.equal(isPublicAddress(address), false, address)
    }
    for (const address of ["8.8.8.8", "::ffff:8.8.8.8", "2606:4700::1111", "2a00:1450:4001:82b::200e"]) {
      assert.equal(isPublicAddress(address), true, address)
    }
    for (const garbage of ["", "localhost", "1:2:3", "1::2::3", "::ffff:999.0.0.1", "12345::", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7::8"]) {
      assert.equal(isPublicAddress(garbage), false, garbage)
    }
  })

  describe("the connect-time lookup", () => {
    const resolverOf = (answers: Record<string, Array<ResolvedAddress>>) =>
      (hostname: string, _options: dns.LookupAllOptions, callback: (error: NodeJS.ErrnoException | null, addresses: Array<ResolvedAddress>) => void) => {
        const found = answers[hostname]
        if (found) callback(null, found)
        else callback(Object.assign(new Error(`getaddrinfo ENOTFOUND ${hostname}`), { code: "ENOTFOUND" }), [])
      }
    const resolver = resolverOf({
      "public.example": [{ address: "93.184.215.14", family: 4 }, { address: "2606:2800:21f:cb07:6820:80da:af6b:8b2c", family: 6 }],
      "rebind.example": [{ address: "127.0.0.1", family: 4 }],
      "mixed.example": [{ address: "93.184.215.14", family: 4 }, { address: "10.0.0.7", family: 4 }],
      "mapped.example": [{ address: "::ffff:192.168.1.1", family: 6 }],
      "empty.example": []
    })
    const lookup = publicOnlyLookup(resolver) as unknown as (
      hostname: string,
      options: dns.LookupOptions,
      callback: (error: NodeJS.ErrnoException | null, address?: unknown, family?: number) => void
    ) => void
    const ask = (hostname: string, options: dns.LookupOptions) =>
      new Promise<{ error: NodeJS.ErrnoException | null; address?: unknown; family?: number }>((resolve) =>
        lookup(hostname, options, (error, address, family) => resolve({ error, address, family })))

    it("passes public answers on, in the form asked for", async () => {
      const one = await ask("public.example", {})
      assert.equal(one.error, null)
      assert.equal(one.address, "93.184.215.14")
      assert.equal(one.family, 4)
      const all = await ask("public.example", { all: true })
      assert.equal(all.error, null)
      assert.deepEqual((all.address as Array<ResolvedAddress>).map((a) => a.address), ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"])
    })

    it("refuses a name with any non-public answer, saying which", async () => {
      for (const name of ["rebind.example", "mixed.example", "mapped.example"]) {
        for (const options of [{}, { all: true }]) {
          const { error } = await ask(name, options)
          assert.ok(error, `${name} refused`)
          assert.equal(error.code, "ENOTPUBLIC")
          assert.match(error.message, /non-public address/)
        }
      }
      assert.equal((await ask("empty.example", {})).error?.code, "ENOTPUBLIC")
    })

    it("passes the resolver's own failure through", async () => {
      assert.equal((await ask("nowhere.example", {})).error?.code, "ENOTFOUND")
    })
  })
})
