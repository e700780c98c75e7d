import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';

// SSRF guard for webhook targets (docs/webhooks.md). By default a target must
// be https and every address its host resolves to must be public; private,
// loopback, link-local (cloud metadata 169.254.169.254), CGNAT, multicast,
// documentation and reserved ranges are refused, at creation and again at each
// delivery. The sender connects to the address checked here (it passes it as
// the socket's lookup result), so a name that resolves to a public address for
// the check and a private one for the connection (DNS rebinding) cannot pass.
// `allowPrivate` (RUNLEDGER_WEBHOOK_ALLOW_PRIVATE) lifts both rules, for
// development and tests, except for cloud metadata addresses: those stay refused.

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12],
  ['192.0.0.0', 24], ['192.0.2.0', 24], ['192.88.99.0', 24], ['192.168.0.0', 16], ['198.18.0.0', 15], ['198.51.100.0', 24],
  ['203.0.113.0', 24], ['224.0.0.0', 4], ['240.0.0.0', 4],
] as const) blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128], ['::1', 128], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['100::', 64], ['2001::', 23],
  ['2001:db8::', 32], ['2002::', 16], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['ff00::', 8],
] as const) blocked.addSubnet(net, prefix, 'ipv6');

// Cloud instance metadata services hand out credentials: refused even when
// private targets are allowed (link-local 169.254/16 with AWS, GCP, Azure and
// OCI's 169.254.169.254; AWS's IPv6 fd00:ec2::254; Alibaba's 100.100.100.200;
// OCI's 192.0.0.192).
const metadata = new BlockList();
metadata.addSubnet('169.254.0.0', 16, 'ipv4');
metadata.addAddress('100.100.100.200', 'ipv4');
metadata.addAddress('192.0.0.192', 'ipv4');
metadata.addSubnet('fd00:ec2::', 32, 'ipv6');

export function isMetadataAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(address)?.[1];
    if (mapped) return isMetadataAddress(isIP(mapped) === 4 ? mapped : hexToV4(mapped));
  }
  return metadata.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

// (BlockList matches IPv4 rules against IPv4-mapped IPv6 addresses too, so a
// ::ffff:0:0/96 rule would block every IPv4 address: mapped ones are unwrapped.)
export function isPublicAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 0) return false;
  if (family === 6) {
    const mapped = /^(?:0{0,4}:){0,5}:?ffff:(.+)$/i.exec(address)?.[1];
    if (mapped) return isPublicAddress(isIP(mapped) === 4 ? mapped : hexToV4(mapped));
  }
  return !blocked.check(address, family === 4 ? 'ipv4' : 'ipv6');
}

// "7f00:1" (the hex form of a mapped address) → "127.0.0.1"
function hexToV4(hex: string): string {
  const m = /^([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(hex);
  if (!m) return 'invalid';
  const a = parseInt(m[1]!, 16);
  const b = parseInt(m[2]!, 16);
  return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
}

export type Target = { url: URL; target: string };
export type Resolved = { address: string; family: 4 | 6 };

export class TargetRefused extends Error {
  constructor(message: string, readonly reason: string) {
    super(message);
  }
}

// Syntax and scheme only (no DNS): what a URL must look like to be stored.
export function parseTarget(raw: string, allowPrivate: boolean): Target {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new TargetRefused('url is not a valid URL', 'invalid_url');
  }
  if (url.protocol !== 'https:' && !(allowPrivate && url.protocol === 'http:')) {
    throw new TargetRefused(allowPrivate ? 'url must be http or https' : 'url must be https', 'scheme');
  }
  if (url.username || url.password) throw new TargetRefused('url must not carry credentials; use headers', 'credentials');
  const port = url.port || (url.protocol === 'https:' ? '443' : '80');
  return { url, target: `${url.hostname.toLowerCase()}:${port}` };
}

// Resolves the host and returns the address to connect to, or refuses.
export async function resolveTarget(url: URL, allowPrivate: boolean): Promise<Resolved> {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  let addresses: Array<{ address: string; family: number }>;
  if (isIP(host)) addresses = [{ address: host, family: isIP(host) }];
  else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new TargetRefused(`host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`, 'unresolvable');
    }
  }
  if (addresses.length === 0) throw new TargetRefused(`host ${host} does not resolve`, 'unresolvable');
  if (!allowPrivate) {
    const bad = addresses.find((a) => !isPublicAddress(a.address));
    // Every address must be public: a client picks any of them.
    if (bad) throw new TargetRefused(`url resolves to a private or reserved address (${bad.address})`, 'private_address');
  }
  // (private ones are refused above already; this holds with allowPrivate too)
  const meta = addresses.find((a) => isMetadataAddress(a.address));
  if (meta) throw new TargetRefused(`url resolves to a cloud metadata address (${meta.address})`, 'metadata_address');
  const first = addresses[0]!;
  return { address: first.address, family: first.family === 6 ? 6 : 4 };
}
