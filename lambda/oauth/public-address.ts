/**
 * Is an IP address on the public internet? The SSRF fence for fetches to URLs chosen by strangers.
 *
 * Built from the IANA IPv4 and IPv6 Special-Purpose Address Registries (RFC 6890 and its updates), plus the ranges
 * that are not in them but are never a public web server: multicast, the deprecated site-local and
 * IPv4-compatible forms, and SIIT's IPv4-translated form. Every entry is refused, even the few the registry marks
 * "globally reachable" (AS112, AMT, NAT64's well-known prefix): no client publishes its metadata there, and an
 * address that embeds an IPv4 address could lead back to a private one.
 *
 * Addresses are compared as 128-bit numbers, so every spelling of one address (`::ffff:127.0.0.1`,
 * `::ffff:7f00:1`, `0:0:0:0:0:ffff:7f00:1`) is the same number. IPv4 addresses are judged as their IPv4-mapped
 * IPv6 form. On top of the denylist, an IPv6 address must be in 2000::/3, the only global unicast space IANA
 * allocates, so a range missing from the list below still fails closed.
 */
import { isIP } from 'node:net';

interface Range {
  readonly base: bigint;
  readonly bits: number;
  readonly name: string;
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** The 128-bit value of an address that `net.isIP` accepts, or undefined. IPv4 becomes ::ffff:a.b.c.d. */
export function addressValue(address: string): bigint | undefined {
  const family = isIP(address);
  if (family === 4) return MAPPED_PREFIX | ipv4Value(address);
  if (family !== 6) return undefined;
  // A zone (fe80::1%eth0) names an interface, not part of the address.
  const bare = address.replace(/%.*$/, '');
  const halves = bare.split('::');
  const groups = (part: string): bigint[] => {
    if (part === '') return [];
    const out: bigint[] = [];
    for (const piece of part.split(':')) {
      if (piece.includes('.')) {
        const v4 = ipv4Value(piece);
        out.push(v4 >> 16n, v4 & 0xffffn);
      } else {
        out.push(BigInt(`0x${piece}`));
      }
    }
    return out;
  };
  const head = groups(halves[0]!);
  const tail = halves.length > 1 ? groups(halves[1]!) : [];
  const all = halves.length > 1 ? [...head, ...Array<bigint>(8 - head.length - tail.length).fill(0n), ...tail] : head;
  if (all.length !== 8) return undefined;
  return all.reduce((acc, g) => (acc << 16n) | g, 0n);
}

function ipv4Value(address: string): bigint {
  return address.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function v6(cidr: string, name: string): Range {
  const [net, bits] = cidr.split('/') as [string, string];
  const base = addressValue(net);
  if (base === undefined) throw new Error(`bad range ${cidr}`);
  return { base, bits: Number(bits), name };
}

/** An IPv4 range, as the IPv4-mapped IPv6 range it is compared in. */
function v4(cidr: string, name: string): Range {
  const [net, bits] = cidr.split('/') as [string, string];
  return { base: MAPPED_PREFIX | ipv4Value(net), bits: 96 + Number(bits), name };
}

/**
 * The ranges, built on first use: only the client-metadata fetch needs them, and building them (net.isIP compiles
 * its IPv6 pattern on first call) would add ~3 ms to every Lambda cold start.
 */
function registry(): { ipv4: readonly Range[]; ipv6: readonly Range[]; globalUnicast: Range; mapped: Range } {
  return (built ??= { ipv4: ipv4Special(), ipv6: ipv6Special(), globalUnicast: v6('2000::/3', 'global unicast (RFC 4291)'), mapped: v6('::ffff:0:0/96', 'IPv4-mapped') });
}
let built: ReturnType<typeof registry> | undefined;

/** IANA IPv4 Special-Purpose Address Registry, plus multicast and the broadcast-adjacent reserved block. */
const ipv4Special = (): Range[] => [
  v4('0.0.0.0/8', '"this network" (RFC 791)'),
  v4('10.0.0.0/8', 'private use (RFC 1918)'),
  v4('100.64.0.0/10', 'shared address space / carrier-grade NAT (RFC 6598)'),
  v4('127.0.0.0/8', 'loopback (RFC 1122)'),
  v4('169.254.0.0/16', 'link-local, cloud metadata services (RFC 3927)'),
  v4('172.16.0.0/12', 'private use (RFC 1918)'),
  v4('192.0.0.0/24', 'IETF protocol assignments (RFC 6890), incl. DS-Lite and NAT64 discovery'),
  v4('192.0.2.0/24', 'documentation TEST-NET-1 (RFC 5737)'),
  v4('192.31.196.0/24', 'AS112-v4 (RFC 7535)'),
  v4('192.52.193.0/24', 'AMT (RFC 7450)'),
  v4('192.88.99.0/24', 'deprecated 6to4 relay anycast (RFC 7526)'),
  v4('192.168.0.0/16', 'private use (RFC 1918)'),
  v4('192.175.48.0/24', 'direct delegation AS112 service (RFC 7534)'),
  v4('198.18.0.0/15', 'benchmarking (RFC 2544)'),
  v4('198.51.100.0/24', 'documentation TEST-NET-2 (RFC 5737)'),
  v4('203.0.113.0/24', 'documentation TEST-NET-3 (RFC 5737)'),
  v4('224.0.0.0/4', 'multicast (RFC 5771)'),
  v4('240.0.0.0/4', 'reserved, incl. limited broadcast 255.255.255.255 (RFC 1112, RFC 919)'),
];

/** IANA IPv6 Special-Purpose Address Registry, plus the forms that embed an IPv4 address and deprecated ranges. */
const ipv6Special = (): Range[] => [
  // ::/96 covers the unspecified address ::, loopback ::1 and every IPv4-compatible address (::7f00:1 = ::127.0.0.1).
  v6('::/96', 'unspecified, loopback and deprecated IPv4-compatible addresses (RFC 4291)'),
  v6('::ffff:0:0:0/96', 'IPv4-translated addresses (RFC 2765), e.g. ::ffff:0:7f00:1'),
  v6('64:ff9b::/96', 'NAT64 well-known prefix (RFC 6052): embeds an IPv4 address'),
  v6('64:ff9b:1::/48', 'NAT64 local-use prefix (RFC 8215)'),
  v6('100::/64', 'discard-only (RFC 6666)'),
  v6('100:0:0:1::/64', 'dummy prefix (RFC 9780)'),
  v6('2001::/23', 'IETF protocol assignments (RFC 2928), incl. Teredo 2001::/32, which embeds an IPv4 address'),
  v6('2001:db8::/32', 'documentation (RFC 3849)'),
  v6('2002::/16', '6to4 (RFC 3056): embeds an IPv4 address; relays deprecated by RFC 7526'),
  v6('2620:4f:8000::/48', 'direct delegation AS112 service (RFC 7534)'),
  v6('3fff::/20', 'documentation (RFC 9637)'),
  v6('5f00::/16', 'segment routing SIDs (RFC 9602)'),
  v6('fc00::/7', 'unique local, incl. the EC2 metadata service fd00:ec2::254 (RFC 4193)'),
  v6('fe80::/10', 'link-local (RFC 4291)'),
  v6('fec0::/10', 'deprecated site-local (RFC 3879)'),
  v6('ff00::/8', 'multicast (RFC 4291)'),
];

function contains(range: Range, value: bigint): boolean {
  const shift = BigInt(128 - range.bits);
  return value >> shift === range.base >> shift;
}

/** The special-purpose range an address falls in (its name), or undefined when the address is public. */
export function specialPurposeRange(address: string): string | undefined {
  const value = addressValue(address);
  if (value === undefined) return 'not an IP address';
  const r = registry();
  // IPv4 and IPv4-mapped IPv6 (::ffff:a.b.c.d): the IPv4 registry decides.
  if (contains(r.mapped, value)) return r.ipv4.find((range) => contains(range, value))?.name;
  const special = r.ipv6.find((range) => contains(range, value));
  if (special) return special.name;
  return contains(r.globalUnicast, value) ? undefined : 'outside global unicast 2000::/3';
}

export function isPublicAddress(address: string): boolean {
  return specialPurposeRange(address) === undefined;
}
